// The attestation record and alerts of a TDX CVM: Platform TDX, TCB status and advisories, MRTD as
// the measurement the alerts compare; an SNP record says Platform SNP.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRecord, RECORD_COLUMNS } from '../../src/sinks/record.js';
import { evaluateAlerts } from '../../src/sinks/alert-rules.js';
import { EMPTY_ALERT_STATE } from '../../src/sinks/alert-state.js';
import { validateRecord } from '../emulators/logs-ingestion.js';
import { tdxResult } from '../tdx/helpers.js';
import { IDENTITY, makeResult } from './helpers.js';

describe('TDX record', () => {
  test('Platform, TCB status, advisories, MRTD, RTMRs, FMSPC', () => {
    const r = tdxResult();
    const rec = buildRecord({ result: r, identity: IDENTITY });
    assert.equal(validateRecord(JSON.parse(JSON.stringify(rec)) as Record<string, unknown>, RECORD_COLUMNS), undefined);
    assert.equal(rec.Platform, 'TDX');
    assert.equal(rec.TdxTcbStatus, 'OutOfDate');
    assert.deepEqual(rec.AdvisoryIds, ['INTEL-SA-00960', 'INTEL-SA-00982', 'INTEL-SA-00986']);
    assert.equal(rec.Mrtd, r.claims.tdx_mrtd);
    assert.equal(rec.Measurement, r.claims.tdx_mrtd);
    assert.equal((rec.Rtmrs as string[]).length, 4);
    assert.equal(rec.Fmspc, '00806f050000');
    assert.equal(rec.IsDebuggable, false);
    assert.equal(rec.Verdict, 'pass');
    assert.equal(rec.Product, undefined);
    assert.equal(buildRecord({ result: makeResult() }).Platform, 'SNP');
  });

  test('a changed MRTD between runs raises MeasurementChanged as on SNP', () => {
    const settings = { enabled: true, evidenceUnavailableAfter: 3, certificateExpiryDays: 30 };
    const a = tdxResult();
    const first = evaluateAlerts(EMPTY_ALERT_STATE, { result: a, identity: IDENTITY }, { settings, recordId: 'r1', now: new Date('2025-03-01T00:00:00Z') });
    const b = { ...a, claims: { ...a.claims, tdx_mrtd: 'ff'.repeat(48) } };
    const second = evaluateAlerts(first.state, { result: b, identity: IDENTITY }, { settings, recordId: 'r2', now: new Date('2025-03-01T01:00:00Z') });
    assert.ok(
      second.alerts.some((x) => x.AlertType === 'CvmAttest_MeasurementChanged'),
      JSON.stringify(second.alerts.map((x) => x.AlertType)),
    );
  });
});
