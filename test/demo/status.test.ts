// `cvm-attest status` edge cases on hand-made folders (the real layout is exercised by the demo
// test): which installation it picks, a worker record naming a dead or foreign process, a torn
// status file, sinks spooled but never delivered. The full picture on a real run is in demo.test.ts.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { findInstallation, readStatusView, renderStatusText, resolveExtensionDir, HANDLER_NAME } from '../../src/cli/commands/status.js';
import { InputError } from '../../src/base/errors.js';
import { procStartTime } from '../../src/extension/proc.js';
import { cvmAttestSync } from '../helpers/cli.js';
import { lastResult, writeLastResult } from '../../src/extension/last-result.js';
import { outcomeStatus } from '../../src/extension/status.js';
import type { SinkDelivery } from '../../src/sinks/types.js';
import { makeResult } from '../sinks/helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'cvm-attest-status-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function ext(lib: string, version: string): string {
  const d = join(lib, `${HANDLER_NAME}-${version}`);
  mkdirSync(join(d, 'status'), { recursive: true });
  writeFileSync(
    join(d, 'HandlerEnvironment.json'),
    JSON.stringify([
      {
        name: HANDLER_NAME,
        version: 1.0,
        handlerEnvironment: {
          logFolder: join(tmp, 'log'),
          configFolder: join(d, 'config'),
          statusFolder: join(d, 'status'),
          heartbeatFile: join(d, 'heartbeat.log'),
        },
      },
    ]),
  );
  return d;
}

describe('finding the installation', () => {
  test("the newest version under the agent's folder, by version number, not by name", () => {
    const lib = join(tmp, 'lib1');
    ext(lib, '1.9.0');
    const newest = ext(lib, '1.10.0');
    ext(lib, '1.2.3');
    mkdirSync(join(lib, `${HANDLER_NAME}-2.0.0`)); // unpacked but no HandlerEnvironment.json yet: not an installation
    mkdirSync(join(lib, 'Microsoft.Azure.Extensions.CustomScript-9.9.9'));
    assert.equal(findInstallation(lib), newest);
    assert.equal(resolveExtensionDir(undefined, {}, lib), newest);
  });

  test('--dir wins over the environment, which wins over the search; a wrong folder is E_NO_INSTALLATION', () => {
    const lib = join(tmp, 'lib2');
    const a = ext(lib, '1.0.0');
    const b = ext(join(tmp, 'elsewhere'), '1.0.0');
    assert.equal(resolveExtensionDir(a, { AZURE_GUEST_AGENT_EXTENSION_PATH: b }, lib), a);
    assert.equal(resolveExtensionDir(undefined, { AZURE_GUEST_AGENT_EXTENSION_PATH: b }, lib), b);
    assert.throws(
      () => resolveExtensionDir(join(tmp, 'nothing'), {}, lib),
      (e: unknown) => e instanceof InputError && e.code === 'E_NO_INSTALLATION',
    );
    assert.throws(
      () => resolveExtensionDir(undefined, {}, join(tmp, 'no-lib')),
      (e: unknown) => e instanceof InputError && e.code === 'E_NO_INSTALLATION' && /npm run demo/.test(e.message),
    );
  });
});

describe('reading the state', () => {
  test('never enabled: no result, worker not running, no sinks', () => {
    const d = ext(join(tmp, 'lib3'), '1.0.0');
    const v = readStatusView(d);
    assert.equal(v.result, undefined);
    assert.equal(v.worker.running, false);
    assert.deepEqual(v.sinks, []);
    assert.match(renderStatusText(v), /^cvm-attest status: no result yet\n[\s\S]*last result\s+none yet/);
  });

  test('a worker record naming a dead pid, or a live process that is not our worker, reads as not running', () => {
    const d = ext(join(tmp, 'lib4'), '1.0.0');
    mkdirSync(join(d, 'state'), { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(join(d, 'state/worker.json'), JSON.stringify({ pid: Number(dead.stdout), startTime: 1, seq: 0, startedAt: '2026-01-01T00:00:00Z' }));
    assert.equal(readStatusView(d).worker.running, false);
    // This test process is alive, with its real start time, but it is not `handler worker`.
    writeFileSync(
      join(d, 'state/worker.json'),
      JSON.stringify({ pid: process.pid, startTime: procStartTime(process.pid), seq: 0, startedAt: '2026-01-01T00:00:00Z' }),
    );
    const v = readStatusView(d);
    assert.equal(v.worker.running, false);
    assert.equal(v.worker.pid, process.pid);
    assert.match(v.worker.note, /gone or is another process/);
  });

  test('a torn status file and a spool with records never delivered', () => {
    const d = ext(join(tmp, 'lib5'), '1.0.0');
    writeFileSync(join(d, 'mrseq'), '3');
    writeFileSync(join(d, 'status/3.status'), '[{"version": 1.0, "timestampUTC": "2026-'); // cut mid-write (never happens: writes are atomic)
    const spool = join(d, 'state/sinks/spool/azure-monitor');
    mkdirSync(spool, { recursive: true });
    for (let i = 0; i < 3; i++) writeFileSync(join(spool, `${String(1_700_000_000_000_000 + i).padStart(20, '0')}-rec-${i}.json`), '{}');
    writeFileSync(join(spool, '.tmp-123-abc'), 'partial');
    writeFileSync(join(spool, 'state.json'), JSON.stringify({ dropped: 7 }));
    const v = readStatusView(d);
    assert.equal(v.seq, 3);
    assert.equal(v.result, undefined, 'an unreadable status is no result, not a crash');
    assert.deepEqual(
      v.sinks.map((s) => [s.name, s.queueDepth, s.dropped, s.lastDeliveryAt]),
      [['azureMonitor', 3, 7, undefined]],
    );
    assert.match(renderStatusText(v), /sink azureMonitor\s+queue 3, dropped 7; last delivery none recorded/);
  });
});

describe('stale signs', () => {
  test('a heartbeat older than 10 minutes and a run overdue are called out', () => {
    const d = ext(join(tmp, 'lib6'), '1.0.0');
    mkdirSync(join(d, 'state'), { recursive: true });
    writeFileSync(
      join(d, 'heartbeat.log'),
      JSON.stringify([{ version: 1, heartbeat: { status: 'Ready', code: 0, formattedMessage: { lang: 'en-US', message: 'last run ...' } } }]),
    );
    writeFileSync(
      join(d, 'state/last-run.json'),
      JSON.stringify({ seq: 0, at: '2026-01-01T00:00:00.000Z', nextRunAt: '2026-01-01T01:00:00.000Z', summary: 'x' }),
    );
    const v = readStatusView(d);
    assert.ok(v.heartbeat);
    const later = new Date(Date.parse(v.heartbeat.modifiedAt) + 11 * 60_000);
    assert.match(renderStatusText(v, later), /heartbeat\s+Ready at \S+ \(older than 10 minutes: the agent reports the extension Unresponsive\)/);
    assert.doesNotMatch(renderStatusText(v, new Date(Date.parse(v.heartbeat.modifiedAt) + 60_000)), /older than 10 minutes/);
    // The next run is only shown (and judged) while the worker runs.
    const running = { ...v, worker: { ...v.worker, running: true } };
    assert.match(renderStatusText(running, new Date('2026-01-01T01:05:00Z')), /next run\s+2026-01-01T01:00:00\.000Z \(overdue/);
    assert.doesNotMatch(renderStatusText(running, new Date('2026-01-01T00:30:00Z')), /overdue/);
  });
});

describe('sinks', () => {
  test("the sinks' own status.json wins over the last result; the queue is counted live", () => {
    const d = ext(join(tmp, 'lib7'), '1.0.0');
    writeFileSync(join(d, 'mrseq'), '0');
    writeFileSync(
      join(d, 'status/0.status'),
      JSON.stringify([
        {
          version: 1,
          timestampUTC: '2026-01-01T00:00:00Z',
          status: {
            name: HANDLER_NAME,
            operation: 'Enable',
            status: 'success',
            code: 0,
            formattedMessage: { lang: 'en-US', message: 'PASS: ...' },
            substatus: [],
          },
        },
      ]),
    );
    const sinks = join(d, 'state/sinks');
    mkdirSync(sinks, { recursive: true });
    writeLastResult(
      join(d, 'state'),
      lastResult({
        seq: 0,
        at: new Date('2026-01-01T00:00:00Z'),
        result: makeResult(),
        alerts: [],
        deliveries: [{ name: 'azureMonitor', status: 'queued', message: '1 waiting: HTTP 503', queueDepth: 1 }],
      }),
    );
    mkdirSync(join(sinks, 'spool/azure-monitor'), { recursive: true });
    writeFileSync(
      join(sinks, 'status.json'),
      JSON.stringify([
        { name: 'azureMonitor', status: 'delivered', message: '1 record(s) delivered', queueDepth: 0, lastDeliveryAt: '2026-01-01T00:05:00.000Z' },
        { name: 'syslog', status: 'disabled', message: 'not configured', queueDepth: 0 },
      ]),
    );
    const v = readStatusView(d);
    assert.deepEqual(v.sinks, [
      { name: 'azureMonitor', queueDepth: 0, dropped: 0, status: 'delivered', message: '1 record(s) delivered', lastDeliveryAt: '2026-01-01T00:05:00.000Z' },
    ]);
    rmSync(join(sinks, 'status.json'));
    const w = readStatusView(d);
    assert.equal(w.sinks[0]?.status, 'queued', 'without status.json: the last result');
    assert.match(w.sinks[0]?.message ?? '', /HTTP 503/);
  });
});

describe('checks', () => {
  // The substatus parser `status` used before state/last-result.json: the checks it read back from
  // the portal strings must be what the last result now says (the output did not change).
  function fromPortal(name: string, message: string): { group: string; id: string; status: string; reason: string }[] {
    const group = name.slice('check: '.length);
    const body = message.replace(/^\d+ checks: [^|]*\| /, '');
    return body.split(' | ').map((part) => {
      const m = /^(PASS|FAIL|WARN|SKIP|NOT CHECKED) ([^\s:]+): ([\s\S]*)$/.exec(part)!;
      return { group, id: m[2]!, status: m[1] === 'NOT CHECKED' ? 'skip' : m[1]!.toLowerCase(), reason: m[3]! };
    });
  }

  test("each check of the last run, in the status's group order, as the portal substatus lists them", () => {
    const d = ext(join(tmp, 'lib-checks'), '1.0.0');
    writeFileSync(join(d, 'mrseq'), '2');
    const r = makeResult({
      verdict: 'fail',
      failed: [
        { id: 'policy.debug', group: 'policy', status: 'fail', reason: 'the guest policy allows debugging (POLICY.DEBUG = 1): the hypervisor can read' },
      ],
    });
    const result = { ...r, checks: [...r.checks, { id: 'crl', group: 'crl' as const, status: 'skip' as const, reason: 'no CRL given' }] };
    const now = new Date('2026-03-01T10:00:00Z');
    const deliveries: SinkDelivery[] = [
      { name: 'syslog', status: 'delivered', message: '1 record(s) delivered', queueDepth: 0, lastDeliveryAt: '2026-03-01T10:00:00.000Z' },
    ];
    const alerts = [{ AlertName: 'DebugEnabled', AlertSeverity: 'High' as const, Description: 'debugging is allowed' }];
    mkdirSync(join(d, 'state'), { recursive: true });
    writeLastResult(join(d, 'state'), lastResult({ seq: 2, at: now, result, deliveries, alerts }));
    const file = outcomeStatus({ name: HANDLER_NAME, result, deliveries, alerts, statusOnFailure: 'error', now });
    writeFileSync(join(d, 'status', '2.status'), JSON.stringify(file));
    const v = readStatusView(d);
    const portal = file[0].status.substatus.filter((x) => x.name.startsWith('check: ')).flatMap((x) => fromPortal(x.name, x.formattedMessage.message));
    assert.ok(portal.length >= 3);
    assert.deepEqual(v.result?.checks, portal);
    assert.equal(v.result?.verdict, 'fail');
    assert.equal(v.result?.verdictAt, '2026-03-01T10:00:00Z');
    assert.deepEqual(v.alerts, [{ name: 'DebugEnabled', severity: 'High', description: 'debugging is allowed' }]);
    assert.equal(v.result?.claims?.['x-ms-sevsnpvm-vmpl'], 0);
    const text = renderStatusText(v);
    assert.match(text, /^cvm-attest status: FAIL\n/);
    assert.match(text, /\n {4}\[FAIL\] policy\.debug\s+the guest policy allows debugging/);
    assert.match(text, /\n {4}\[skip\] crl\s+no CRL given\n/);
    assert.match(text, /\n {2}alert {10}High DebugEnabled: debugging is allowed\n/);
  });

  test("a new seq's first run shows no verdict, though the last result of the earlier seq is there", () => {
    const d = ext(join(tmp, 'lib-new-seq'), '1.0.0');
    writeFileSync(join(d, 'mrseq'), '5');
    mkdirSync(join(d, 'state'), { recursive: true });
    writeLastResult(join(d, 'state'), lastResult({ seq: 4, at: new Date('2026-03-01T10:00:00Z'), result: makeResult(), deliveries: [], alerts: [] }));
    writeFileSync(
      join(d, 'status', '5.status'),
      JSON.stringify([
        {
          version: 1,
          timestampUTC: '2026-03-01T11:00:00Z',
          status: {
            name: HANDLER_NAME,
            operation: 'Enable',
            status: 'transitioning',
            code: 0,
            formattedMessage: { lang: 'en-US', message: 'cvm-attest starting: first attestation now' },
            substatus: [],
          },
        },
      ]),
    );
    const v = readStatusView(d);
    assert.equal(v.result?.verdict, 'none');
    assert.deepEqual(v.result?.checks, []);
    assert.match(renderStatusText(v), /^cvm-attest status: RUNNING FIRST ATTESTATION\n/);
  });

  test('a torn last-result.json reads as no verdict, not a crash', () => {
    const d = ext(join(tmp, 'lib-torn-result'), '1.0.0');
    writeFileSync(join(d, 'mrseq'), '0');
    mkdirSync(join(d, 'state'), { recursive: true });
    writeFileSync(join(d, 'state', 'last-result.json'), '{"v":1,"seq":0,"at":"2026-');
    writeFileSync(
      join(d, 'status', '0.status'),
      JSON.stringify(outcomeStatus({ name: HANDLER_NAME, result: makeResult(), statusOnFailure: 'error', now: new Date('2026-03-01T10:00:00Z') })),
    );
    const v = readStatusView(d);
    assert.equal(v.result?.verdict, 'none');
    assert.equal(v.result?.status, 'success');
  });
});

describe("after disable (the demo's --keep): the last verdict, the active alerts, the report, the version", () => {
  const statusDoc = (status: Record<string, unknown>): string => JSON.stringify([{ version: 1.0, timestampUTC: '2026-12-01T21:08:15Z', status }]);

  test("a disabled VM whose last run failed reads FAIL, not the disable operation's success", () => {
    const d = ext(join(tmp, 'lib-disabled'), '0.1.0');
    writeFileSync(join(d, 'mrseq'), '0');
    writeFileSync(
      join(d, 'status', '0.status'),
      statusDoc({
        name: HANDLER_NAME,
        operation: 'Disable',
        status: 'success',
        code: 0,
        formattedMessage: {
          lang: 'en-US',
          message:
            'cvm-attest disabled: worker stopped; no further attestation runs. Last result (2026-12-01T21:08:13Z): FAIL: 1 check failed: policy.debug (debug) | product Milan',
        },
      }),
    );
    mkdirSync(join(d, 'state', 'sinks'), { recursive: true });
    writeLastResult(
      join(d, 'state'),
      lastResult({ seq: 0, at: new Date('2026-12-01T21:08:13Z'), result: makeResult({ verdict: 'fail' }), deliveries: [], alerts: [] }),
    );
    writeFileSync(
      join(d, 'state', 'sinks', 'alerts-state.json'),
      JSON.stringify({ v: 1, active: { DebugEnabled: { fingerprint: 'x', since: '2026-12-01T21:08:12.795Z' } } }),
    );
    writeFileSync(join(d, 'state', 'report.html'), '<!DOCTYPE html>');
    writeFileSync(join(d, 'state', 'last-report.html'), '<!DOCTYPE html>');
    const v = readStatusView(d);
    assert.equal(v.version, '0.1.0', 'from the folder the agent unpacked the package into');
    assert.equal(v.result?.verdict, 'fail');
    assert.equal(v.result?.verdictAt, '2026-12-01T21:08:13Z');
    assert.equal(v.result?.status, 'success', 'the portal status is still there, for what it is');
    assert.equal(v.htmlReport, join(d, 'state', 'report.html'), 'the report the worker writes');
    const text = renderStatusText(v);
    assert.match(text, /^cvm-attest status: DISABLED \(last verdict FAIL\)\n/);
    assert.match(text, /\n {2}last result {4}FAIL at 2026-12-01T21:08:13Z\n/);
    assert.match(text, /\n {2}portal status {2}success \(code 0, operation Disable\) at 2026-12-01T21:08:15Z\n/);
    assert.doesNotMatch(text, /alerts\s+none/, 'never "none" beside an active alert');
    assert.match(text, /\n {2}active alerts {2}DebugEnabled since 2026-12-01T21:08:12\.795Z/);
    assert.match(text, /\(CvmAttest\.Security\.SnpAttestation 0\.1\.0, settings seq 0\)/);
  });

  test('an enabled run: verdict from the last result; no alert anywhere says none', () => {
    const d = ext(join(tmp, 'lib-enabled'), '0.1.0');
    writeFileSync(join(d, 'mrseq'), '3');
    writeFileSync(
      join(d, 'status', '3.status'),
      statusDoc({
        name: HANDLER_NAME,
        operation: 'Enable',
        status: 'success',
        code: 0,
        formattedMessage: { lang: 'en-US', message: 'PASS: every check passed | product Genoa' },
      }),
    );
    mkdirSync(join(d, 'state'), { recursive: true });
    writeLastResult(join(d, 'state'), lastResult({ seq: 3, at: new Date('2026-12-01T21:08:15Z'), result: makeResult(), deliveries: [], alerts: [] }));
    const v = readStatusView(d);
    assert.equal(v.result?.verdict, 'pass');
    assert.match(renderStatusText(v), /\n {2}alerts {9}none\n/);
    const none = readStatusView(ext(join(tmp, 'lib-none'), '0.1.0'));
    assert.equal(none.result, undefined);
  });

  test("the help's jq example reads the verdict", () => {
    const r = cvmAttestSync(['status', '--help'], { source: true });
    const help = r.stdout.replace(/\s+/g, ' '); // yargs may wrap an example
    assert.match(help, /jq -r .*\.result\.verdict/);
    assert.doesNotMatch(help, /\.result\.status/);
  });
});
