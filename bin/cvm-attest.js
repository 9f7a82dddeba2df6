#!/usr/bin/env node
// Runs the bundled CLI (built by `npm run build`) for a lean start-up. CommonJS (bin/package.json) so
// that `verify` can load its single CommonJS bundle without the ESM loader; everything else, and
// `verify --help`, goes to the ESM CLI (dist/bundle/cli.mjs).
'use strict';
const argv = process.argv.slice(2);
const full = () => import('../dist/bundle/cli.mjs');
if (argv[0] === 'verify') {
  require('../dist/bundle/verify.cjs').fastVerify(argv.slice(1)).then((code) => {
    if (code === undefined) return full();
    process.exitCode = code;
  });
} else {
  full();
}
