// Single-instance lock for the worker: an flock(2) on <libDir>/cvm-attest-lock.<handler>/worker.lock.
// The folder is ours alone (created 0700; refused unless it is a real folder owned by our uid with
// no group/other bits), so no other local user can open the file, hold the lock or write who holds
// it. The kernel drops an flock when its holder dies, even by SIGKILL, so a dead holder can never
// keep the lock, and the holder record next to it (holder.json: pid, /proc start time, seq) is only
// believed for a process that is alive with that start time. Node has no flock(): util-linux's
// flock(1), which every Linux distribution ships, locks the descriptor we hand it; the lock belongs
// to the open file description, which stays with us when flock(1) exits.
//
// Versions before this one used an abstract unix socket (`\0cvm-attest-worker-<hash>`), which any
// user can bind: it is only asked (legacyLockHolder) to find and stop an old version's worker.
import { spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { createHash } from 'node:crypto';
import { closeSync, constants, existsSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CvmAttestError, ExitCode } from '../base/errors.js';
import { writeFileAtomicSync } from '../io/atomic-file.js';

/** The lock cannot be used at all (unsafe folder, no flock(1), I/O error): attestation cannot run. */
export class LockError extends CvmAttestError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_WORKER_LOCK', message, ExitCode.Internal, options);
  }
}

export interface LockHolder {
  readonly pid: number;
  readonly startTime: number;
  readonly seq: number;
}

export interface WorkerLock {
  readonly dir: string;
  release(): void;
}

/** One lock folder per installation, shared by all versions: next to the version folders. */
export function workerLockDir(libDir: string, handlerName: string): string {
  return join(libDir, `cvm-attest-lock.${handlerName}`);
}

const FLOCK = ['/usr/bin/flock', '/bin/flock'];

function errno(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}

/**
 * Opens the lock folder (creating it 0700 when absent) and checks it on the open descriptor: a real
 * folder, not a symlink, owned by uid, no group/other bits. Throws LockError naming what is wrong.
 */
function openLockDir(dir: string, uid: number): number {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new LockError(`cannot create the worker lock folder ${dir} (${errno(e)})`);
  }
  let l;
  try {
    l = lstatSync(dir);
  } catch (e) {
    throw new LockError(`cannot stat the worker lock folder ${dir} (${errno(e)})`);
  }
  if (l.isSymbolicLink()) throw new LockError(`the worker lock folder ${dir} is a symbolic link; remove it`);
  if (!l.isDirectory()) throw new LockError(`the worker lock folder ${dir} is not a folder; remove it`);
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (e) {
    throw new LockError(`cannot open the worker lock folder ${dir} (${errno(e)})`);
  }
  const s = fstatSync(fd);
  const bad =
    s.ino !== l.ino || s.dev !== l.dev
      ? 'was replaced while being opened'
      : s.uid !== uid
        ? `is owned by uid ${s.uid}, not ${uid}`
        : (s.mode & 0o077) !== 0
          ? `has mode ${(s.mode & 0o777).toString(8).padStart(4, '0')} (group/other access)`
          : undefined;
  if (bad) {
    closeSync(fd);
    throw new LockError(`the worker lock folder ${dir} ${bad}: refusing it; remove it (it is recreated 0700)`);
  }
  return fd;
}

function readHolder(dir: string): LockHolder | undefined {
  try {
    const o = JSON.parse(readFileSync(join(dir, 'holder.json'), 'utf8')) as Partial<LockHolder>;
    return Number.isInteger(o.pid) && (o.pid as number) > 1 && Number.isInteger(o.seq) && Number.isInteger(o.startTime) ? (o as LockHolder) : undefined;
  } catch {
    return undefined;
  }
}

/** flock(1) on fd: true when locked, false when another open file description holds it. */
function flockNonBlocking(fd: number): boolean {
  const bin = FLOCK.find((p) => existsSync(p));
  if (!bin) throw new LockError('util-linux flock(1) is not installed (/usr/bin/flock): the worker lock cannot be taken');
  const r = spawnSync(bin, ['--nonblock', '--exclusive', '3'], { stdio: ['ignore', 'ignore', 'pipe', fd], timeout: 10_000, encoding: 'utf8' });
  if (r.error) throw new LockError(`${bin}: ${errno(r.error)}`);
  if (r.status === 0) return true;
  if (r.status === 1) return false;
  throw new LockError(`${bin} failed (${r.status ?? r.signal}): ${(r.stderr ?? '').trim().slice(0, 200)}`);
}

/**
 * One attempt: the lock, or who holds it (undefined when the holder has not written its record yet
 * or its record is unreadable). Throws LockError when the lock cannot be used at all.
 */
export function tryWorkerLock(dir: string, self: LockHolder, uid: number): { lock: WorkerLock } | { holder: LockHolder | undefined } {
  const dfd = openLockDir(dir, uid);
  // Paths through /proc/self/fd/<dfd> stay in the folder that was checked, whatever is renamed.
  const inDir = `/proc/self/fd/${dfd}`;
  let fd: number | undefined;
  try {
    try {
      fd = openSync(join(inDir, 'worker.lock'), constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    } catch (e) {
      throw new LockError(`cannot open ${join(dir, 'worker.lock')} (${errno(e)})`);
    }
    const s = fstatSync(fd);
    if (!s.isFile() || s.uid !== uid || (s.mode & 0o077) !== 0)
      throw new LockError(`${join(dir, 'worker.lock')} is not a private regular file of uid ${uid}; remove it`);
    if (!flockNonBlocking(fd)) {
      closeSync(fd);
      fd = undefined;
      closeSync(dfd);
      return { holder: readHolder(dir) };
    }
    try {
      writeFileAtomicSync(join(inDir, 'holder.json'), JSON.stringify(self) + '\n', { mode: 0o600 });
    } catch (e) {
      throw new LockError(`cannot write ${join(dir, 'holder.json')} (${errno(e)})`);
    }
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    closeSync(dfd);
    throw e;
  }
  const lockFd = fd;
  let released = false;
  return {
    lock: {
      dir,
      release() {
        if (released) return;
        released = true;
        // Our record goes first (while we still hold the lock), then the descriptor, which unlocks.
        if (readHolder(dir)?.pid === self.pid) rmSync(join(inDir, 'holder.json'), { force: true });
        closeSync(lockFd);
        closeSync(dfd);
      },
    },
  };
}

/** Who holds the lock, by its record (no attempt to take it); undefined when free or unknown. */
export function lockHolderRecord(dir: string, uid: number): LockHolder | undefined {
  let dfd: number;
  try {
    dfd = openLockDir(dir, uid);
  } catch {
    return undefined;
  }
  closeSync(dfd);
  return readHolder(dir);
}

// ---- the abstract-socket lock of earlier versions (read only) ----

/** The name earlier versions' workers bind (per installation: library folder + handler name). */
export function legacyLockName(libDir: string, handlerName: string): string {
  const h = createHash('sha256').update(`${libDir}\0${handlerName}`).digest('hex').slice(0, 24);
  return `\0cvm-attest-worker-${h}`;
}

/**
 * Asks whoever binds the legacy name for its pid. Anyone can bind it and say anything: the answer
 * is only a candidate, to be checked against /proc (our uid, `handler worker`) by the caller.
 */
export function legacyLockHolder(name: string, timeoutMs = 500): Promise<{ pid: number } | undefined> {
  return new Promise((resolve) => {
    let buf = '';
    const sock = createConnection(name);
    const done = (v: { pid: number } | undefined) => {
      clearTimeout(t);
      sock.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(undefined), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('data', (c: string) => {
      buf += c;
      if (buf.length > 256) done(undefined);
    });
    sock.on('end', () => {
      try {
        const o = JSON.parse(buf) as { pid?: unknown };
        done(Number.isInteger(o.pid) && (o.pid as number) > 1 ? { pid: o.pid as number } : undefined);
      } catch {
        done(undefined);
      }
    });
    sock.on('error', () => done(undefined));
  });
}
