// Runs every scripts/bench/*.mjs in turn; each prints its own figures. `npm run bench -- verify` runs a subset.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
const dir = join(fileURLToPath(import.meta.url), '../bench');
const filters = process.argv.slice(2);
let failed = 0;
for (const f of readdirSync(dir).filter((n) => n.endsWith('.mjs')).sort()) {
  if (filters.length && !filters.some((s) => f.includes(s))) continue;
  console.log(`\n== ${f} ==`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, f)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
