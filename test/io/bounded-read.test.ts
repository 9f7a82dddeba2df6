// The bounded file reader (src/io/bounded-read.ts): the asynchronous reader and its synchronous twin
// give the same bytes, or the same typed one-line error, for every kind of path an attacker can hand
// over: a regular file, one at and one past the cap, a /proc file whose size reads 0, a FIFO (never a
// hang), a folder, a symbolic link (refused with noFollow, followed without), a missing path.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileBounded, readFileBoundedSync, type BoundedReadOptions } from '../../src/io/bounded-read.js';
import { InputError } from '../../src/base/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'bounded-read-'));
const file = join(dir, 'ten.bin');
writeFileSync(file, Buffer.from('0123456789'));
const fifo = join(dir, 'fifo');
execFileSync('mkfifo', [fifo]);
const link = join(dir, 'link');
symlinkSync(file, link);

type Outcome = { bytes: string } | { code: string; message: string };
const settle = (f: () => Buffer): Outcome => {
  try {
    return { bytes: f().toString('hex') };
  } catch (e) {
    assert.ok(e instanceof InputError, String(e));
    return { code: e.code, message: e.message };
  }
};
const settleAsync = async (f: () => Promise<Buffer>): Promise<Outcome> => {
  try {
    return { bytes: (await f()).toString('hex') };
  } catch (e) {
    assert.ok(e instanceof InputError, String(e));
    return { code: e.code, message: e.message };
  }
};

const cases: [string, string, BoundedReadOptions, (o: Outcome) => void][] = [
  ['a regular file', file, { max: 100, what: 'input' }, (o) => assert.deepEqual(o, { bytes: Buffer.from('0123456789').toString('hex') })],
  ['a file exactly at the cap', file, { max: 10, what: 'input' }, (o) => assert.ok('bytes' in o)],
  ['a file one byte past the cap', file, { max: 9, what: 'input' }, (o) => assert.equal('code' in o && o.code, 'E_FILE_SIZE')],
  ['a /proc file (size 0)', '/proc/self/status', { max: 64 * 1024, what: 'input' }, (o) => assert.ok('bytes' in o && o.bytes.length > 0)],
  ['a FIFO', fifo, { max: 100, what: 'input' }, (o) => assert.equal('code' in o && o.code, 'E_FILE_TYPE')],
  ['a folder', dir, { max: 100, what: 'input' }, (o) => assert.ok('code' in o && o.code === 'E_FILE_TYPE' && /directory/.test(o.message))],
  ['a symlink with noFollow', link, { max: 100, what: 'input', noFollow: true }, (o) => assert.ok('code' in o && /symbolic link/.test(o.message))],
  ['a symlink without noFollow', link, { max: 100, what: 'input' }, (o) => assert.ok('bytes' in o)],
  ['a missing path', join(dir, 'nope'), { max: 100, what: 'input', codes: { missing: 'E_USAGE' } }, (o) => assert.equal('code' in o && o.code, 'E_USAGE')],
];

describe('bounded file reads: async and sync agree', () => {
  for (const [name, path, o, check] of cases) {
    it(name, async () => {
      const sync = settle(() => readFileBoundedSync(path, o));
      check(sync);
      const got = await settleAsync(() => readFileBounded(path, o));
      // /proc/self is the reading process either way; its status text changes between two reads.
      if (path.startsWith('/proc/')) assert.ok('bytes' in got && got.bytes.length > 0);
      else assert.deepEqual(got, sync);
    });
  }
});
