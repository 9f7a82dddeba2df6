// The TDX inputs of `verify` and `attest`: the TD quote file (raw bytes, base64url text, or IMDS's JSON answer
// {"quote": "..."}), and `--collateral FILE|DIR` (repeatable): every regular file of a folder, each
// opened without following symlinks and read with a cap; what each file is comes from its content.
import { closeSync, constants, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CvmAttestError, InputError } from '../base/errors.js';
import { MAX_COLLATERAL_FILES, type CollateralFile } from '../platform/tdx/collateral.js';
import { MAX_QUOTE_SIZE } from '../platform/tdx/quote.js';

/** Per collateral file (Intel's are a few KiB; the PCK CRL of a large CA well under 1 MiB). */
const MAX_COLLATERAL_FILE = 1024 * 1024;

function readNoFollow(path: string, what: string, max: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new InputError('E_FILE', `${what} file ${path} cannot be read (${code === 'ELOOP' ? 'a symbolic link: refused' : code})`, { cause: e });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new InputError('E_FILE', `${what} file ${path} is not a regular file`);
    if (st.size > max) throw new InputError('E_FILE_SIZE', `${what} file ${path} is too large (${st.size} bytes, at most ${max})`);
    const buf = Buffer.alloc(Math.min(st.size, max) + 1);
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
      if (n > max) throw new InputError('E_FILE_SIZE', `${what} file ${path} grew past ${max} bytes while read`);
    }
    return buf.subarray(0, n);
  } catch (e) {
    if (e instanceof CvmAttestError) throw e;
    throw new InputError('E_FILE', `${what} file ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
  } finally {
    closeSync(fd);
  }
}

/** Reads every `--collateral` path: a file, or the regular files of a folder (not recursive, dot files skipped). */
export function readCollateralPaths(paths: readonly string[]): CollateralFile[] {
  const out: CollateralFile[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch (e) {
      throw new InputError('E_FILE', `collateral ${p} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
    }
    const names = isDir
      ? readdirSync(p, { withFileTypes: true })
          .filter((d) => d.isFile() && !d.name.startsWith('.'))
          .map((d) => join(p, d.name))
          .sort()
      : [p];
    for (const n of names) {
      if (out.length >= MAX_COLLATERAL_FILES) throw new InputError('E_COLLATERAL', `more than ${MAX_COLLATERAL_FILES} collateral files`);
      out.push({ name: n, bytes: readNoFollow(n, 'collateral', MAX_COLLATERAL_FILE) });
    }
  }
  return out;
}

/** The TD quote: raw bytes as they are; base64url text or IMDS's {"quote": ...} decoded. */
export function readTdQuoteFile(path: string): Uint8Array {
  const b = readNoFollow(path, 'TD quote', MAX_QUOTE_SIZE * 2);
  return decodeTdQuote(b, path);
}

export function decodeTdQuote(b: Uint8Array, name: string): Uint8Array {
  // A DCAP quote starts with version 4 or 5 (u16 LE), never with text.
  if (b.length >= 2 && (b[0] === 4 || b[0] === 5) && b[1] === 0) return b;
  const text = Buffer.from(b).toString('utf8').trim();
  let s = text;
  if (text.startsWith('{')) {
    try {
      const j = JSON.parse(text) as { quote?: unknown };
      if (typeof j.quote !== 'string') throw new Error('no quote');
      s = j.quote;
    } catch {
      throw new InputError('E_TD_QUOTE_FILE', `TD quote file ${name}: JSON without a "quote" string`);
    }
  }
  if (!/^[A-Za-z0-9_+/=-]+$/.test(s)) throw new InputError('E_TD_QUOTE_FILE', `TD quote file ${name} is neither a binary DCAP quote nor base64url text`);
  return new Uint8Array(Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
}
