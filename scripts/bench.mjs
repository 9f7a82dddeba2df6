// Runs every scripts/bench/*.mjs in turn; each prints its own figures. `npm run bench -- verify` runs a subset.
// Figures with a documented floor say `[floor <= L: met]` or `[floor <= L: MISSED]`; a bench that
// misses one (or fails) exits 1, and so does this runner, after a summary naming them. Figures without
// a floor are informational.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
const dir = join(fileURLToPath(import.meta.url), '../bench');
const filters = process.argv.slice(2);
let failed = 0;
const bad = [];
for (const f of readdirSync(dir)
  .filter((n) => n.endsWith('.mjs') && !n.startsWith('_'))
  .sort()) {
  if (filters.length && !filters.some((s) => f.includes(s))) continue;
  console.log(`\n== ${f} ==`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, f)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    bad.push(f);
  }
}
console.log(failed ? `\nbench: ${bad.join(', ')} missed a floor or failed (see its "floors:" line): exit 1` : '\nbench: every floor met');
process.exit(failed ? 1 : 0);
