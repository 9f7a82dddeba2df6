// state/last-result.json: written atomically by the worker, read back by `status` and the demo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastResult, lastResultPath, readLastResult, writeLastResult, LastResultError, MAX_LAST_RESULT_BYTES } from '../../src/extension/last-result.js';
import { ParseError } from '../../src/base/errors.js';
import { makeResult } from '../sinks/helpers.js';

const dir = (): string => mkdtempSync(join(tmpdir(), 'cvm-attest-last-result-'));

test('written atomically (no temp file left, owner-only) and read back as written', (t) => {
  const d = dir();
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const r = lastResult({
    seq: 7,
    at: new Date('2026-03-01T10:00:00Z'),
    result: makeResult({ verdict: 'fail', debuggable: true }),
    warnings: ['w1'],
    deliveries: [{ name: 'azureMonitor', status: 'queued', message: 'HTTP 503', queueDepth: 2, dropped: 1, lastDropAt: '2026-03-01T09:00:00.000Z' }],
    alerts: [{ AlertName: 'DebugEnabled', AlertSeverity: 'High', Description: 'debug' }],
    nextRunAt: new Date('2026-03-01T11:00:00Z'),
  });
  writeLastResult(d, r);
  assert.deepEqual(readdirSync(d), ['last-result.json']);
  assert.equal(statSync(lastResultPath(d)).mode & 0o777, 0o600);
  const back = readLastResult(d);
  assert.deepEqual(back, r);
  assert.equal(back?.verdict, 'fail');
  assert.equal(back?.seq, 7);
  assert.deepEqual(back?.alerts, [{ name: 'DebugEnabled', severity: 'High', description: 'debug' }]);
  // A second run replaces the first whole.
  writeLastResult(d, lastResult({ seq: 8, at: new Date('2026-03-01T11:00:00Z'), error: 'IMDS down', deliveries: [], alerts: [] }));
  const next = readLastResult(d);
  assert.equal(next?.verdict, 'none');
  assert.equal(next?.error, 'IMDS down');
  assert.deepEqual(next?.checks, []);
  assert.deepEqual(readdirSync(d), ['last-result.json']);
});

test('no file yet is no result; a torn, unknown or oversized file is LastResultError (E_LAST_RESULT)', (t) => {
  const d = dir();
  t.after(() => rmSync(d, { recursive: true, force: true }));
  assert.equal(readLastResult(d), undefined);
  const refused = (content: string, why: RegExp) => {
    writeFileSync(lastResultPath(d), content);
    assert.throws(
      () => readLastResult(d),
      (e: unknown) => e instanceof LastResultError && e instanceof ParseError && e.code === 'E_LAST_RESULT' && why.test(e.message),
    );
  };
  refused('{"v":1,"seq":3,"at":"2026-', /not JSON/);
  refused(JSON.stringify({ ...lastResult({ seq: 1, at: new Date(), deliveries: [], alerts: [] }), v: 2 }), /unknown version 2/);
  refused(JSON.stringify({ v: 1, seq: 1, at: 'x', verdict: 'maybe', checks: [], sinks: [], alerts: [], warnings: [] }), /verdict/);
  refused(JSON.stringify({ v: 1, seq: 1, at: 'x', verdict: 'pass', checks: [{ id: 'a' }], sinks: [], alerts: [], warnings: [] }), /check is malformed/);
  refused(' '.repeat(MAX_LAST_RESULT_BYTES + 1), /too large/);
  // A symlink in its place is refused, not followed.
  rmSync(lastResultPath(d));
  const elsewhere = join(d, 'elsewhere.json');
  writeFileSync(elsewhere, JSON.stringify(lastResult({ seq: 1, at: new Date(), deliveries: [], alerts: [] })));
  symlinkSync(elsewhere, lastResultPath(d));
  assert.throws(
    () => readLastResult(d),
    (e: unknown) => e instanceof LastResultError && /symbolic link/.test(e.message),
  );
});
