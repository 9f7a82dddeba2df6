// Durable on-disk queue of records waiting for delivery. One file per record, written to a temp
// name, fsynced, renamed, directory fsynced: a crash at any moment leaves each record either fully
// spooled or not spooled at all, never torn. Records leave only when the sink acknowledges them
// (`ack`), so a crash during an upload re-sends them with the same id (at least once). Bounded in
// count and bytes: when full, the oldest are dropped and counted (persisted in `state.json`).
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../base/errors.js';
import { fsyncDir, removeStaleTemps, writeFileAtomic } from '../io/atomic-file.js';

export interface SpoolOptions {
  readonly dir: string;
  /** Most records kept (default 5000). */
  readonly maxRecords?: number;
  /** Most bytes of record files kept (default 16 MiB). */
  readonly maxBytes?: number;
}

export interface SpoolItem {
  /** Destination within the sink (a Logs Ingestion stream name, `syslog`...). */
  readonly stream: string;
  readonly record: Readonly<Record<string, unknown>>;
  /** Stable id kept across re-sends (RecordId / SystemAlertId); random when absent. */
  readonly id?: string;
}

export interface SpoolEntry {
  readonly id: string;
  readonly stream: string;
  readonly record: Readonly<Record<string, unknown>>;
  readonly bytes: number;
}

interface IndexEntry {
  readonly name: string;
  readonly id: string;
  readonly bytes: number;
}

export const DEFAULT_SPOOL_MAX_RECORDS = 5000;
export const DEFAULT_SPOOL_MAX_BYTES = 16 * 1024 * 1024;
const FILE_RE = /^(\d{20})-([A-Za-z0-9-]{1,64})\.json$/;

export class Spool {
  readonly dir: string;
  readonly maxRecords: number;
  readonly maxBytes: number;
  #index: IndexEntry[] = [];
  #bytes = 0;
  #dropped = 0;
  #seq = 0n;
  #chain: Promise<unknown> = Promise.resolve();

  private constructor(opts: SpoolOptions) {
    this.dir = opts.dir;
    this.maxRecords = opts.maxRecords ?? DEFAULT_SPOOL_MAX_RECORDS;
    this.maxBytes = opts.maxBytes ?? DEFAULT_SPOOL_MAX_BYTES;
    if (!Number.isSafeInteger(this.maxRecords) || this.maxRecords < 1)
      throw new InputError('E_SPOOL_LIMIT', `spool maxRecords must be a positive integer, got ${this.maxRecords}`);
    if (!Number.isSafeInteger(this.maxBytes) || this.maxBytes < 1024)
      throw new InputError('E_SPOOL_LIMIT', `spool maxBytes must be an integer >= 1024, got ${this.maxBytes}`);
  }

  /** Opens (creating) a spool directory and indexes what a previous process left in it. */
  static async open(opts: SpoolOptions): Promise<Spool> {
    const s = new Spool(opts);
    await s.#load();
    return s;
  }

  /** Records waiting. */
  get depth(): number {
    return this.#index.length;
  }
  /** Bytes of records waiting. */
  get bytes(): number {
    return this.#bytes;
  }
  /** Records dropped because the spool was full (or unreadable), since the spool was created. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Adds records durably (fsynced before the promise resolves); returns how many old ones were dropped. */
  append(items: readonly SpoolItem[]): Promise<{ dropped: number }> {
    return this.#serial(async () => {
      let dropped = 0;
      for (const item of items) {
        const id = safeId(item.id) ?? randomUUID();
        const body = Buffer.from(JSON.stringify({ v: 1, id, stream: item.stream, record: item.record }));
        if (body.length > this.maxBytes) {
          dropped++;
          this.#dropped++;
          continue;
        }
        const name = `${this.#nextSeq()}-${id}.json`;
        await writeFileAtomic(join(this.dir, name), body, { syncDir: false });
        this.#index.push({ name, id, bytes: body.length });
        this.#bytes += body.length;
      }
      await fsyncDir(this.dir);
      dropped += await this.#enforceLimits();
      return { dropped };
    });
  }

  /** The oldest `limit` records, oldest first. Unreadable files are removed and counted as dropped. */
  list(limit = Number.MAX_SAFE_INTEGER): Promise<SpoolEntry[]> {
    return this.#serial(async () => {
      const out: SpoolEntry[] = [];
      const bad: IndexEntry[] = [];
      for (const e of this.#index) {
        if (out.length >= limit) break;
        try {
          const doc = JSON.parse(await readFile(join(this.dir, e.name), 'utf8')) as { id?: unknown; stream?: unknown; record?: unknown };
          if (typeof doc.stream !== 'string' || typeof doc.record !== 'object' || doc.record === null) throw new Error('bad shape');
          out.push({ id: e.id, stream: doc.stream, record: doc.record as Record<string, unknown>, bytes: e.bytes });
        } catch {
          bad.push(e);
        }
      }
      if (bad.length > 0) {
        this.#dropped += bad.length;
        await this.#saveState();
        await this.#remove(bad);
      }
      return out;
    });
  }

  /** Removes delivered records. Unknown ids are ignored (already acknowledged). */
  ack(ids: Iterable<string>): Promise<void> {
    return this.#serial(async () => {
      const set = new Set(ids);
      const gone = this.#index.filter((e) => set.has(e.id));
      await this.#remove(gone);
    });
  }

  /** Removes records that can never be delivered (rejected by the service) and counts them as dropped. */
  discard(ids: Iterable<string>): Promise<void> {
    return this.#serial(async () => {
      const set = new Set(ids);
      const gone = this.#index.filter((e) => set.has(e.id));
      if (gone.length === 0) return;
      this.#dropped += gone.length;
      await this.#saveState();
      await this.#remove(gone);
    });
  }

  async #load(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    try {
      const st = JSON.parse(await readFile(join(this.dir, 'state.json'), 'utf8')) as { dropped?: unknown };
      if (typeof st.dropped === 'number' && Number.isSafeInteger(st.dropped) && st.dropped >= 0) this.#dropped = st.dropped;
    } catch {
      /* absent or torn: starts at 0 */
    }
    removeStaleTemps(this.dir);
    const names = (await readdir(this.dir)).sort();
    for (const name of names) {
      // Temp names of earlier versions (`.tmp-<pid>-<uuid>`).
      if (name.startsWith('.tmp-')) {
        await unlink(join(this.dir, name)).catch(() => undefined);
        continue;
      }
      const m = FILE_RE.exec(name);
      if (!m) continue;
      const st = await stat(join(this.dir, name)).catch(() => undefined);
      if (!st?.isFile()) continue;
      this.#index.push({ name, id: m[2]!, bytes: st.size });
      this.#bytes += st.size;
      const seq = BigInt(m[1]!);
      if (seq > this.#seq) this.#seq = seq;
    }
    await this.#enforceLimits();
  }

  #nextSeq(): string {
    const now = BigInt(Date.now()) * 1000n;
    this.#seq = now > this.#seq ? now : this.#seq + 1n;
    return this.#seq.toString().padStart(20, '0');
  }

  async #enforceLimits(): Promise<number> {
    let n = 0;
    let bytes = this.#bytes;
    while (this.#index.length - n > this.maxRecords || (bytes > this.maxBytes && this.#index.length - n > 0)) {
      bytes -= this.#index[n]!.bytes;
      n++;
    }
    if (n === 0) return 0;
    // Count first, then delete: a crash in between over-counts, never hides a loss.
    this.#dropped += n;
    await this.#saveState();
    await this.#remove(this.#index.slice(0, n));
    return n;
  }

  async #remove(entries: readonly IndexEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const names = new Set(entries.map((e) => e.name));
    for (const e of entries)
      await unlink(join(this.dir, e.name)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    await fsyncDir(this.dir);
    this.#index = this.#index.filter((e) => !names.has(e.name));
    this.#bytes = this.#index.reduce((a, e) => a + e.bytes, 0);
  }

  async #saveState(): Promise<void> {
    await writeFileAtomic(join(this.dir, 'state.json'), JSON.stringify({ dropped: this.#dropped }), { syncDir: false });
    await fsyncDir(this.dir);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#chain.then(fn, fn);
    this.#chain = p.catch(() => undefined);
    return p;
  }
}

function safeId(id: string | undefined): string | undefined {
  return typeof id === 'string' && /^[A-Za-z0-9-]{1,64}$/.test(id) ? id : undefined;
}
