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
import { CollectionError } from '../../src/base/errors.js';
import { IDENTITY, isolateAzureEnv, makeResult, tempDir } from './helpers.js';

let imds: ImdsTokenEmulator;
let li: LogsIngestionEmulator;
const cleanups: (() => Promise<void>)[] = [];
before(async () => {
  imds = await startImdsTokenEmulator();
  isolateAzureEnv(imds.url);
  li = await startLogsIngestionEmulator();
});
after(async () => {
  await li.close();
  await imds.close();
  for (const c of cleanups) await c();
});

async function stateDir(): Promise<string> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}
const azure = (): AzureMonitorClientOptions => ({
  clientOptions: { tlsOptions: { ca: li.ca }, retryOptions: { maxRetries: 0 } },
  credentialOptions: { retryOptions: { maxRetries: 0 } },
});
const am = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  azureMonitor: { endpoint: li.endpoint, dcrImmutableId: li.dcrImmutableId, timeoutMs: 20_000, ...extra },
});

describe('SinkSet end to end', () => {
  test('a run: record and alerts delivered, linked by RecordId; another process sees the state', async () => {
    const dir = await stateDir();
    const sinks = await createSinks(am(), { stateDir: dir, agentVersion: '0.1.0', azure: azure() });
    const r = await sinks.deliver({
      result: makeResult({ failed: [{ id: 'signature', group: 'signature', status: 'fail', reason: 'bad' }] }),
      identity: IDENTITY,
    });
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
    const e = new CollectionError('E_TPM_NO_DEVICE', 'no TPM');
    assert.deepEqual((await sinks.deliver({ error: e })).alerts, []);
    li.setFault({ kind: 'status', status: 503 });
    const r2 = await sinks.deliver({ error: e });
    assert.deepEqual(
      r2.alerts.map((a) => a.AlertType),
      ['CvmAttest_EvidenceUnavailable'],
    );
    assert.equal(r2.deliveries[0]!.status, 'queued');
    assert.equal(r2.deliveries[0]!.queueDepth, 2);
    const other = await createSinks(am(), { stateDir: dir, azure: azure() });
    assert.equal(other.state()[0]!.status, 'queued');
    assert.equal(other.state()[0]!.queueDepth, 2);
    li.setFault(null);
    const [after] = await other.flush();
    assert.equal(after!.status, 'delivered', after!.message);
    assert.ok(li.received(ALERT_STREAM).some((a) => a.SystemAlertId === r2.alerts[0]!.SystemAlertId));
    assert.ok(li.received(RECORD_STREAM).some((x) => x.RecordId === r2.recordId && x.Verdict === 'error' && x.ErrorCode === 'E_TPM_NO_DEVICE'));
  });

  test('after a failed delivery the set retries by itself (backoff with jitter) until delivered; close() stops it', async () => {
    const changes: string[] = [];
    const sinks = await createSinks(am(), {
      stateDir: await stateDir(),
      azure: azure(),
      retry: { baseMs: 40, maxMs: 200 },
      onStateChange: (d) => changes.push(d[0]!.status),
    });
    li.setFault({ kind: 'status', status: 503, times: 3 });
    const r = await sinks.deliver({ result: makeResult(), identity: IDENTITY });
    assert.equal(r.deliveries[0]!.status, 'queued');
    const t0 = Date.now();
    while (sinks.state()[0]!.status !== 'delivered') {
      assert.ok(Date.now() - t0 < 5000, 'retried and delivered within 5 s');
      await new Promise((res) => setTimeout(res, 20));
    }
    assert.equal(li.received(RECORD_STREAM).filter((x) => x.RecordId === r.recordId).length, 1);
    for (let i = 0; i < 100 && changes.at(-1) !== 'delivered'; i++) await new Promise((res) => setTimeout(res, 10));
    assert.equal(changes.at(-1), 'delivered', 'the status is told when the retry timer delivered the queue');
    // Failing again, then closed: no more attempts.
    li.setFault({ kind: 'status', status: 503 });
    await sinks.deliver({ result: makeResult(), identity: IDENTITY });
    await sinks.close();
    const n = li.requests.length;
    await new Promise((res) => setTimeout(res, 400));
    assert.equal(li.requests.length, n, 'no retry after close()');
    li.setFault(null);
  });

  test('records cannot evict alerts: a full record spool still keeps and later delivers every alert; drops are alerted', async () => {
    const dir = await stateDir();
    const sinks = await createSinks(am({ spool: { maxRecords: 2 } }), { stateDir: dir, azure: azure(), retry: false });
    li.setFault({ kind: 'status', status: 503 });
    const raised: string[] = [];
    const runs: string[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        // A different failed check each run: a new AttestationFailed alert each time.
        const r = await sinks.deliver({
          result: makeResult({ failed: [{ id: `check-${i}`, group: 'policy', status: 'fail', reason: 'x' }] }),
          identity: IDENTITY,
        });
        raised.push(...r.alerts.filter((a) => a.AlertType === 'CvmAttest_AttestationFailed').map((a) => a.SystemAlertId));
        runs.push(r.recordId);
        const d = r.deliveries[0]!;
        assert.equal(d.status, 'queued', d.message);
      }
    } finally {
      li.setFault(null);
    }
    assert.equal(raised.length, 5);
    const st = sinks.state()[0]!;
    assert.equal(st.dropped, 3, 'the 3 oldest records were dropped, and counted');
    assert.ok(st.lastDropAt && /record queue full/.test(st.lastDropReason ?? ''), JSON.stringify(st));
    const [after] = await sinks.flush();
    assert.equal(after!.status, 'delivered', after!.message);
    const got = new Set(li.received(ALERT_STREAM).map((a) => String(a.SystemAlertId)));
    for (const id of raised) assert.ok(got.has(id), 'every alert delivered despite the full record spool');
    const dropAlerts = li.received(ALERT_STREAM).filter((a) => a.AlertType === 'CvmAttest_DeliveryDropped' && a.VmId === IDENTITY.vmId);
    assert.ok(dropAlerts.length >= 1, 'the drop raised a DeliveryDropped alert');
    const total = dropAlerts.reduce((n, a) => n + (a.ExtendedProperties as { drops: { dropped: number }[] }).drops[0]!.dropped, 0);
    assert.equal(total, 3, 'each dropped record alerted once');
    assert.deepEqual(
      li
        .received(RECORD_STREAM)
        .filter((x) => runs.includes(String(x.RecordId)))
        .map((x) => x.RecordId),
      runs.slice(3),
    );
    await sinks.close();
  });

  test('a spool that cannot be written is a failed sink (never a vanished one); the alert is raised again once it can', async () => {
    const dir = await stateDir();
    const sinks = await createSinks(am(), { stateDir: dir, azure: azure(), retry: false });
    const { rm: rmp, writeFile: wf } = await import('node:fs/promises');
    const spoolDir = `${dir}/sinks/spool/azure-monitor`;
    // The spool directory replaced by a file: every write fails (as on a read-only or full disk).
    await rmp(spoolDir, { recursive: true, force: true });
    await wf(spoolDir, 'not a directory');
    const bad = { result: makeResult({ failed: [{ id: 'signature', group: 'signature', status: 'fail', reason: 'bad' }] }), identity: IDENTITY };
    const r = await sinks.deliver(bad);
    const d = r.deliveries.find((x) => x.name === 'azureMonitor')!;
    assert.equal(d.status, 'failed', d.message);
    assert.match(d.message, /cannot write the spool: .*(ENOTDIR|EEXIST|not a directory)/i);
    assert.match(d.message, /this run's record and 1 alert\(s\) not kept/);
    const { sinkSubstatus } = await import('../../src/extension/status.js');
    assert.equal(sinkSubstatus(d).status, 'error');
    await rmp(spoolDir, { force: true });
    const { mkdir: mk } = await import('node:fs/promises');
    await mk(spoolDir, { recursive: true });
    const again = await sinks.deliver(bad);
    assert.deepEqual(
      again.alerts.map((a) => a.AlertType),
      ['CvmAttest_AttestationFailed'],
      'alert state unchanged until the alert was spooled',
    );
    assert.equal(again.deliveries[0]!.status, 'delivered', again.deliveries[0]!.message);
    await sinks.close();
  });

  test('failed collections carry the last known VM identity, also in a new process', async () => {
    const dir = await stateDir();
    const first = await createSinks({ ...am(), alerts: { evidenceUnavailableAfter: 1 } }, { stateDir: dir, azure: azure(), retry: false });
    await first.deliver({ result: makeResult(), identity: IDENTITY });
    await first.close();
    const sinks = await createSinks({ ...am(), alerts: { evidenceUnavailableAfter: 1 } }, { stateDir: dir, azure: azure(), retry: false });
    const r = await sinks.deliver({ error: new CollectionError('E_TPM_NO_DEVICE', 'no TPM') });
    const rec = li.received(RECORD_STREAM).find((x) => x.RecordId === r.recordId)!;
    assert.equal(rec.Verdict, 'error');
    assert.equal(rec.VmId, IDENTITY.vmId);
    assert.equal(rec.ResourceId, IDENTITY.resourceId);
    assert.match(JSON.stringify(rec.Warnings), /VM identity from the run of/);
    const alert = li.received(ALERT_STREAM).find((a) => a.SystemAlertId === r.alerts[0]!.SystemAlertId)!;
    assert.equal(alert.AlertType, 'CvmAttest_EvidenceUnavailable');
    assert.equal(alert.VmId, IDENTITY.vmId);
    assert.equal(alert.CompromisedEntity, IDENTITY.name);
    // An identity IMDS gave in the failed run itself wins.
    const other = { ...IDENTITY, vmId: '3dedc52a-6832-46ce-9910-e8c9980bf5a8', name: 'cvm-02' };
    const r2 = await sinks.deliver({ error: new CollectionError('E_TPM_NO_DEVICE', 'no TPM'), identity: other });
    assert.equal(li.received(RECORD_STREAM).find((x) => x.RecordId === r2.recordId)!.VmId, other.vmId);
    await sinks.close();
  });

  test('wording: records and alerts are counted apart', async () => {
    const sinks = await createSinks(am(), { stateDir: await stateDir(), azure: azure(), retry: false });
    const r = await sinks.deliver({
      result: makeResult({ debuggable: true, failed: [{ id: 'policy.debug', group: 'policy', status: 'fail', reason: 'debug' }] }),
      identity: IDENTITY,
    });
    assert.equal(r.alerts.length, 2);
    assert.equal(r.deliveries[0]!.message, '1 record and 2 alerts delivered');
    await sinks.close();
  });

  const UAMI = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-cvm';
  for (const [label, extra, check] of [
    ['user-assigned by resource id', { identity: { resourceId: UAMI } }, (q: ImdsTokenEmulator['requests'][number]) => q.msiResId === UAMI],
    [
      'user-assigned by object id',
      { identity: { objectId: '55555555-5555-5555-5555-555555555555' } },
      (q: ImdsTokenEmulator['requests'][number]) => q.objectId === '55555555-5555-5555-5555-555555555555',
    ],
    [
      'DefaultAzureCredential with a managed identity client id',
      { credential: 'default', identity: { clientId: '66666666-6666-6666-6666-666666666666' } },
      (q: ImdsTokenEmulator['requests'][number]) => q.clientId === '66666666-6666-6666-6666-666666666666',
    ],
  ] as const) {
    test(`${label}: the token comes from IMDS with that selector`, async () => {
      const sinks = await createSinks(am(extra), { stateDir: await stateDir(), azure: azure() });
      const r = await sinks.deliver({ result: makeResult(), identity: IDENTITY });
      assert.equal(r.deliveries[0]!.status, 'delivered', r.deliveries[0]!.message);
      assert.ok(
        imds.requests.some((q) => q.status === 200 && check(q)),
        JSON.stringify(imds.requests.slice(-3)),
      );
    });
  }

  test('no token ever reaches a log line, a status or the spool', async () => {
    const lines: string[] = [];
    const logger = {
      info: (m: string, meta?: object) => lines.push(m + JSON.stringify(meta ?? {})),
      warn: (m: string, meta?: object) => lines.push(m + JSON.stringify(meta ?? {})),
      error: (m: string, meta?: object) => lines.push(m + JSON.stringify(meta ?? {})),
    };
    const dir = await stateDir();
    const sinks = await createSinks(am({ identity: { clientId: '77777777-7777-7777-7777-777777777777' } }), {
      stateDir: dir,
      logger,
      azure: azure(),
      retry: false,
    });
    for (const fault of [
      { kind: 'status', status: 401, code: 'InvalidAuthenticationToken' },
      { kind: 'status', status: 403 },
      { kind: 'status', status: 500 },
      { kind: 'reset' },
    ] as const) {
      li.setFault(fault);
      await sinks.deliver({
        result: makeResult({ failed: [{ id: `c${lines.length}`, group: 'signature', status: 'fail', reason: 'x' }] }),
        identity: IDENTITY,
      });
    }
    li.setFault(null);
    await sinks.flush();
    const { readdir, readFile } = await import('node:fs/promises');
    const files: string[] = [];
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = `${d}/${e.name}`;
        if (e.isDirectory()) await walk(p);
        else files.push(await readFile(p, 'utf8'));
      }
    };
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
