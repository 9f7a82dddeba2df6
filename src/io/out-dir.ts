// Output folders given by the user (`collect --out`): checked, and created one level at a time, before
// any work is done, so a bad path is one input error (exit 2) rather than a failure after collecting.
// Node's recursive mkdir spins forever under /proc (ENOENT there never resolves), so it is not used.
import { closeSync, mkdirSync, openSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../base/errors.js';
import { escapeTextCapped } from '../base/text-escape.js';

const errno = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));

/** The error every write into an output folder is wrapped in (exit 2, code E_OUT). */
export function outError(what: string, path: string, e: unknown): InputError {
  return new InputError('E_OUT', `${what} ${escapeTextCapped(path, 300)} cannot be written (${errno(e)})`, { cause: e });
}

/**
 * Makes sure `dir` is a folder this process can create files in: creates it and missing parents (one
 * mkdir each), then creates and removes a probe file. Returns the absolute path. InputError E_OUT otherwise.
 */
export function prepareOutDir(dir: string, what = '--out folder'): string {
  const abs = resolve(dir);
  const missing: string[] = [];
  let p = abs;
  for (;;) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw outError(what, abs, e);
      const up = dirname(p);
      if (up === p) throw outError(what, abs, e);
      missing.unshift(p);
      p = up;
      continue;
    }
    if (!st.isDirectory()) {
      const where = p === abs ? 'is' : `is under ${escapeTextCapped(p, 300)}, which is`;
      throw new InputError('E_OUT', `${what} ${escapeTextCapped(abs, 300)} ${where} not a folder`);
    }
    break;
  }
  for (const m of missing) {
    try {
      mkdirSync(m, { mode: 0o755 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw outError(what, abs, e);
    }
  }
  const probe = join(abs, `.cvm-attest-probe.${process.pid}.tmp`);
  try {
    closeSync(openSync(probe, 'wx', 0o600));
    unlinkSync(probe);
  } catch (e) {
    throw outError(what, abs, e);
  }
  return abs;
}
