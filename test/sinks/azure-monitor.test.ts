// The real LogsIngestionClient + ManagedIdentityCredential against the IMDS token emulator (via
// AZURE_POD_IDENTITY_AUTHORITY_HOST) and the TLS Logs Ingestion emulator, through every fault the
// service and IMDS produce, ending with every record ingested and none lost.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startImdsTokenEmulator, type ImdsTokenEmulator } from '../emulators/imds-token.js';
import { startLogsIngestionEmulator, type LogsIngestionEmulator } from '../emulators/logs-ingestion.js';
import { AzureMonitorSink, type AzureMonitorClientOptions } from '../../src/sinks/azure-monitor.js';
import { parseSinksSettings, type AzureMonitorSettings } from '../../src/sinks/settings.js';
import { ALERT_STREAM, RECORD_STREAM, buildRecord, type LogRecord } from '../../src/sinks/record.js';
import { IDENTITY, isolateAzureEnv, makeResult, tempDir } from './helpers.js';

let imds: ImdsTokenEmulator;
let li: LogsIngestionEmulator;
const cleanups: (() => Promise<void>)[] = [];
let n = 0;

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

// A generous deadline: the first flush loads the SDK and fetches a token, slow on a loaded machine.
function settings(extra: Record<string, unknown> = {}): AzureMonitorSettings {
  return parseSinksSettings({ azureMonitor: { endpoint: li.endpoint, dcrImmutableId: li.dcrImmutableId, timeoutMs: 20_000, ...extra } }).azureMonitor!;
}
async function sink(extra: Record<string, unknown> = {}, opts: AzureMonitorClientOptions = {}): Promise<AzureMonitorSink> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  return AzureMonitorSink.create(settings(extra), {
    stateDir: t.dir,
    clientOptions: { tlsOptions: { ca: li.ca }, retryOptions: { maxRetries: 0 } },
    credentialOptions: { retryOptions: { maxRetries: 0 } },
    ...opts,
  });
}
function records(count: number): LogRecord[] {
  return Array.from({ length: count }, () => buildRecord({ result: makeResult(), identity: IDENTITY }, { agentVersion: '0.1.0' }));
}
const ids = (rs: readonly Record<string, unknown>[]): string[] => rs.map((r) => String(r.RecordId ?? r.SystemAlertId));
function countOf(stream: string, id: string): number {
  return li.received(stream).filter((r) => r.RecordId === id || r.SystemAlertId === id).length;
}
function alert(): LogRecord {
  n++;
  const t = new Date().toISOString();
  return {
    TimeGenerated: t,
    SystemAlertId: crypto.randomUUID(),
    AlertName: `test ${n}`,
    AlertType: 'CvmAttest_Test',
    AlertSeverity: 'Low',
    Description: 'd',
    RemediationSteps: ['x'],
    CompromisedEntity: 'cvm-01',
    StartTime: t,
    EndTime: t,
    ProductName: 'cvm-attest',
    VendorName: 'cvm-attest',
    ExtendedProperties: {},
  };
}

describe('Azure Monitor sink with the real SDK', () => {
  test('records and alerts reach their streams with a managed identity token for https://monitor.azure.com', async () => {
    const s = await sink({ identity: { clientId: '11111111-1111-1111-1111-111111111111' } });
    const rs = records(3);
    const as = [alert(), alert()];
    await s.enqueue(rs, as);
    assert.equal(s.state().queueDepth, 5);
    const st = await s.flush();
    assert.equal(st.status, 'delivered', st.message);
    assert.equal(st.message, '3 records and 2 alerts delivered');
    assert.equal(st.queueDepth, 0);
    assert.ok(st.lastDeliveryAt);
    for (const id of ids(rs)) assert.equal(countOf(RECORD_STREAM, id), 1);
    for (const id of ids(as)) assert.equal(countOf(ALERT_STREAM, id), 1);
    const got = li.received(RECORD_STREAM).find((r) => r.RecordId === rs[0]!.RecordId);
    assert.deepEqual(got, JSON.parse(JSON.stringify(rs[0])));
    const tokenReq = imds.requests.find((r) => r.clientId === '11111111-1111-1111-1111-111111111111' && r.status === 200);
    assert.ok(tokenReq, 'token fetched from the IMDS emulator with the client id');
    assert.equal(tokenReq.resource?.replace(/\/$/, ''), 'https://monitor.azure.com');
    assert.ok(tokenReq.metadataHeader);
  });

  test('429 with Retry-After is obeyed by the SDK and the records arrive once', async () => {
    const s = await sink({}, { clientOptions: { tlsOptions: { ca: li.ca }, retryOptions: { maxRetries: 3, retryDelayInMs: 5, maxRetryDelayInMs: 20 } } });
    const rs = records(2);
    await s.enqueue(rs, []);
    li.setFault({ kind: 'status', status: 429, retryAfterSeconds: 1, code: 'TooManyRequests', times: 1 });
    const t0 = Date.now();
    const st = await s.flush();
    assert.equal(st.status, 'delivered', st.message);
    assert.ok(Date.now() - t0 >= 900, 'waited for Retry-After');
    for (const id of ids(rs)) assert.equal(countOf(RECORD_STREAM, id), 1);
  });

  test('500s keep records spooled; recovery delivers each exactly once', async () => {
    const s = await sink();
    const rs = records(4);
    await s.enqueue(rs, []);
    li.setFault({ kind: 'status', status: 500, code: 'InternalServerError' });
    let st = await s.flush();
    assert.equal(st.status, 'queued');
    assert.equal(st.queueDepth, 4);
    assert.match(st.message, /HTTP 500/);
    st = await s.flush();
    assert.equal(st.queueDepth, 4);
    li.setFault(null);
    st = await s.flush();
    assert.equal(st.status, 'delivered', st.message);
    for (const id of ids(rs)) assert.equal(countOf(RECORD_STREAM, id), 1);
  });

  test('only the failed batch is re-sent', async () => {
    // ~1.3 MB of records: two batches; the second fails once.
    const big = Array.from({ length: 10 }, () => ({ ...records(1)[0]!, Claims: { pad: 'x'.repeat(130_000) } }));
    const s = await sink();
    await s.enqueue(big, []);
    li.setFault({ kind: 'status', status: 503, skip: 1, times: 1 });
    let st = await s.flush();
    assert.equal(st.status, 'queued', st.message);
    assert.ok(st.queueDepth > 0 && st.queueDepth < 10, `some acknowledged, some waiting (${st.queueDepth})`);
    st = await s.flush();
    assert.equal(st.status, 'delivered', st.message);
    for (const id of ids(big)) assert.equal(countOf(RECORD_STREAM, id), 1, 'each record exactly once');
  });

  test('413 from the service bisects the batch until it fits', async () => {
    const small = await startLogsIngestionEmulator({ maxBytes: 16 * 1024 });
    try {
      const t = await tempDir();
      cleanups.push(t.cleanup);
      const s = await AzureMonitorSink.create(
        parseSinksSettings({ azureMonitor: { endpoint: small.endpoint, dcrImmutableId: small.dcrImmutableId } }).azureMonitor!,
        {
          stateDir: t.dir,
          clientOptions: { tlsOptions: { ca: small.ca }, retryOptions: { maxRetries: 0 } },
        },
      );
      const rs = records(40);
      await s.enqueue(rs, []);
      const st = await s.flush();
      assert.equal(st.status, 'delivered', st.message);
      assert.ok(
        small.requests.some((r) => r.status === 413),
        'the emulator did answer 413',
      );
      const got = small.received(RECORD_STREAM).map((r) => r.RecordId);
      assert.deepEqual([...got].sort(), ids(rs).sort());
    } finally {
      await small.close();
    }
  });

  test('a record the DCR rejects is dropped and counted; the others arrive', async () => {
    const s = await sink();
    const rs = records(5);
    const bad: LogRecord = { ...records(1)[0]!, NotAColumn: 'x' };
    await s.enqueue([...rs.slice(0, 2), bad, ...rs.slice(2)], []);
    const st = await s.flush();
    assert.equal(st.queueDepth, 0);
    assert.equal(st.dropped, 1);
    assert.match(st.message, /1 dropped/);
    for (const id of ids(rs)) assert.equal(countOf(RECORD_STREAM, id), 1);
    assert.equal(countOf(RECORD_STREAM, String(bad.RecordId)), 0);
  });

  test('request-level 400 (DCR schema drift): nothing dropped, status failed with the service message, a few requests only', async () => {
    const s = await sink();
    const rs = records(6);
    const as = [alert()];
    await s.enqueue(rs, as);
    li.setFault({ kind: 'status', status: 400, code: 'InvalidStream', message: 'Stream Custom-CvmAttestation does not match the DCR schema' });
    const before = li.requests.length;
    const st = await s.flush();
    li.setFault(null);
    assert.equal(st.status, 'failed', st.message);
    assert.match(st.message, /HTTP 400 InvalidStream: Stream Custom-CvmAttestation does not match the DCR schema/);
    assert.equal(st.queueDepth, 7, 'every record and alert kept');
    assert.equal(st.dropped ?? 0, 0);
    assert.ok(li.requests.length - before <= 6, `at most 3 requests per stream (${li.requests.length - before})`);
    const again = await s.flush();
    assert.equal(again.status, 'delivered', again.message);
    for (const id of ids(rs)) assert.equal(countOf(RECORD_STREAM, id), 1);
    assert.equal(countOf(ALERT_STREAM, ids(as)[0]!), 1);
  });

  test('413 for a single small record (a smaller limit on the path) drops nothing', async () => {
    const tiny = await startLogsIngestionEmulator({ maxBytes: 300 });
    try {
      const t = await tempDir();
      cleanups.push(t.cleanup);
      const s = await AzureMonitorSink.create(
        parseSinksSettings({ azureMonitor: { endpoint: tiny.endpoint, dcrImmutableId: tiny.dcrImmutableId } }).azureMonitor!,
        {
          stateDir: t.dir,
          clientOptions: { tlsOptions: { ca: tiny.ca }, retryOptions: { maxRetries: 0 } },
        },
      );
      await s.enqueue(records(8), []);
      const st = await s.flush();
      assert.equal(st.status, 'failed', st.message);
      assert.match(st.message, /HTTP 413 ContentLengthLimitExceeded/);
      assert.equal(st.queueDepth, 8);
      assert.equal(st.dropped ?? 0, 0);
      assert.ok(tiny.requests.length <= 5, `bisects down one side only (${tiny.requests.length} requests)`);
    } finally {
      await tiny.close();
    }
  });

  test('a record the service refuses is dropped only once other records of its stream got through', async () => {
    const s = await sink();
    const [bad] = records(1);
    await s.enqueue([bad!], []);
    li.setFault({ kind: 'reject-records', ids: [String(bad!.RecordId)] });
    try {
      let st = await s.flush();
      assert.equal(st.status, 'failed', 'alone, a 400 proves nothing about the record');
      assert.match(st.message, /HTTP 400 InvalidRecord/);
      assert.equal(st.queueDepth, 1);
      assert.equal(st.dropped ?? 0, 0);
      const good = records(3);
      await s.enqueue(good, []);
      st = await s.flush();
      assert.equal(st.status, 'delivered', st.message);
      assert.equal(st.queueDepth, 0);
      assert.equal(st.dropped, 1);
      assert.match(st.message, /3 records delivered; 1 dropped: HTTP 400 InvalidRecord/);
      for (const id of ids(good)) assert.equal(countOf(RECORD_STREAM, id), 1);
      assert.equal(countOf(RECORD_STREAM, String(bad!.RecordId)), 0);
    } finally {
      li.setFault(null);
    }
  });

  test('403 (no role on the DCR) is a failed status; records wait for the role', async () => {
    const s = await sink();
    const rs = records(2);
    await s.enqueue(rs, [alert()]);
    li.setFault({ kind: 'status', status: 403, code: 'OperationFailed' });
    let st = await s.flush();
    assert.equal(st.status, 'failed');
    assert.match(st.message, /403/);
    assert.equal(st.queueDepth, 3);
    li.setFault(null);
    st = await s.flush();
    assert.equal(st.status, 'delivered', st.message);
    for (const id of ids(rs)) assert.equal(countOf(RECORD_STREAM, id), 1);
  });

  test('a hang past the deadline returns on time; the next flush delivers', async () => {
    const s = await sink({ timeoutMs: 400 });
    const rs = records(2);
    await s.enqueue(rs, []);
    li.setFault({ kind: 'hang', times: 1 });
    const t0 = Date.now();
    let st = await s.flush();
    const took = Date.now() - t0;
    assert.ok(took >= 380 && took < 2000, `deadline kept (${took} ms)`);
    assert.equal(st.status, 'queued');
    assert.match(st.message, /deadline/);
    assert.equal(st.queueDepth, 2);
    st = await s.flush();
    assert.equal(st.status, 'delivered', st.message);
    for (const id of ids(rs)) assert.ok(countOf(RECORD_STREAM, id) >= 1);
  });

  test('connection resets: retried by the SDK, or kept and re-sent', async () => {
    const retrying = await sink(
      {},
      { clientOptions: { tlsOptions: { ca: li.ca }, retryOptions: { maxRetries: 3, retryDelayInMs: 5, maxRetryDelayInMs: 20 } } },
    );
    const a = records(2);
    await retrying.enqueue(a, []);
    li.setFault({ kind: 'reset', times: 2 });
    let st = await retrying.flush();
    assert.equal(st.status, 'delivered', st.message);
    const once = await sink();
    const b = records(2);
    await once.enqueue(b, []);
    li.setFault({ kind: 'reset', times: 1 });
    st = await once.flush();
    assert.equal(st.status, 'queued');
    st = await once.flush();
    assert.equal(st.status, 'delivered', st.message);
    for (const id of ids([...a, ...b])) assert.equal(countOf(RECORD_STREAM, id), 1);
  });

  test('IMDS down (reset, 500, hang): records wait; IMDS back: delivered', async () => {
    // A new client id makes msal ask IMDS again (tokens are cached per identity).
    const s = await sink({ identity: { clientId: '22222222-2222-2222-2222-222222222222' }, timeoutMs: 1500 });
    const rs = records(3);
    await s.enqueue(rs, []);
    for (const fault of ['down-reset', 'down-500'] as const) {
      imds.setFault(fault);
      const st = await s.flush();
      assert.equal(st.status, 'queued', `${fault}: ${st.message}`);
      assert.match(st.message, /managed identity|token/i, `${fault}: ${st.message}`);
      assert.equal(st.queueDepth, 3);
    }
    imds.setFault(null);
    const st = await s.flush();
    assert.equal(st.status, 'delivered', st.message);
    const hung = await sink({ identity: { clientId: '33333333-3333-3333-3333-333333333333' }, timeoutMs: 500 });
    await hung.enqueue(records(1), []);
    imds.setFault('hang');
    const t0 = Date.now();
    const st2 = await hung.flush();
    assert.ok(Date.now() - t0 < 3000, 'our deadline ends a hung IMDS token request');
    assert.equal(st2.status, 'queued');
    imds.setFault(null);
    // The same sink recovers: a token request that never answered must not block later uploads.
    const st3 = await hung.flush();
    assert.equal(st3.status, 'delivered', st3.message);
    for (const id of ids(rs)) assert.equal(countOf(RECORD_STREAM, id), 1);
  });

  test('records spooled under old stream names go to the configured streams; an aborted signal stops a flush', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const opts = { stateDir: t.dir, clientOptions: { tlsOptions: { ca: li.ca }, retryOptions: { maxRetries: 0 } } };
    const old = await AzureMonitorSink.create(settings({ streamName: 'Custom-Old', alertsStreamName: 'Custom-OldAlerts' }), opts);
    const rs = records(2);
    const as = [alert()];
    await old.enqueue(rs, as);
    const s = await AzureMonitorSink.create(settings(), opts);
    const aborted = await s.flush({ signal: AbortSignal.abort(new Error('worker stopping')) });
    assert.equal(aborted.queueDepth, 3);
    assert.match(aborted.message, /abort/i);
    const st = await s.flush();
    assert.equal(st.status, 'delivered', st.message);
    for (const id of ids(rs)) assert.equal(countOf(RECORD_STREAM, id), 1);
    assert.equal(countOf(ALERT_STREAM, String(as[0]!.SystemAlertId)), 1);
  });

  test('a token for another audience is refused by the emulator', async () => {
    const { makeUnsignedJwt } = await import('../emulators/imds-token.js');
    const s = await sink(
      {},
      {
        credential: {
          getToken: async () => ({
            token: makeUnsignedJwt({ aud: 'https://management.azure.com', exp: Math.floor(Date.now() / 1000) + 3600 }),
            expiresOnTimestamp: Date.now() + 3600_000,
          }),
        },
      },
    );
    await s.enqueue(records(1), []);
    const st = await s.flush();
    assert.equal(st.status, 'failed');
    assert.match(st.message, /401/);
    assert.equal(st.queueDepth, 1);
  });
});
