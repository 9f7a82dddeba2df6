// Crash-safe file replacement: a reader sees either the old or the new content, never a torn write.
// Temp file in the same folder (same filesystem, so rename is atomic), fsync, rename, then fsync the
// folder so the rename itself survives a power cut. The one implementation for status, state, spool,
// certificate cache, bundle and report files.
import { randomInt } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { openSync, writeSync, fsyncSync, closeSync, renameSync, unlinkSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** Mode of the new file: 0o600 (the default) for anything private, 0o644 for public files. */
  readonly mode?: number;
  /**
   * fsync the folder after the rename (default true; best effort: some filesystems refuse it). False
   * when the caller writes several files and then calls fsyncDir once.
   */
  readonly syncDir?: boolean;
}

const TEMP_RE = /^\..+\.(\d+)\.\d+\.tmp$/;

// `.<name>.<pid>.<n>.tmp`: hidden, named for its writer (so removeStaleTemps can tell a dead one), and
// random as well as counted so a reused pid never meets a temp a killed writer left ('wx' would refuse it).
let counter = 0;
function tempName(path: string): string {
  counter = (counter + 1) % 1000;
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomInt(1e9) * 1000 + counter}.tmp`);
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const tmp = tempName(path);
  const fh = await open(tmp, 'wx', options.mode ?? 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  if (options.syncDir !== false) await fsyncDir(dirname(path)).catch(() => undefined);
}

/** Synchronous variant for signal handlers, short-lived handler commands and the CLI's report. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const tmp = tempName(path);
  const fd = openSync(tmp, 'wx', options.mode ?? 0o600);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  if (options.syncDir === false) return;
  try {
    const dfd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    /* some filesystems refuse fsync on folders; the rename is still atomic */
  }
}

/** fsyncs a folder so renames and unlinks in it are durable. Throws what the filesystem says. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Removes temp files a writer killed with SIGKILL left behind (`.<name>.<pid>.<n>.tmp`), when that
 * pid is no longer alive. Readers never look at them; this only keeps the folder clean.
 */
export function removeStaleTemps(dir: string): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const n of names) {
    const m = TEMP_RE.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = pid === process.pid;
    if (!alive) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (e) {
        alive = (e as NodeJS.ErrnoException).code === 'EPERM';
      }
    }
    if (alive) continue;
    try {
      unlinkSync(join(dir, n));
      removed++;
    } catch {
      /* raced with another cleaner */
    }
  }
  return removed;
}
