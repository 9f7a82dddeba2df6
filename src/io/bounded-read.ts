// The one way a file input is read (CLI --evidence/--vcek/--policy/..., bundle members, file: replay):
// opened once, the descriptor fstat'ed and required to be a regular file, then read to at most the cap
// from that descriptor (cap + 8 bytes at most: /proc/self/pagemap takes only reads of 8-byte multiples).
// st_size is never trusted (0 for /proc files; a file can grow), a FIFO or a
// device never blocks (opened O_NONBLOCK, refused by its type), and with `noFollow` (attacker-supplied
// paths, bundle members always) a symbolic link is refused rather than followed.
import { close, closeSync, constants, fstat, fstatSync, open, openSync, read, readSync, type Stats } from 'node:fs';
import { InputError, type ErrorCode } from '../base/errors.js';
import { escapeTextCapped } from '../base/text-escape.js';

export interface BoundedReadOptions {
  /** Largest accepted size in bytes; one byte more is refused. */
  readonly max: number;
  /** Names the input in errors, e.g. "policy file" or "bundle file vcek.pem". */
  readonly what: string;
  /** Refuse a symbolic link as the last path component (O_NOFOLLOW). */
  readonly noFollow?: boolean;
  /** Error codes: unreadable/missing (default E_FILE), not a regular file (default E_FILE_TYPE), too large (default E_FILE_SIZE). */
  readonly codes?: { readonly missing?: ErrorCode; readonly type?: ErrorCode; readonly size?: ErrorCode };
}

function flags(noFollow: boolean | undefined): number {
  return constants.O_RDONLY | constants.O_NONBLOCK | (noFollow ? constants.O_NOFOLLOW : 0);
}

function kind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

function openError(path: string, o: BoundedReadOptions, e: unknown): InputError {
  const code = (e as NodeJS.ErrnoException).code ?? String(e);
  const p = escapeTextCapped(path, 300);
  // O_NOFOLLOW on a symlink fails with ELOOP.
  if (o.noFollow && code === 'ELOOP')
    return new InputError(o.codes?.type ?? 'E_FILE_TYPE', `${o.what} ${p} is a symbolic link (refused: it could point outside)`, { cause: e });
  return new InputError(o.codes?.missing ?? 'E_FILE', `${o.what} ${p} cannot be read (${code})`, { cause: e });
}

function typeError(path: string, o: BoundedReadOptions, st: Stats): InputError {
  return new InputError(o.codes?.type ?? 'E_FILE_TYPE', `${o.what} ${escapeTextCapped(path, 300)} is ${kind(st)}, not a regular file`);
}

function sizeError(path: string, o: BoundedReadOptions): InputError {
  return new InputError(o.codes?.size ?? 'E_FILE_SIZE', `${o.what} ${escapeTextCapped(path, 300)} is too large (more than ${o.max} bytes)`);
}

/** Reads a regular file of at most `o.max` bytes; InputError (one line, exit 2) for anything else. */
export function readFileBoundedSync(path: string, o: BoundedReadOptions): Buffer {
  let fd: number;
  try {
    fd = openSync(path, flags(o.noFollow));
  } catch (e) {
    throw openError(path, o, e);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw typeError(path, o, st);
    const buf = Buffer.allocUnsafe(o.max + 8);
    let n = 0;
    for (;;) {
      let got: number;
      try {
        got = readSync(fd, buf, n, buf.length - n, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue; // regular files do not, but be safe
        throw openError(path, o, e);
      }
      if (got === 0) break;
      n += got;
      if (n > o.max) throw sizeError(path, o);
    }
    return Buffer.from(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

// node:fs's callback API, not node:fs/promises: loading that module (it brings readline and the fs
// watchers with it) cost `verify` 2.5 ms of its start-up, for two file reads.
const openAsync = (path: string, f: number): Promise<number> => new Promise((resolve, reject) => open(path, f, (e, fd) => (e ? reject(e) : resolve(fd))));
const fstatAsync = (fd: number): Promise<Stats> => new Promise((resolve, reject) => fstat(fd, (e, st) => (e ? reject(e) : resolve(st))));
const readAsync = (fd: number, buf: Buffer, offset: number): Promise<number> =>
  new Promise((resolve, reject) => read(fd, buf, offset, buf.length - offset, null, (e, n) => (e ? reject(e) : resolve(n))));
const closeAsync = (fd: number): Promise<void> => new Promise((resolve) => close(fd, () => resolve()));

/** The asynchronous twin of readFileBoundedSync. */
export async function readFileBounded(path: string, o: BoundedReadOptions): Promise<Buffer> {
  let fd: number;
  try {
    fd = await openAsync(path, flags(o.noFollow));
  } catch (e) {
    throw openError(path, o, e);
  }
  try {
    const st = await fstatAsync(fd);
    if (!st.isFile()) throw typeError(path, o, st);
    const buf = Buffer.allocUnsafe(o.max + 8);
    let n = 0;
    for (;;) {
      let got: number;
      try {
        got = await readAsync(fd, buf, n);
      } catch (e) {
        throw openError(path, o, e);
      }
      if (got === 0) break;
      n += got;
      if (n > o.max) throw sizeError(path, o);
    }
    return Buffer.from(buf.subarray(0, n));
  } finally {
    await closeAsync(fd);
  }
}
