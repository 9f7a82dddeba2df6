// Writes dist/bundle/verify.cjs.cache: V8's code cache for the CommonJS verify bundle, taken after one
// verification so that the functions it runs are in it. bin/cvm-attest.js hands it to vm.Script; V8
// rejects a cache from another Node/V8 version and then simply compiles (correct, a few ms slower).
// Run by scripts/build.mjs in a plain `node` process (the same V8 flags as the CLI).
'use strict';
const { existsSync, readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { Script } = require('node:vm');

const root = join(__dirname, '..');
const file = join(root, 'dist/bundle/verify.cjs');
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`, { filename: file });
const mod = { exports: {} };
script.runInThisContext()(mod.exports, require, mod, file, join(root, 'dist/bundle'));
const dir = join(root, 'test/fixtures/azure-hcl/milan-v3-a');
const warm = existsSync(dir)
  ? (() => {
      const write = process.stdout.write;
      process.stdout.write = () => true;
      return mod.exports.fastVerify(['--evidence', join(dir, 'hcl-report.bin'), '--vcek', join(dir, 'vcek.pem')]).finally(() => { process.stdout.write = write; });
    })()
  : Promise.resolve();
warm.then(() => writeFileSync(`${file}.cache`, script.createCachedData()));
