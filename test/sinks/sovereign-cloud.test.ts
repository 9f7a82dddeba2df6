// Sovereign clouds: sinks.azureMonitor.cloud (or the endpoint's host) picks the token audience from
// the SDK's KnownMonitorAudience. The real LogsIngestionClient and ManagedIdentityCredential fetch a
// token for that audience from the IMDS token emulator and the Logs Ingestion emulator, set to the
// cloud's audience, accepts it (and refuses the other clouds' tokens).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KnownMonitorAudience } from '@azure/monitor-ingestion';
import { startImdsTokenEmulator, type ImdsTokenEmulator } from '../emulators/imds-token.js';
import { startLogsIngestionEmulator, type LogsIngestionEmulator } from '../emulators/logs-ingestion.js';
import { AzureMonitorSink } from '../../src/sinks/azure-monitor.js';
import { parseSinksSettings } from '../../src/sinks/settings.js';
import { InputError } from '../../src/base/errors.js';
import { RECORD_STREAM, buildRecord } from '../../src/sinks/record.js';
import { IDENTITY, isolateAzureEnv, makeResult, tempDir } from './helpers.js';

let imds: ImdsTokenEmulator;
const emulators: Partial<Record<string, LogsIngestionEmulator>> = {};
const cleanups: (() => Promise<void>)[] = [];
const CLOUDS = {
  AzurePublicCloud: KnownMonitorAudience.AzurePublicCloud,
  AzureUSGovernment: KnownMonitorAudience.AzureGovernment,
  AzureChinaCloud: KnownMonitorAudience.AzureChina,
} as const;

before(async () => {
  imds = await startImdsTokenEmulator();
  isolateAzureEnv(imds.url);
  for (const [cloud, audience] of Object.entries(CLOUDS)) emulators[cloud] = await startLogsIngestionEmulator({ audience });
});
after(async () => {
  for (const e of Object.values(emulators)) await e!.close();
  await imds.close();
  for (const c of cleanups) await c();
});

async function deliver(li: LogsIngestionEmulator, cloud: string): Promise<{ status: string; message: string; id: string }> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  const settings = parseSinksSettings({ azureMonitor: { endpoint: li.endpoint, dcrImmutableId: li.dcrImmutableId, cloud, timeoutMs: 5000 } }).azureMonitor!;
  const sink = await AzureMonitorSink.create(settings, {
    stateDir: t.dir,
    clientOptions: { tlsOptions: { ca: li.ca }, retryOptions: { maxRetries: 0 } },
    credentialOptions: { retryOptions: { maxRetries: 0 } },
  });
  const rec = buildRecord({ result: makeResult(), identity: IDENTITY }, { agentVersion: '0.1.0' });
  await sink.enqueue([rec], []);
  const st = await sink.flush();
  return { status: st.status, message: st.message ?? '', id: String(rec.RecordId) };
}

describe('sovereign clouds', () => {
  test("the audiences are the SDK's", () => {
    assert.equal(KnownMonitorAudience.AzureGovernment, 'https://monitor.azure.us');
    assert.equal(KnownMonitorAudience.AzureChina, 'https://monitor.azure.cn');
  });
  for (const cloud of Object.keys(CLOUDS)) {
    test(`${cloud}: the token is for its audience and the records are ingested`, async () => {
      const li = emulators[cloud]!;
      const r = await deliver(li, cloud);
      assert.equal(r.status, 'delivered', r.message);
      assert.equal(li.received(RECORD_STREAM).filter((x) => x.RecordId === r.id).length, 1);
      assert.ok(
        imds.requests.some((q) => q.status === 200 && q.resource?.replace(/\/$/, '') === CLOUDS[cloud as keyof typeof CLOUDS]),
        `token requested for ${CLOUDS[cloud as keyof typeof CLOUDS]}`,
      );
    });
  }
  test('a public-cloud token is refused by a Government endpoint: nothing ingested, the failure reported', async () => {
    const li = emulators['AzureUSGovernment']!;
    const r = await deliver(li, 'AzurePublicCloud');
    assert.notEqual(r.status, 'delivered');
    assert.match(r.message, /401|audience|InvalidToken/i);
    assert.equal(li.received(RECORD_STREAM).filter((x) => x.RecordId === r.id).length, 0);
  });
  test("the cloud follows the endpoint's host; a contradicting cloud or an unknown one is a clear error", () => {
    const dcr = 'dcr-0123456789abcdef0123456789abcdef';
    const cloudOf = (endpoint: string, cloud?: string): string =>
      parseSinksSettings({ azureMonitor: { endpoint, dcrImmutableId: dcr, ...(cloud ? { cloud } : {}) } }).azureMonitor!.cloud;
    assert.equal(cloudOf('https://dcr-x-abcd.usgovvirginia-1.ingest.monitor.azure.us'), 'AzureUSGovernment');
    assert.equal(cloudOf('https://dcr-x-abcd.chinanorth3-1.ingest.monitor.azure.cn'), 'AzureChinaCloud');
    assert.equal(cloudOf('https://dcr-x-abcd.westeurope-1.ingest.monitor.azure.com'), 'AzurePublicCloud');
    assert.equal(cloudOf('https://dce-x-abcd.westeurope-1.ingest.monitor.azure.com', 'AzurePublicCloud'), 'AzurePublicCloud');
    assert.equal(cloudOf('https://127.0.0.1:8443'), 'AzurePublicCloud');
    assert.throws(
      () => cloudOf('https://dcr-x-abcd.usgovvirginia-1.ingest.monitor.azure.us', 'AzureChinaCloud'),
      (e: unknown) => e instanceof InputError && /sinks\.azureMonitor\.cloud: AzureChinaCloud does not match/.test(e.message),
    );
    assert.throws(
      () => cloudOf('https://127.0.0.1:8443', 'AzureGermanCloud'),
      (e: unknown) => e instanceof InputError && /must be one of AzurePublicCloud, AzureUSGovernment, AzureChinaCloud/.test(e.message),
    );
  });
});
