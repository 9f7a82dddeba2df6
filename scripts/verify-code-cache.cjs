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
      return mod.exports.fastVerify(['--evidence', join(dir, 'hcl-report.bin'), '--vcek', join(dir, 'vcek.pem')]).finally(() => {
        process.stdout.write = write;
      });
    })()
  : Promise.resolve();
// And one Intel TDX verification, so that its functions are in the cache too.
const tdx = join(root, 'test/fixtures/azure-tdx');
const intel = join(root, 'test/fixtures/intel');
const warmTdx = () => {
  if (!existsSync(tdx) || !existsSync(intel)) return Promise.resolve();
  const write = process.stdout.write;
  process.stdout.write = () => true;
  const col = ['tcb_signing_cert.pem', 'tcbinfov3_00806f050000.json', 'qeidentityv2_apiv4.json', 'pck_platform_crl.der', 'intel_root_ca_crl.der'].flatMap(
    (n) => ['--collateral', join(intel, n)],
  );
  return mod.exports
    .fastVerify(['--evidence', join(tdx, 'hcl-report.bin'), '--td-quote', join(tdx, 'td-quote.bin'), ...col, '--now', '2025-03-01T00:00:00Z'])
    .finally(() => {
      process.stdout.write = write;
    });
};
warm.then(warmTdx).then(() => writeFileSync(`${file}.cache`, script.createCachedData()));
