#!/usr/bin/env node
// Runs the bundled CLI (built by `npm run build`) for a lean start-up. CommonJS (bin/package.json) so
// that `verify` loads its single CommonJS bundle, with V8's code cache, without the ESM loader;
// everything else, and `verify --help`, goes to the ESM CLI (dist/bundle/cli.mjs).
'use strict';
const argv = process.argv.slice(2);
const full = () => import('../dist/bundle/cli.mjs');
if (argv[0] === 'verify') {
  loadVerify()
    .fastVerify(argv.slice(1))
    .then((code) => {
      if (code === undefined) return full();
      process.exitCode = code;
    });
} else {
  full();
}

/** require('../dist/bundle/verify.cjs'), compiled with the code cache the build wrote next to it. */
function loadVerify() {
  const { readFileSync } = require('node:fs');
  const { join } = require('node:path');
  const { Script } = require('node:vm');
  const dir = join(__dirname, '../dist/bundle');
  const file = join(dir, 'verify.cjs');
  let cachedData;
  try {
    cachedData = readFileSync(`${file}.cache`);
  } catch {
    cachedData = undefined; // no cache: V8 compiles as usual
  }
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`, { filename: file, cachedData });
  const mod = { exports: {} };
  script.runInThisContext()(mod.exports, require, mod, file, dir);
  return mod.exports;
}
