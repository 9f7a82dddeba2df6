// createSinks() as the worker uses it, end to end through the emulators with the real SDK:
// identities (system, client id, resource id, object id, DefaultAzureCredential), records linked to
// their alerts, and the delivery state seen by another process (`cvm-attest status`).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startImdsTokenEmulator, type ImdsTokenEmulator } from '../emulators/imds-token.js';
import { startLogsIngestionEmulator, type LogsIngestionEmulator } from '../emulators/logs-ingestion.js';
import { createSinks } from '../../src/sinks/index.js';
import { ensureImdsBypassesProxy, type AzureMonitorClientOptions } from '../../src/sinks/azure-monitor.js';
import { ALERT_STREAM, RECORD_STREAM } from '../../src/sinks/record.js';
import { CollectionError } from '../../src/errors.js';
import { IDENTITY, isolateAzureEnv, makeResult, tempDir } from './helpers.js';

let imds: ImdsTokenEmulator;
let li: LogsIngestionEmulator;
const cleanups: (() => Promise<void>)[] = [];
before(async () => {
  imds = await startImdsTokenEmulator();
  isolateAzureEnv(imds.url);
  li = await startLogsIngestionEmulator();
});
after(async () => { await li.close(); await imds.close(); for (const c of cleanups) await c(); });

async function stateDir(): Promise<string> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}
const azure = (): AzureMonitorClientOptions => ({ clientOptions: { tlsOptions: { ca: li.ca }, retryOptions: { maxRetries: 0 } }, credentialOptions: { retryOptions: { maxRetries: 0 } } });
const am = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ azureMonitor: { endpoint: li.endpoint, dcrImmutableId: li.dcrImmutableId, timeoutMs: 5000, ...extra } });

describe('SinkSet end to end', () => {
  test('a run: record and alerts delivered, linked by RecordId; another process sees the state', async () => {
    const dir = await stateDir();
    const sinks = await createSinks(am(), { stateDir: dir, agentVersion: '0.1.0', azure: azure() });
    const r = await sinks.deliver({ result: makeResult({ failed: [{ id: 'signature', group: 'signature', status: 'fail', reason: 'bad' }] }), identity: IDENTITY });
    const d = r.deliveries.find((x) => x.name === 'azureMonitor')!;
    assert.equal(d.status, 'delivered', d.message);
    assert.equal(d.queueDepth, 0);
    assert.equal(r.alerts.length, 1);
    const rec = li.received(RECORD_STREAM).find((x) => x.RecordId === r.recordId)!;
    assert.equal(rec.Verdict, 'fail');
    assert.equal(rec.AgentVersion, '0.1.0');
    const alert = li.received(ALERT_STREAM).find((x) => x.SystemAlertId === r.alerts[0]!.SystemAlertId)!;
    assert.equal(alert.RecordId, r.recordId);
    await sinks.close();
    // `cvm-attest status` in another process: same state dir, nothing sent by it.
    const other = await createSinks(am(), { stateDir: dir, azure: azure() });
    const st = other.state().find((x) => x.name === 'azureMonitor')!;
    assert.equal(st.status, 'delivered');
    assert.equal(st.lastDeliveryAt, d.lastDeliveryAt);
    assert.equal(st.queueDepth, 0);
  });

  test('failed collections: records with Verdict error, EvidenceUnavailable on the 2nd (setting), queued state persisted', async () => {
    const dir = await stateDir();
    const sinks = await createSinks({ ...am(), alerts: { evidenceUnavailableAfter: 2 } }, { stateDir: dir, azure: azure() });
    const e = new CollectionError('TPM_UNAVAILABLE', 'no TPM');
    assert.deepEqual((await sinks.deliver({ error: e })).alerts, []);
    li.setFault({ kind: 'status', status: 503 });
    const r2 = await sinks.deliver({ error: e });
    assert.deepEqual(r2.alerts.map((a) => a.AlertType), ['CvmAttest_EvidenceUnavailable']);
    assert.equal(r2.deliveries[0]!.status, 'queued');
    assert.equal(r2.deliveries[0]!.queueDepth, 2);
    const other = await createSinks(am(), { stateDir: dir, azure: azure() });
    assert.equal(other.state()[0]!.status, 'queued');
    assert.equal(other.state()[0]!.queueDepth, 2);
    li.setFault(null);
    const [after] = await other.flush();
    assert.equal(after!.status, 'delivered', after!.message);
    assert.ok(li.received(ALERT_STREAM).some((a) => a.SystemAlertId === r2.alerts[0]!.SystemAlertId));
    assert.ok(li.received(RECORD_STREAM).some((x) => x.RecordId === r2.recordId && x.Verdict === 'error' && x.ErrorCode === 'TPM_UNAVAILABLE'));
  });

  test('after a failed delivery the set retries by itself (backoff with jitter) until delivered; close() stops it', async () => {
    const sinks = await createSinks(am(), { stateDir: await stateDir(), azure: azure(), retry: { baseMs: 40, maxMs: 200 } });
    li.setFault({ kind: 'status', status: 503, times: 3 });
    const r = await sinks.deliver({ result: makeResult(), identity: IDENTITY });
    assert.equal(r.deliveries[0]!.status, 'queued');
    const t0 = Date.now();
    while (sinks.state()[0]!.status !== 'delivered') {
      assert.ok(Date.now() - t0 < 5000, 'retried and delivered within 5 s');
      await new Promise((res) => setTimeout(res, 20));
    }
    assert.equal(li.received(RECORD_STREAM).filter((x) => x.RecordId === r.recordId).length, 1);
    // Failing again, then closed: no more attempts.
    li.setFault({ kind: 'status', status: 503 });
    await sinks.deliver({ result: makeResult(), identity: IDENTITY });
    await sinks.close();
    const n = li.requests.length;
    await new Promise((res) => setTimeout(res, 400));
    assert.equal(li.requests.length, n, 'no retry after close()');
    li.setFault(null);
  });

  const UAMI = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-cvm';
  for (const [label, extra, check] of [
    ['user-assigned by resource id', { identity: { resourceId: UAMI } }, (q: ImdsTokenEmulator['requests'][number]) => q.msiResId === UAMI],
    ['user-assigned by object id', { identity: { objectId: '55555555-5555-5555-5555-555555555555' } }, (q: ImdsTokenEmulator['requests'][number]) => q.objectId === '55555555-5555-5555-5555-555555555555'],
    ['DefaultAzureCredential with a managed identity client id', { credential: 'default', identity: { clientId: '66666666-6666-6666-6666-666666666666' } }, (q: ImdsTokenEmulator['requests'][number]) => q.clientId === '66666666-6666-6666-6666-666666666666'],
  ] as const) {
    test(`${label}: the token comes from IMDS with that selector`, async () => {
      const sinks = await createSinks(am(extra), { stateDir: await stateDir(), azure: azure() });
      const r = await sinks.deliver({ result: makeResult(), identity: IDENTITY });
      assert.equal(r.deliveries[0]!.status, 'delivered', r.deliveries[0]!.message);
      assert.ok(imds.requests.some((q) => q.status === 200 && check(q)), JSON.stringify(imds.requests.slice(-3)));
    });
  }

  test('no token ever reaches a log line, a status or the spool', async () => {
    const lines: string[] = [];
    const logger = { info: (m: string, meta?: object) => lines.push(m + JSON.stringify(meta ?? {})), warn: (m: string, meta?: object) => lines.push(m + JSON.stringify(meta ?? {})), error: (m: string, meta?: object) => lines.push(m + JSON.stringify(meta ?? {})) };
    const dir = await stateDir();
    const sinks = await createSinks(am({ identity: { clientId: '77777777-7777-7777-7777-777777777777' } }), { stateDir: dir, logger, azure: azure(), retry: false });
    for (const fault of [{ kind: 'status', status: 401, code: 'InvalidAuthenticationToken' }, { kind: 'status', status: 403 }, { kind: 'status', status: 500 }, { kind: 'reset' }] as const) {
      li.setFault(fault);
      await sinks.deliver({ result: makeResult({ failed: [{ id: `c${lines.length}`, group: 'signature', status: 'fail', reason: 'x' }] }), identity: IDENTITY });
    }
    li.setFault(null);
    await sinks.flush();
    const { readdir, readFile } = await import('node:fs/promises');
    const files: string[] = [];
    const walk = async (d: string): Promise<void> => { for (const e of await readdir(d, { withFileTypes: true })) { const p = `${d}/${e.name}`; if (e.isDirectory()) await walk(p); else files.push(await readFile(p, 'utf8')); } };
    await walk(dir);
    const haystack = [...lines, JSON.stringify(sinks.state()), ...files].join('\n');
    assert.ok(lines.length > 0);
    assert.ok(imds.issued.length > 0);
    for (const token of imds.issued) {
      assert.ok(!haystack.includes(token), 'a token leaked');
      assert.ok(!haystack.includes(token.split('.')[1]!), 'a token payload leaked');
    }
  });

  test('IMDS bypasses a configured proxy', () => {
    const env: NodeJS.ProcessEnv = { HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: 'localhost' };
    ensureImdsBypassesProxy(env);
    assert.equal(env.NO_PROXY, 'localhost,169.254.169.254');
    ensureImdsBypassesProxy(env);
    assert.equal(env.NO_PROXY, 'localhost,169.254.169.254', 'idempotent');
    const none: NodeJS.ProcessEnv = {};
    ensureImdsBypassesProxy(none);
    assert.equal(none.NO_PROXY, undefined, 'no proxy, nothing changed');
  });
});
