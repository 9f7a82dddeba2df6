// The emulators themselves hold to the wire contract (so the sink tests prove something).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:https';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { makeUnsignedJwt, startImdsTokenEmulator } from '../emulators/imds-token.js';
import { startLogsIngestionEmulator, type LogsIngestionEmulator } from '../emulators/logs-ingestion.js';
import { RECORD_STREAM } from '../../src/sinks/record.js';

function post(li: LogsIngestionEmulator, path: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${li.endpoint}${path}`, { method: 'POST', ca: li.ca, headers }, (res) => {
      let b = '';
      res.on('data', (d: Buffer) => {
        b += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode!, body: b }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('emulators', () => {
  test('IMDS token: both paths, Metadata header required, aud = resource', async () => {
    const imds = await startImdsTokenEmulator();
    try {
      for (const p of ['/metadata/identity/oauth2/token', '/metadata/identity/oauth2/token/']) {
        const r = await fetch(`${imds.url}${p}?api-version=2018-02-01&resource=https://monitor.azure.com`, { headers: { Metadata: 'true' } });
        assert.equal(r.status, 200);
        const j = (await r.json()) as Record<string, string>;
        for (const k of ['access_token', 'expires_in', 'expires_on', 'resource', 'token_type']) assert.equal(typeof j[k], 'string', k);
        assert.equal(JSON.parse(Buffer.from(j.access_token!.split('.')[1]!, 'base64url').toString()).aud, 'https://monitor.azure.com');
      }
      assert.equal((await fetch(`${imds.url}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x`)).status, 400);
    } finally {
      await imds.close();
    }
  });

  test('Logs Ingestion: token audience, DCR id, stream, gzip, 1 MB limit, record types', async () => {
    const li = await startLogsIngestionEmulator();
    try {
      const path = `/dataCollectionRules/${li.dcrImmutableId}/streams/${RECORD_STREAM}?api-version=2023-01-01`;
      const auth = (aud: string): string => `Bearer ${makeUnsignedJwt({ aud, exp: Math.floor(Date.now() / 1000) + 600 })}`;
      const good = { Authorization: auth('https://monitor.azure.com'), 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' };
      const rec = [{ TimeGenerated: new Date().toISOString(), RecordId: 'x1', Verdict: 'pass', Vmpl: 0, Fresh: true, Claims: { a: 1 } }];
      assert.equal((await post(li, path, gzipSync(JSON.stringify(rec)), good)).status, 204);
      assert.deepEqual(li.received(RECORD_STREAM), rec);
      assert.equal((await post(li, path, gzipSync('[]'), { ...good, Authorization: auth('https://management.azure.com') })).status, 401);
      assert.equal((await post(li, path, gzipSync('[]'), { ...good, Authorization: '' })).status, 401);
      const nf = await post(li, path.replace(li.dcrImmutableId, 'dcr-ffffffffffffffffffffffffffffffff'), gzipSync('[]'), good);
      assert.equal(nf.status, 404);
      assert.match(nf.body, /Data collection rule with immutable Id/);
      assert.equal((await post(li, path.replace(RECORD_STREAM, 'Custom-Nope'), gzipSync('[]'), good)).status, 404);
      assert.equal((await post(li, path, gzipSync(JSON.stringify([{ Vmpl: 'zero' }])), good)).status, 400);
      assert.equal((await post(li, path, gzipSync(JSON.stringify([{ TimeGenerated: 'yesterday' }])), good)).status, 400);
      // 1.2 MB of JSON compresses to almost nothing: the uncompressed size still counts.
      const big = gzipSync(JSON.stringify([{ RecordId: 'x'.repeat(1_200_000) }]));
      assert.ok(big.length < 100_000);
      const r413 = await post(li, path, big, good);
      assert.equal(r413.status, 413);
      assert.match(r413.body, /ContentLengthLimitExceeded/);
      assert.equal(li.received(RECORD_STREAM).length, 1);
    } finally {
      await li.close();
    }
  });

  test('standalone mode prints its endpoint', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../emulators/logs-ingestion.ts', import.meta.url))], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    const info = JSON.parse(line) as { endpoint: string; caFile: string; streams: string[] };
    assert.match(info.endpoint, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(info.streams.sort(), ['Custom-CvmAttestation', 'Custom-CvmAttestationAlert']);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  });
});
