// kill -9 of the agent during an upload, then a restart: every record and alert arrives at least
// once, duplicates keep their RecordId / SystemAlertId. The agent runs in child processes that trust
// the TLS emulator through NODE_EXTRA_CA_CERTS.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startImdsTokenEmulator, type ImdsTokenEmulator } from '../emulators/imds-token.js';
import { startLogsIngestionEmulator, type LogsIngestionEmulator } from '../emulators/logs-ingestion.js';
import { ALERT_STREAM, RECORD_STREAM } from '../../src/sinks/record.js';
import { tempDir } from './helpers.js';

let imds: ImdsTokenEmulator;
let li: LogsIngestionEmulator;
let state: { dir: string; cleanup: () => Promise<void> };
before(async () => {
  imds = await startImdsTokenEmulator();
  li = await startLogsIngestionEmulator();
  state = await tempDir('crash-');
});
after(async () => {
  await li.close();
  await imds.close();
  await state.cleanup();
});

interface Child {
  lines: string[];
  exit: Promise<number | null>;
  kill(): void;
}
function agent(mode: 'deliver' | 'flush', count = 0): Child {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_EXTRA_CA_CERTS: li.caFile,
    AZURE_POD_IDENTITY_AUTHORITY_HOST: imds.url,
    NO_PROXY: '127.0.0.1,localhost,169.254.169.254',
    NODE_NO_WARNINGS: '1',
  };
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(new URL('./child-deliver.ts', import.meta.url)),
      JSON.stringify({ stateDir: state.dir, endpoint: li.endpoint, dcrImmutableId: li.dcrImmutableId, mode, count }),
    ],
    { env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines: string[] = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  return { lines, exit: new Promise((r) => child.once('exit', (code) => r(code))), kill: () => child.kill('SIGKILL') };
}
async function until(fn: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('kill -9 during uploads, restart: every record arrives at least once with the same RecordId', async () => {
  // 1. The service is down: six runs spool six records and their alerts.
  li.setFault({ kind: 'status', status: 503 });
  const a = agent('deliver', 6);
  assert.equal(await a.exit, 0);
  const runs = a.lines.map((l) => JSON.parse(l) as { recordId: string; alerts: string[]; state: { queueDepth: number } });
  assert.equal(runs.length, 6);
  const recordIds = runs.map((r) => r.recordId);
  const alertIds = runs.flatMap((r) => r.alerts);
  assert.equal(alertIds.length, 3, 'AttestationFailed on runs 0, 2, 4 (each a new failure)');
  assert.equal(runs.at(-1)!.state.queueDepth, 9);

  // 2. The service ingests the records but the agent is killed before the answer: it never acks them.
  li.setFault({ kind: 'accept-then-hang', times: 1 });
  const b = agent('flush');
  await until(() => li.requests.some((r) => r.fault === 'accept-then-hang'));
  b.kill();
  assert.equal(await b.exit, null);
  const firstAccepted = li.received(RECORD_STREAM).length + li.received(ALERT_STREAM).length;
  assert.ok(firstAccepted > 0, 'the emulator took a batch before the kill');

  // 3. The upload hangs (nothing ingested) and the agent is killed mid-request.
  li.setFault({ kind: 'hang' });
  const c = agent('flush');
  await until(() => li.requests.some((r) => r.fault === 'hang'));
  c.kill();
  await c.exit;

  // 4. Restart with the service healthy: everything arrives.
  li.setFault(null);
  const d = agent('flush');
  assert.equal(await d.exit, 0);
  const final = JSON.parse(d.lines.at(-1)!) as { state: { status: string; queueDepth: number } };
  assert.equal(final.state.status, 'delivered');
  assert.equal(final.state.queueDepth, 0);

  const gotRecords = li.received(RECORD_STREAM).map((r) => String(r.RecordId));
  const gotAlerts = li.received(ALERT_STREAM).map((r) => String(r.SystemAlertId));
  for (const id of recordIds) assert.ok(gotRecords.includes(id), `record ${id} arrived`);
  for (const id of alertIds) assert.ok(gotAlerts.includes(id), `alert ${id} arrived`);
  assert.deepEqual(new Set(gotRecords), new Set(recordIds), 'no record id that was never produced');
  const dups = gotRecords.length + gotAlerts.length - recordIds.length - alertIds.length;
  assert.ok(dups > 0, 'the batch accepted before the kill was sent again (at least once) ...');
  assert.equal(new Set(gotRecords).size, recordIds.length, '... keeping its RecordId, so KQL can de-duplicate');
});
