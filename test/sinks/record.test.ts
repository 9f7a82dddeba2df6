// The attestation record, column by column, from hand-built results (edge cases) and from real
// verifier results on the real vectors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { verifyEvidence } from '../../src/index.js';
import type { AttestOutcome } from '../../src/collect/attest.js';
import { CollectionError } from '../../src/base/errors.js';
import { buildRecord, RECORD_COLUMNS } from '../../src/sinks/record.js';
import { evaluateAlerts } from '../../src/sinks/alert-rules.js';
import { EMPTY_ALERT_STATE } from '../../src/sinks/alert-state.js';
import { validateRecord } from '../emulators/logs-ingestion.js';
import type { SinkOutcome } from '../../src/sinks/types.js';
import { IDENTITY, makeResult } from './helpers.js';
import { fixturePath as fx } from '../helpers/fixtures.js';

// The collector's outcome must be accepted as it is by the sinks (compile-time check).
const _assignable = (o: AttestOutcome): SinkOutcome => o;
void _assignable;

describe('attestation record', () => {
  test('every column from a passing result', () => {
    const rec = buildRecord({ result: makeResult(), identity: IDENTITY, warnings: ['cached VCEK used'] }, { agentVersion: '0.1.0', recordId: 'r-1' });
    assert.deepEqual(rec, {
      TimeGenerated: '2026-11-28T12:00:00.000Z',
      AttestedAt: '2026-11-28T12:00:00.000Z',
      RecordId: 'r-1',
      VmId: IDENTITY.vmId,
      ResourceId: IDENTITY.resourceId,
      SubscriptionId: IDENTITY.subscriptionId,
      ResourceGroup: 'rg-cvm',
      VmName: 'cvm-01',
      Location: 'westeurope',
      VmSize: 'Standard_DC4as_v5',
      Verdict: 'pass',
      FailedChecks: [],
      Warnings: ['cached VCEK used'],
      Product: 'Genoa',
      ReportedTcb: { bootloader: 3, tee: 0, snp: 8, microcode: 115 },
      CommittedTcb: { bootloader: 3, tee: 0, snp: 8, microcode: 115 },
      LaunchTcb: { bootloader: 3, tee: 0, snp: 8, microcode: 115 },
      Measurement: 'aa'.repeat(48),
      HostData: '00'.repeat(32),
      IdKeyDigest: 'cd'.repeat(48),
      ChipId: '11'.repeat(64),
      IsDebuggable: false,
      Vmpl: 0,
      ReportVersion: 3,
      HclHeaderVersion: 2,
      Fresh: true,
      PolicyHash: 'ef'.repeat(32),
      AgentVersion: '0.1.0',
      Claims: makeResult().claims,
      Platform: 'SNP',
    });
    assert.equal(validateRecord(rec, RECORD_COLUMNS), undefined);
  });

  test('a failed collection is a record with Verdict error, its code and message', () => {
    const rec = buildRecord(
      { error: new CollectionError('E_IMDS_UNREACHABLE', 'IMDS\n did not answer'), identity: IDENTITY },
      { now: new Date('2026-01-02T03:04:05Z') },
    );
    assert.equal(rec.Verdict, 'error');
    assert.equal(rec.ErrorCode, 'E_IMDS_UNREACHABLE');
    assert.equal(rec.ErrorMessage, 'IMDS did not answer');
    assert.equal(rec.TimeGenerated, '2026-01-02T03:04:05.000Z');
    assert.equal(rec.VmName, 'cvm-01');
    assert.equal(rec.Measurement, undefined);
    assert.match(String(rec.RecordId), /^[0-9a-f-]{36}$/);
    assert.equal(validateRecord(rec, RECORD_COLUMNS), undefined);
  });

  test('whatever a failed run threw becomes a clean record (string, plain object, undefined)', () => {
    for (const e of ['boom\nline2', { weird: true }, undefined, new TypeError('x is not a function')]) {
      const rec = buildRecord({ error: e });
      assert.equal(rec.Verdict, 'error');
      assert.equal(typeof rec.ErrorCode, 'string');
      assert.equal(typeof rec.ErrorMessage, 'string');
      assert.ok(!String(rec.ErrorMessage).includes('\n'));
      assert.equal(validateRecord(rec, RECORD_COLUMNS), undefined);
    }
    assert.equal(buildRecord({ error: new TypeError('x') }).ErrorCode, 'TypeError');
  });

  test('no identity (off Azure): identity columns are absent, not empty strings', () => {
    const rec = buildRecord({ result: makeResult() });
    for (const c of ['VmId', 'ResourceId', 'VmName', 'Location']) assert.ok(!(c in rec));
  });

  test('Claims over the 64 KB field limit shed their biggest claims and say so', () => {
    const r = makeResult();
    const big = { ...r, claims: { ...r.claims, 'x-ms-runtime': { pad: 'x'.repeat(100_000) } } };
    const rec = buildRecord({ result: big });
    const claims = rec.Claims as Record<string, unknown>;
    assert.ok(JSON.stringify(claims).length < 60_000);
    assert.deepEqual(claims['cvm-attest-claims-omitted'], ['x-ms-runtime']);
    assert.equal(claims['x-ms-sevsnpvm-launchmeasurement'], 'aa'.repeat(48));
  });

  test('real vector: Azure HCL report (Genoa) passes; the record carries its facts', async () => {
    const result = await verifyEvidence({
      evidence: await readFile(fx('azure-hcl/genoa/hcl-report.bin')),
      vcek: await readFile(fx('azure-hcl/genoa/vcek.pem'), 'utf8'),
    });
    assert.equal(result.verdict, 'pass');
    const rec = buildRecord({ result, identity: IDENTITY }, { agentVersion: '0.1.0' });
    assert.equal(validateRecord(JSON.parse(JSON.stringify(rec)), RECORD_COLUMNS), undefined);
    assert.equal(rec.Verdict, 'pass');
    assert.equal(rec.Product, 'Genoa');
    assert.deepEqual(rec.FailedChecks, []);
    assert.equal(rec.Measurement, result.claims['x-ms-sevsnpvm-launchmeasurement']);
    assert.match(String(rec.Measurement), /^[0-9a-f]{96}$/);
    assert.match(String(rec.ChipId), /^[0-9a-f]{128}$/);
    assert.match(String(rec.HostData), /^[0-9a-f]{64}$/);
    assert.equal(rec.IsDebuggable, false);
    assert.equal(rec.Vmpl, result.claims['x-ms-sevsnpvm-vmpl']);
    assert.equal(typeof rec.ReportVersion, 'number');
    assert.equal(typeof rec.HclHeaderVersion, 'number');
    assert.equal(rec.Fresh, false, 'no quote given: not fresh');
    assert.equal(rec.PolicyHash, result.policy.hash);
    const tcb = rec.ReportedTcb as Record<string, number>;
    for (const k of ['bootloader', 'tee', 'snp', 'microcode']) assert.equal(typeof tcb[k], 'number');
  });

  test('real vector: debug-enabled report fails; record and alerts say why', async () => {
    const result = await verifyEvidence({
      evidence: await readFile(fx('negative/debug-enabled-report.bin')),
      vcek: await readFile(fx('negative/debug-enabled-vcek.der')),
    });
    assert.equal(result.verdict, 'fail');
    const rec = buildRecord({ result, identity: IDENTITY });
    assert.equal(validateRecord(JSON.parse(JSON.stringify(rec)), RECORD_COLUMNS), undefined);
    assert.equal(rec.Verdict, 'fail');
    assert.equal(rec.IsDebuggable, true);
    assert.ok((rec.FailedChecks as { id: string }[]).some((c) => c.id === 'policy.debug'));
    assert.equal(rec.HclHeaderVersion, undefined, 'a bare SNP report has no HCL header');
    const { alerts } = evaluateAlerts(
      EMPTY_ALERT_STATE,
      { result, identity: IDENTITY },
      { settings: { enabled: true, evidenceUnavailableAfter: 3, certificateExpiryDays: 30 }, recordId: String(rec.RecordId) },
    );
    assert.deepEqual(alerts.map((a) => a.AlertType).sort(), ['CvmAttest_AttestationFailed', 'CvmAttest_DebugEnabled']);
  });
});
