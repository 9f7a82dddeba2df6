// On-disk cache of TDX collateral, one folder per FMSPC and PCK CA, filled from PCS: refreshed before
// the earliest nextUpdate of what it holds, and kept (with a warning) when PCS cannot be reached.
// Public data: files 0644, each written atomically; the manifest last, so a crash leaves the old set.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-file.js';
import { parseCollateral, type CollateralFile } from '../platform/tdx/collateral.js';

/** Refresh this long before nextUpdate. */
const REFRESH_MARGIN_MS = 6 * 3600 * 1000;

export interface CachedCollateral {
  readonly files: CollateralFile[];
  readonly fresh: boolean;
  readonly nextUpdate?: Date;
}

export function collateralDir(cacheDir: string, fmspc: string, ca: string): string {
  return join(cacheDir, 'tdx', `${fmspc}-${ca}`);
}

/** The earliest nextUpdate of a collateral set (undefined when it has no dated member). */
export function earliestNextUpdate(files: readonly CollateralFile[]): Date | undefined {
  const c = parseCollateral(files);
  const dates = [
    ...c.tcbInfos.map((t) => t.nextUpdate),
    ...c.qeIdentities.map((q) => q.nextUpdate),
    ...c.crls.flatMap((x) => (x.nextUpdate ? [x.nextUpdate] : [])),
  ];
  return dates.length ? new Date(Math.min(...dates.map((d) => d.getTime()))) : undefined;
}

export async function readCachedCollateral(dir: string, now: Date): Promise<CachedCollateral | undefined> {
  let names: string[];
  try {
    names = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as string[];
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string' && /^[A-Za-z0-9._-]+$/.test(n))) return undefined;
  } catch {
    return undefined;
  }
  try {
    const files = await Promise.all(names.map(async (n) => ({ name: join(dir, n), bytes: new Uint8Array(await readFile(join(dir, n))) })));
    const nextUpdate = earliestNextUpdate(files);
    return { files, fresh: nextUpdate !== undefined && now.getTime() < nextUpdate.getTime() - REFRESH_MARGIN_MS, ...(nextUpdate ? { nextUpdate } : {}) };
  } catch {
    return undefined; // unreadable or unparseable: treated as absent, refetched
  }
}

export async function writeCachedCollateral(dir: string, files: readonly CollateralFile[]): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const names = files.map((f) => f.name.replace(/^.*\//, ''));
  for (let i = 0; i < files.length; i++) await writeFileAtomic(join(dir, names[i]!), files[i]!.bytes, { mode: 0o644 });
  await writeFileAtomic(join(dir, 'manifest.json'), JSON.stringify(names) + '\n', { mode: 0o644 });
}
