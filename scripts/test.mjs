// Runs every test/**/*.test.ts with Node's built-in runner (TypeScript loaded by tsx), files in
// parallel. Pass file paths or substrings to run a subset: `npm run test:only -- tpm`.
// First the set-up (scripts/test-setup.mjs): the Debian packages the tests need, installed or named.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ensurePackages } from './test-setup.mjs';

const root = join(fileURLToPath(import.meta.url), '../..');
const walk = (d) =>
  readdirSync(d).flatMap((n) => {
    const p = join(d, n);
    if (n === 'node_modules' || n === 'fixtures') return [];
    return statSync(p).isDirectory() ? walk(p) : n.endsWith('.test.ts') ? [p] : [];
  });
const setup = ensurePackages();
if (!setup.ok) {
  console.error(setup.line);
  process.exit(1);
}
const filters = process.argv.slice(2);
const files = walk(join(root, 'test'))
  .filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(2);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=3', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, NODE_NO_WARNINGS: '1' },
});
process.exit(r.status ?? 1);
