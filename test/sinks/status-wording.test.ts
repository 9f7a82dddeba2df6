// How sink deliveries and alerts read in the extension status: a failed sink is an error, a
// recent drop a warning; an alert's substatus follows its severity.
import type { AlertSeverity } from '../../src/sinks/alert-catalogue.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { alertSubstatus, errorStatus, outcomeStatus, sinkSubstatus } from '../../src/extension/status.js';
import { makeResult } from './helpers.js';

const now = new Date('2026-11-28T12:00:00.000Z');

describe('sink and alert substatus', () => {
  test('delivered success, queued warning, failed error', () => {
    const base = { name: 'azureMonitor', message: 'm', queueDepth: 0 } as const;
    assert.equal(sinkSubstatus({ ...base, status: 'delivered' }, now).status, 'success');
    assert.equal(sinkSubstatus({ ...base, status: 'disabled' }, now).status, 'success');
    assert.equal(sinkSubstatus({ ...base, status: 'queued', queueDepth: 2 }, now).status, 'warning');
    const failed = sinkSubstatus({ ...base, status: 'failed', message: '3 waiting: HTTP 400 InvalidStream: schema', queueDepth: 3 }, now);
    assert.equal(failed.status, 'error');
    assert.match(failed.formattedMessage.message, /^failed: 3 waiting: HTTP 400 InvalidStream/);
  });

  test('a drop is a warning for a day, with when and why', () => {
    const d = {
      name: 'azureMonitor',
      status: 'delivered',
      message: '3 records delivered; 1 dropped',
      queueDepth: 0,
      dropped: 1,
      lastDropAt: '2026-11-28T10:00:00.000Z',
      lastDropReason: 'HTTP 400 InvalidRecord',
    } as const;
    const s = sinkSubstatus(d, now);
    assert.equal(s.status, 'warning');
    assert.match(s.formattedMessage.message, /dropped 1 \(last 2026-11-28T10:00:00.000Z: HTTP 400 InvalidRecord\)/);
    assert.equal(sinkSubstatus(d, new Date('2026-11-30T12:00:00.000Z')).status, 'success', 'an old drop stays counted, no longer a warning');
  });

  test('alert substatus by severity', () => {
    const a = (sev: AlertSeverity) => alertSubstatus({ AlertName: 'x', AlertSeverity: sev, Description: 'd' });
    assert.equal(a('High').status, 'error');
    assert.equal(a('Medium').status, 'warning');
    assert.equal(a('Low').status, 'warning');
    assert.equal(a('Informational').status, 'success');
    assert.equal(a('High').formattedMessage.message, 'High: d');
    const [e] = outcomeStatus({
      name: 'P.T',
      result: makeResult(),
      statusOnFailure: 'error',
      now,
      alerts: [{ AlertName: 'Confidential VM launched with debugging enabled', AlertSeverity: 'High', Description: 'debug' }],
      deliveries: [{ name: 'syslog', status: 'failed', message: 'cannot write the spool', queueDepth: 0 }],
    });
    assert.equal(e.status.substatus.find((s) => s.name.startsWith('alert: '))?.status, 'error');
    assert.equal(e.status.substatus.find((s) => s.name === 'sink: syslog')?.status, 'error');
    const [f] = errorStatus({
      name: 'P.T',
      status: 'error',
      code: 3,
      message: 'no evidence',
      now,
      alerts: [{ AlertName: 'n', AlertSeverity: 'High', Description: 'd' }],
    });
    assert.equal(f.status.substatus[0]!.status, 'error');
  });
});
