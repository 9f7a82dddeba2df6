// `npm test`'s static checks, before the suite: the type-check of src, test and scripts (the native
// TypeScript 7 compiler, `typescript7`), ESLint with typed rules (typescript-eslint, on the TypeScript 6
// API it needs), and Prettier's formatting check. Each prints its findings; the first failure stops.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const steps = [
  ['type-check', [join(root, 'node_modules/typescript7/bin/tsc'), '-p', join(root, 'tsconfig.json'), '--noEmit']],
  ['lint', [join(root, 'node_modules/eslint/bin/eslint.js'), '--max-warnings', '0', 'src', 'test', 'scripts']],
  ['format', [join(root, 'node_modules/prettier/bin/prettier.cjs'), '--check', '--log-level', 'warn', '.']],
];
for (const [name, argv] of steps) {
  const t0 = Date.now();
  try {
    execFileSync(process.execPath, argv, { stdio: 'inherit', cwd: root });
  } catch {
    console.error(`check: ${name} failed (see above); \`npm run ${name === 'format' ? 'format' : name === 'lint' ? 'lint' : 'typecheck'}\` runs it alone`);
    process.exit(1);
  }
  console.log(`check: ${name} ok (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
