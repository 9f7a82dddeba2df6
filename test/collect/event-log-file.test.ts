// The event-log reader: through io/bounded-read.ts, so a file whose stat says size 0 (securityfs, /proc)
// is read to its end; missing is undefined; a symlink, a folder or a file past the cap is a CollectionError.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CollectionError } from '../../src/base/errors.js';
import { readEventLogFile } from '../../src/collect/event-log-file.js';

const LOG = join(import.meta.dirname, '../fixtures/eventlog/ubuntu-2404-amd-sevsnp.bin');

describe('readEventLogFile', () => {
  it('reads a real log byte for byte', async () => {
    assert.deepEqual(Buffer.from((await readEventLogFile(LOG))!), readFileSync(LOG));
  });

  it('a file whose size reads 0 (as on securityfs) is read to its end', async () => {
    assert.equal(statSync('/proc/self/status').size, 0, 'the premise: procfs reports size 0');
    const b = await readEventLogFile('/proc/self/status');
    assert.match(Buffer.from(b!).toString('utf8'), /^Name:/);
  });

  it('missing: undefined', async () => {
    const d = mkdtempSync(join(tmpdir(), 'evlog-'));
    assert.equal(await readEventLogFile(join(d, 'none')), undefined);
    assert.equal(await readEventLogFile(join(d, 'none', 'deeper')), undefined);
  });

  it('a symlink, a folder, or more than the cap: CollectionError with its code', async () => {
    const d = mkdtempSync(join(tmpdir(), 'evlog-'));
    symlinkSync(LOG, join(d, 'link'));
    await assert.rejects(
      readEventLogFile(join(d, 'link')),
      (e: unknown) => e instanceof CollectionError && e.code === 'E_EVENTLOG_READ' && /symbolic link/.test(e.message),
    );
    await assert.rejects(readEventLogFile(d), (e: unknown) => e instanceof CollectionError && e.code === 'E_EVENTLOG_READ' && /directory/.test(e.message));
    writeFileSync(join(d, 'big'), Buffer.alloc(101));
    await assert.rejects(readEventLogFile(join(d, 'big'), 100), (e: unknown) => e instanceof CollectionError && e.code === 'E_EVENTLOG_SIZE');
    writeFileSync(join(d, 'exact'), Buffer.alloc(100, 1));
    assert.equal((await readEventLogFile(join(d, 'exact'), 100))!.length, 100);
  });
});
