// On-disk cache of the THIM certificates, keyed by (product, CHIP_ID, REPORTED_TCB) of the report
// they were fetched for. Public certificates: files 0644, written atomically (temp, fsync, rename).
// An entry is fresh for the THIM `cacheControl` seconds; a stale one is still returned (marked) so
// the collector can fall back to it, with a warning, when IMDS fails.
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-file.js';
import type { Product } from '../result/result.js';
import { pemCertificates, formatTcbm, type ThimCertificates } from '../input/thim.js';
import { readFileBounded } from '../io/bounded-read.js';
import { parseJsonBounded } from '../base/bounded-json.js';

export const CACHE_DIR_ENV = 'CVM_ATTEST_CACHE_DIR';
const MAX_ENTRY_BYTES = 64 * 1024;

export interface CacheKey {
  readonly product: Product | undefined;
  readonly chipId: Uint8Array;
  readonly reportedTcb: bigint;
}

export interface CachedCertificates extends ThimCertificates {
  readonly fetchedAt: Date;
}

export interface CacheLookup {
  readonly entry: CachedCertificates;
  /** Within cacheControl of fetchedAt (and not from the future). */
  readonly fresh: boolean;
  readonly ageSeconds: number;
}

/** CVM_ATTEST_CACHE_DIR, else $XDG_CACHE_HOME/cvm-attest/certs, else ~/.cache/cvm-attest/certs. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env[CACHE_DIR_ENV]) return env[CACHE_DIR_ENV];
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'cvm-attest', 'certs');
}

export function cacheFileName(key: CacheKey): string {
  const chip = Buffer.from(key.chipId).toString('hex');
  return `${(key.product ?? 'unknown').toLowerCase()}-${chip}-${formatTcbm(key.reportedTcb).toLowerCase()}.json`;
}

interface StoredEntry {
  format: 'cvm-attest-cert-cache';
  version: 1;
  product: string | null;
  chipId: string;
  reportedTcb: string;
  tcbm: string;
  cacheControlSeconds: number;
  fetchedAt: string;
  vcekPem: string;
  chainPem: string;
}

export class CertificateCache {
  readonly dir: string;
  constructor(dir: string = defaultCacheDir()) {
    this.dir = dir;
  }

  fileFor(key: CacheKey): string {
    return join(this.dir, cacheFileName(key));
  }

  /** The entry for `key`, or undefined when none is usable (absent, unreadable, corrupt, for another key). */
  async get(key: CacheKey, now: Date = new Date()): Promise<CacheLookup | undefined> {
    let text: string;
    try {
      // Bounded, never through a symlink, regular files only: a FIFO or a link planted in the cache is a miss.
      text = (await readFileBounded(this.fileFor(key), { max: MAX_ENTRY_BYTES, what: 'cache entry', noFollow: true })).toString('utf8');
    } catch {
      return undefined;
    }
    let s: Partial<StoredEntry>;
    try {
      s = parseJsonBounded(text, { what: 'cache entry', code: 'E_BUNDLE_FORMAT', maxDepth: 4 }) as Partial<StoredEntry>; // never surfaced: a miss
    } catch {
      return undefined;
    }
    if (s === null || typeof s !== 'object' || s.format !== 'cvm-attest-cert-cache' || s.version !== 1) return undefined;
    // The name is the key, but check the content too: a renamed or hand-edited file must not serve another chip.
    if (s.chipId !== Buffer.from(key.chipId).toString('hex') || s.reportedTcb !== formatTcbm(key.reportedTcb) || s.tcbm !== formatTcbm(key.reportedTcb))
      return undefined;
    if (typeof s.vcekPem !== 'string' || typeof s.chainPem !== 'string' || typeof s.fetchedAt !== 'string') return undefined;
    if (typeof s.cacheControlSeconds !== 'number' || !Number.isFinite(s.cacheControlSeconds) || s.cacheControlSeconds < 0) return undefined;
    try {
      if (pemCertificates(s.vcekPem, 'cached VCEK').length !== 1 || pemCertificates(s.chainPem, 'cached chain').length !== 2) return undefined;
    } catch {
      return undefined;
    }
    const fetchedAt = new Date(s.fetchedAt);
    if (Number.isNaN(fetchedAt.getTime())) return undefined;
    const ageSeconds = (now.getTime() - fetchedAt.getTime()) / 1000;
    return {
      entry: { vcekPem: s.vcekPem, chainPem: s.chainPem, tcbm: key.reportedTcb, cacheControlSeconds: s.cacheControlSeconds, fetchedAt },
      fresh: ageSeconds >= 0 && ageSeconds < s.cacheControlSeconds,
      ageSeconds: Math.max(0, Math.round(ageSeconds)),
    };
  }

  /** Stores certificates for `key`. The caller checked they belong to it (tcbm, hwID). */
  async put(key: CacheKey, certs: ThimCertificates, now: Date = new Date()): Promise<void> {
    const entry: StoredEntry = {
      format: 'cvm-attest-cert-cache',
      version: 1,
      product: key.product ?? null,
      chipId: Buffer.from(key.chipId).toString('hex'),
      reportedTcb: formatTcbm(key.reportedTcb),
      tcbm: formatTcbm(certs.tcbm),
      cacheControlSeconds: certs.cacheControlSeconds,
      fetchedAt: now.toISOString(),
      vcekPem: certs.vcekPem,
      chainPem: certs.chainPem,
    };
    await mkdir(this.dir, { recursive: true, mode: 0o755 });
    await writeFileAtomic(this.fileFor(key), JSON.stringify(entry, null, 2) + '\n', { mode: 0o644 });
  }
}
