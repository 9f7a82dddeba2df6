// Fleet records written by the verifier (`serve --sinks FILE`) to the Logs Ingestion emulator, with
// the service's own managed identity (IMDS token emulator), through the real Azure SDK: VmId is the
// vmUniqueId attested in the Genoa report's runtime data, and what the VM claimed about itself
// (another VM's id and name here) lands only in the Claimed* columns.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLogsIngestionEmulator, validateRecord, type LogsIngestionEmulator } from '../emulators/logs-ingestion.js';
import { startImdsTokenEmulator, type ImdsTokenEmulator } from '../emulators/imds-token.js';
import { RECORD_STREAM } from '../../src/sinks/record.js';
import { attestBody, challenge, post, relaxedPolicy, serve, tmp, vector, writeKey, type Served } from './helpers.js';

const genoa = vector('genoa');
const claimed = {
  vmId: '11111111-2222-3333-4444-555555555555',
  name: 'someone-else',
  resourceId: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/someone-else',
  subscriptionId: 'x',
  resourceGroupName: 'rg',
};

describe('serve --sinks: the verifier writes the fleet records', () => {
  let li: LogsIngestionEmulator;
  let imds: ImdsTokenEmulator;
  let s: Served;
  before(async () => {
    li = await startLogsIngestionEmulator();
    imds = await startImdsTokenEmulator();
    const dir = tmp();
    writeFileSync(join(dir, 'sinks.json'), JSON.stringify({ azureMonitor: { endpoint: li.endpoint, dcrImmutableId: li.dcrImmutableId, timeoutMs: 5000 } }));
    const env: Record<string, string> = {
      NODE_EXTRA_CA_CERTS: li.caFile,
      AZURE_POD_IDENTITY_AUTHORITY_HOST: imds.url,
      NO_PROXY: '127.0.0.1,localhost',
      CVM_ATTEST_STATE_DIR: join(dir, 'state'),
    };
    for (const k of ['AZURE_CLIENT_ID', 'IDENTITY_ENDPOINT', 'MSI_ENDPOINT', 'HTTPS_PROXY', 'HTTP_PROXY']) env[k] = '';
    s = await serve(['--signing-key', writeKey(join(dir, 'key.pem')), '--policy', relaxedPolicy(dir), '--sinks', join(dir, 'sinks.json')], env);
  });
  after(async () => {
    await s?.stop();
    await li?.close();
    await imds?.close();
  });

  it('a pass and a fail: VmId = attested vmUniqueId, Claimed* = what the VM said, TokenId = jti', async () => {
    const pass = await post(s.url, '/v1/attest', attestBody(await challenge(s.url), genoa, { instance: claimed }));
    assert.equal(pass.json.verdict, 'pass');
    const jti = (JSON.parse(Buffer.from(pass.json.token.split('.')[1], 'base64url').toString()) as { jti: string }).jti;
    const fail = await post(s.url, '/v1/attest', attestBody(await challenge(s.url), genoa, { quote: true, instance: claimed }));
    assert.equal(fail.json.verdict, 'fail');
    const deadline = Date.now() + 30_000;
    while (li.received(RECORD_STREAM).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const rows = li.received(RECORD_STREAM);
    assert.equal(rows.length, 2, JSON.stringify(li.requests) + s.stdout().slice(-2000));
    for (const r of rows) {
      assert.equal(validateRecord(r, li.streams[RECORD_STREAM]!.columns), undefined);
      assert.equal(r.VmId, genoa.vmUniqueId.toLowerCase());
      assert.equal(r.ReportedBy, 'verifier');
      assert.equal(r.ClaimedVmId, claimed.vmId);
      assert.equal(r.ClaimedVmName, claimed.name);
      assert.equal(r.ClaimedResourceId, claimed.resourceId);
      assert.equal(r.VmName, undefined, 'no unverified name in the trusted columns');
      assert.equal(r.ResourceId, undefined);
    }
    const p = rows.find((r) => r.Verdict === 'pass')!;
    assert.equal(p.TokenId, jti);
    assert.equal(p.Fresh, false);
    const f = rows.find((r) => r.Verdict === 'fail')!;
    assert.equal(f.TokenId, undefined);
    assert.ok((f.FailedChecks as { id: string }[]).some((c) => c.id === 'freshness'));
    assert.ok(imds.requests.length >= 1, 'the service used its own managed identity');
  });
});
