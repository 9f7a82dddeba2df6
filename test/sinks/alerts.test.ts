import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateAlerts, fromNow } from '../../src/sinks/alert-rules.js';
import { EMPTY_ALERT_STATE, loadAlertState, saveAlertState, type AlertState } from '../../src/sinks/alert-state.js';
import type { SecurityAlert } from '../../src/sinks/alert-catalogue.js';
import { ALERT_COLUMNS } from '../../src/sinks/record.js';
import { CollectionError } from '../../src/base/errors.js';
import type { SinkOutcome } from '../../src/sinks/types.js';
import { IDENTITY, makeResult, tempDir, type ResultOptions } from './helpers.js';

const settings = { enabled: true, evidenceUnavailableAfter: 3, certificateExpiryDays: 30 };
const NOW = new Date('2026-11-28T12:00:00.000Z');

/** Runs a sequence of outcomes through the evaluator; returns the alert types of each run. */
function run(outcomes: SinkOutcome[], start: AlertState = EMPTY_ALERT_STATE): { types: string[][]; alerts: SecurityAlert[][]; state: AlertState } {
  let state = start;
  const types: string[][] = [];
  const alerts: SecurityAlert[][] = [];
  outcomes.forEach((o, i) => {
    const r = evaluateAlerts(state, o, { settings, recordId: `rec-${i}`, now: new Date(NOW.getTime() + i * 3600_000) });
    state = r.state;
    alerts.push(r.alerts);
    types.push(r.alerts.map((a) => a.AlertType.replace('CvmAttest_', '')).sort());
  });
  return { types, alerts, state };
}
const ok = (o: ResultOptions = {}): SinkOutcome => ({ result: makeResult(o), identity: IDENTITY });
const down = (): SinkOutcome => ({ error: new CollectionError('E_TPM_NO_DEVICE', 'no TPM device at /dev/tpmrm0'), identity: IDENTITY });
const sigFail = { id: 'signature', group: 'signature' as const, status: 'fail' as const, reason: 'report signature does not verify' };
const dbgFail = { id: 'policy.debug', group: 'policy' as const, status: 'fail' as const, reason: 'debug allowed' };

describe('alerts', () => {
  test('a passing VM raises nothing, run after run', () => {
    assert.deepEqual(run([ok(), ok(), ok()]).types, [[], [], []]);
  });

  test('AttestationFailed fires once per change of the failed checks, again after recovery', () => {
    const { types, alerts } = run([
      ok(),
      ok({ failed: [sigFail] }),
      ok({ failed: [sigFail] }),
      ok({ failed: [sigFail, dbgFail] }),
      ok(),
      ok({ failed: [sigFail] }),
    ]);
    assert.deepEqual(
      types.map((t) => t.filter((x) => x === 'AttestationFailed').length),
      [0, 1, 0, 1, 0, 1],
    );
    const a = alerts[1]![0]!;
    assert.equal(a.AlertSeverity, 'High');
    assert.equal(a.CompromisedEntity, 'cvm-01');
    assert.equal(a.RecordId, 'rec-1');
    assert.match(a.Description, /signature does not verify/);
    assert.deepEqual((a.ExtendedProperties.failedChecks as unknown[]).length, 1);
  });

  test('DebugEnabled fires once while the guest stays debuggable', () => {
    const { types } = run([
      ok({ debuggable: true, failed: [dbgFail] }),
      ok({ debuggable: true, failed: [dbgFail] }),
      ok(),
      ok({ debuggable: true, failed: [dbgFail] }),
    ]);
    assert.deepEqual(
      types.map((t) => t.includes('DebugEnabled')),
      [true, false, false, true],
    );
  });

  test('TcbBelowMinimum against the policy minimum', () => {
    const min = { bootloader: 3, tee: 0, snp: 10, microcode: 115 };
    const { types, alerts } = run([
      ok({ minimumTcb: min }),
      ok({ minimumTcb: min }),
      ok({ minimumTcb: min, reportedTcb: { bootloader: 3, tee: 0, snp: 10, microcode: 115 } }),
    ]);
    assert.deepEqual(
      types.map((t) => t.includes('TcbBelowMinimum')),
      [true, false, false],
    );
    assert.deepEqual(alerts[0]![0]!.ExtendedProperties.components, ['snp']);
  });

  test('TcbRollback: lower reported TCB on the same chip; not on another chip', () => {
    const hi = { bootloader: 4, tee: 0, snp: 9, microcode: 120 };
    const lo = { bootloader: 4, tee: 0, snp: 8, microcode: 120 };
    const { types, alerts } = run([
      ok({ reportedTcb: hi }),
      ok({ reportedTcb: lo }),
      ok({ reportedTcb: lo }),
      ok({ reportedTcb: hi, chipId: '22'.repeat(64) }),
      ok({ reportedTcb: lo, chipId: '33'.repeat(64) }),
    ]);
    assert.deepEqual(
      types.map((t) => t.includes('TcbRollback')),
      [false, true, false, false, false],
    );
    assert.deepEqual(alerts[1]!.find((a) => a.AlertType === 'CvmAttest_TcbRollback')!.ExtendedProperties.components, ['snp']);
    // Chip moves are informational and fire once per move.
    assert.deepEqual(
      types.map((t) => t.includes('ChipChanged')),
      [false, false, false, true, true],
    );
  });

  test('MeasurementChanged and ChipChanged fire once per change, not on the first run', () => {
    const m2 = 'bb'.repeat(48);
    const { types, alerts } = run([ok(), ok({ measurement: m2 }), ok({ measurement: m2 }), ok({ measurement: m2, chipId: '44'.repeat(64) })]);
    assert.deepEqual(types, [[], ['MeasurementChanged'], [], ['ChipChanged']]);
    assert.equal(alerts[3]![0]!.AlertSeverity, 'Informational');
  });

  test('a forged report (signature fails) does not move the baselines', () => {
    const m2 = 'bb'.repeat(48);
    const { types } = run([ok(), ok({ measurement: m2, failed: [sigFail] }), ok()]);
    assert.deepEqual(types, [[], ['AttestationFailed'], []]);
  });

  test('EvidenceUnavailable after N failed collections in a row, once; reset by a success', () => {
    const { types, alerts } = run([down(), down(), down(), down(), ok(), down(), down(), down()]);
    assert.deepEqual(
      types.map((t) => t.includes('EvidenceUnavailable')),
      [false, false, true, false, false, false, false, true],
    );
    const a = alerts[2]![0]!;
    assert.equal(a.StartTime, NOW.toISOString(), 'starts at the first failure');
    assert.equal(a.ExtendedProperties.errorCode, 'E_TPM_NO_DEVICE');
  });

  test('CertificateExpiringSoon once per certificate, inside the configured window', () => {
    const soon = new Date(NOW.getTime() + 10 * 86_400_000).toISOString();
    const { types, alerts } = run([ok({ vcekNotAfter: soon }), ok({ vcekNotAfter: soon }), ok()]);
    assert.deepEqual(
      types.map((t) => t.includes('CertificateExpiringSoon')),
      [true, false, false],
    );
    assert.equal(alerts[0]![0]!.ExtendedProperties.daysLeft, 10);
    assert.match(alerts[0]![0]!.Description, /expires on \S+ \(in 10 days\)\.$/);
    assert.deepEqual(run([ok({ vcekNotAfter: new Date(NOW.getTime() + 40 * 86_400_000).toISOString() })]).types, [[]]);
  });

  test('CertificateExpiringSoon says how long ago an expired certificate (stale collateral signer) expired, never "0 days"', () => {
    const expired = new Date(NOW.getTime() - 3 * 86_400_000 - 5_000).toISOString();
    const { alerts } = run([ok({ vcekNotAfter: expired })]);
    const a = alerts[0]!.find((x) => x.AlertType === 'CvmAttest_CertificateExpiringSoon')!;
    assert.match(a.Description, /expired on \S+ \(3 days ago\)\.$/);
    assert.equal(a.ExtendedProperties.daysLeft, 0);
    const hours = new Date(NOW.getTime() + 5 * 3_600_000 + 5_000).toISOString();
    assert.match(
      run([ok({ vcekNotAfter: hours })]).alerts[0]!.find((x) => x.AlertType === 'CvmAttest_CertificateExpiringSoon')!.Description,
      /expires on \S+ \(in 5 hours\)\.$/,
    );
  });

  test('fromNow: days, hours, under an hour, either side of now', () => {
    assert.deepEqual(
      [fromNow(86_400_000), fromNow(2 * 86_400_000 + 1), fromNow(-3_600_000), fromNow(-7_200_000), fromNow(60_000), fromNow(-1)],
      ['in 1 day', 'in 2 days', '1 hour ago', '2 hours ago', 'in less than an hour', 'less than an hour ago'],
    );
  });

  test('alerts carry exactly the alert stream columns', () => {
    const { alerts } = run([ok({ failed: [sigFail] })]);
    const cols = new Set(ALERT_COLUMNS.map((c) => c.name));
    for (const k of Object.keys(alerts[0]![0]!)) assert.ok(cols.has(k), `${k} is a declared column`);
  });

  test('disabled alerts still track state but raise nothing', () => {
    const r = evaluateAlerts(EMPTY_ALERT_STATE, ok({ failed: [sigFail] }), { settings: { ...settings, enabled: false }, recordId: 'r' });
    assert.deepEqual(r.alerts, []);
  });

  test('state survives a restart (atomic file); a torn file starts afresh', async () => {
    const t = await tempDir();
    try {
      const first = run([ok()]);
      await saveAlertState(t.dir, first.state);
      const loaded = await loadAlertState(t.dir);
      assert.deepEqual(JSON.parse(JSON.stringify(loaded)), JSON.parse(JSON.stringify(first.state)));
      const next = evaluateAlerts(loaded, ok({ measurement: 'cc'.repeat(48) }), { settings, recordId: 'r' });
      assert.deepEqual(
        next.alerts.map((a) => a.AlertType),
        ['CvmAttest_MeasurementChanged'],
      );
      const { writeFile } = await import('node:fs/promises');
      await writeFile(`${t.dir}/alerts-state.json`, '{"v":1,"collectionFail');
      assert.deepEqual(await loadAlertState(t.dir), EMPTY_ALERT_STATE);
    } finally {
      await t.cleanup();
    }
  });
});
