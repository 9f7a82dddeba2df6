// A real rsyslogd (Debian), started by the test with its own config on its own unix socket and
// loopback ports, receives the alerts as RFC 5424 + CEF lines.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createSinks } from '../../src/sinks/index.js';
import { formatCef, formatRfc5424 } from '../../src/sinks/syslog.js';
import { evaluateAlerts } from '../../src/sinks/alert-rules.js';
import { EMPTY_ALERT_STATE } from '../../src/sinks/alert-state.js';
import { IDENTITY, makeResult, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let rsyslog: ChildProcess | undefined;
let udpPort = 0;
let tcpPort = 0;
const sock = (): string => join(dir, 'log.sock');
const out = (): string => join(dir, 'out.log');

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

async function startRsyslog(): Promise<void> {
  const conf = join(dir, 'rsyslog.conf');
  await writeFile(
    conf,
    [
      `global(workDirectory="${dir}")`,
      'module(load="imuxsock" SysSock.Use="off")',
      `input(type="imuxsock" Socket="${sock()}" UseSpecialParser="off" ParseHostname="on")`,
      'module(load="imudp")',
      `input(type="imudp" address="127.0.0.1" port="${udpPort}")`,
      'module(load="imtcp")',
      `input(type="imtcp" address="127.0.0.1" port="${tcpPort}")`,
      'template(name="line" type="string" string="%syslogfacility-text%.%syslogseverity-text% app=%app-name% msgid=%msgid% %msg%\\n")',
      `*.* action(type="omfile" file="${out()}" template="line" flushOnTXEnd="on" asyncWriting="off")`,
    ].join('\n'),
  );
  await rm(join(dir, 'rsyslogd.pid'), { force: true });
  await rm(sock(), { force: true });
  rsyslog = spawn('rsyslogd', ['-f', conf, '-i', join(dir, 'rsyslogd.pid'), '-n'], { stdio: ['ignore', 'ignore', 'pipe'] });
  rsyslog.stderr!.on('data', () => undefined);
  for (let i = 0; i < 100; i++) {
    try {
      await readFile(join(dir, 'rsyslogd.pid'));
      await waitFor(async () => (await import('node:fs')).existsSync(sock()), 2000);
      return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('rsyslogd did not start');
}
async function stopRsyslog(): Promise<void> {
  if (!rsyslog || rsyslog.exitCode !== null) return;
  const p = new Promise((r) => rsyslog!.once('exit', r));
  rsyslog.kill('SIGTERM');
  await p;
}
async function waitFor(fn: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('timed out waiting');
}
async function lines(): Promise<string[]> {
  try {
    return (await readFile(out(), 'utf8')).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

before(async () => {
  ({ dir, cleanup } = await tempDir('rsyslog-'));
  udpPort = await freePort();
  tcpPort = await freePort();
  await startRsyslog();
});
after(async () => {
  await stopRsyslog();
  await cleanup();
});

const sigFail = { id: 'signature', group: 'signature' as const, status: 'fail' as const, reason: 'report signature | does not verify = bad' };

describe('syslog sink with a real rsyslogd', () => {
  test('alerts arrive over the unix socket (via logger) as RFC 5424 with a CEF payload', async () => {
    const t = await tempDir();
    try {
      const sinks = await createSinks({ syslog: { socket: sock(), facility: 'local4' } }, { stateDir: t.dir, agentVersion: '0.1.0' });
      const r1 = await sinks.deliver({ result: makeResult({ failed: [sigFail], debuggable: true }), identity: IDENTITY });
      assert.deepEqual(r1.alerts.map((a) => a.AlertType).sort(), ['CvmAttest_AttestationFailed', 'CvmAttest_DebugEnabled']);
      const syslog = r1.deliveries.find((d) => d.name === 'syslog')!;
      assert.equal(syslog.status, 'delivered', syslog.message);
      assert.equal(r1.deliveries.find((d) => d.name === 'azureMonitor')!.status, 'disabled');
      await waitFor(async () => (await lines()).filter((l) => l.includes('CEF:0')).length >= 2);
      const got = (await lines()).filter((l) => l.includes('msgid=CvmAttest_AttestationFailed'));
      assert.equal(got.length, 1);
      const line = got[0]!;
      assert.match(
        line,
        /^local4\.crit app=cvm-attest msgid=CvmAttest_AttestationFailed CEF:0\|cvm-attest\|cvm-attest\|0\.1\.0\|CvmAttest_AttestationFailed\|Confidential VM attestation failed\|8\|/,
      );
      const alert = r1.alerts.find((a) => a.AlertType === 'CvmAttest_AttestationFailed')!;
      assert.ok(line.includes(`externalId=${alert.SystemAlertId}`));
      assert.ok(line.includes('cs1Label=VmId cs1=2dedc52a-6832-46ce-9910-e8c9980bf5a7'));
      assert.ok(line.includes('does not verify \\= bad'), 'CEF extension escapes =');
      assert.equal(line.slice(line.indexOf('CEF:0|')), formatCef(alert, '0.1.0'), 'the whole CEF message arrived, not cut at 1 KiB');
      // Same condition next run: no new line (once per change).
      const r2 = await sinks.deliver({ result: makeResult({ failed: [sigFail], debuggable: true }), identity: IDENTITY });
      assert.deepEqual(r2.alerts, []);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await lines()).filter((l) => l.includes(alert.SystemAlertId)).length, 1);
      await sinks.close();
    } finally {
      await t.cleanup();
    }
  });

  test('UDP and TCP targets on loopback', async () => {
    for (const protocol of ['udp', 'tcp'] as const) {
      const t = await tempDir();
      try {
        const sinks = await createSinks(
          {
            syslog: { target: { host: '127.0.0.1', port: protocol === 'udp' ? udpPort : tcpPort, protocol }, facility: 'authpriv', appName: `cvm-${protocol}` },
          },
          { stateDir: t.dir },
        );
        const r = await sinks.deliver({ result: makeResult({ failed: [sigFail] }), identity: IDENTITY });
        assert.equal(r.alerts.length, 1);
        await waitFor(async () => (await lines()).some((l) => l.includes(`app=cvm-${protocol}`) && l.includes(r.alerts[0]!.SystemAlertId)));
        const l = (await lines()).find((x) => x.includes(`app=cvm-${protocol}`))!;
        assert.match(l, /^authpriv\.crit app=cvm-(udp|tcp) msgid=CvmAttest_AttestationFailed CEF:0\|/);
      } finally {
        await t.cleanup();
      }
    }
  });

  test('daemon down: alerts wait in the spool; daemon back: they arrive', async () => {
    const t = await tempDir();
    try {
      await stopRsyslog();
      const sinks = await createSinks({ syslog: { socket: sock() } }, { stateDir: t.dir });
      const r = await sinks.deliver({ result: makeResult({ failed: [{ ...sigFail, id: 'signature.other' }] }), identity: IDENTITY });
      const d = r.deliveries.find((x) => x.name === 'syslog')!;
      assert.equal(d.status, 'queued', d.message);
      assert.equal(d.queueDepth, 1);
      await startRsyslog();
      const [, after] = await sinks.flush();
      assert.equal(after!.status, 'delivered', after!.message);
      assert.equal(after!.queueDepth, 0);
      await waitFor(async () => (await lines()).some((l) => l.includes(r.alerts[0]!.SystemAlertId)));
    } finally {
      await t.cleanup();
    }
  });

  test('a CEF message stays under 4 KiB whatever the alert carries', () => {
    const { alerts } = evaluateAlerts(
      EMPTY_ALERT_STATE,
      { result: makeResult({ failed: Array.from({ length: 40 }, (_, i) => ({ ...sigFail, id: `c${i}`, reason: 'r'.repeat(300) })) }), identity: IDENTITY },
      { settings: { enabled: true, evidenceUnavailableAfter: 3, certificateExpiryDays: 30 }, recordId: 'r' },
    );
    const cef = formatCef(alerts[0]!, '0.1.0');
    assert.ok(Buffer.byteLength(formatRfc5424(alerts[0]!, { facility: 'local4', appName: 'cvm-attest' }, '0.1.0')) < 4096, `${cef.length}`);
    assert.match(cef, /cs6=\{"truncated":true/);
  });

  test('CEF header escapes | and \\, extension escapes = and newlines', () => {
    const { alerts } = evaluateAlerts(
      EMPTY_ALERT_STATE,
      { result: makeResult({ failed: [{ ...sigFail, reason: 'a\\b\nc=d' }] }), identity: IDENTITY },
      { settings: { enabled: true, evidenceUnavailableAfter: 3, certificateExpiryDays: 30 }, recordId: 'r' },
    );
    const cef = formatCef({ ...alerts[0]!, AlertName: 'x|y\\z' }, '1.0');
    assert.ok(cef.includes('|x\\|y\\\\z|'));
    assert.ok(cef.includes('a\\\\b\\nc\\=d'));
    assert.ok(!cef.includes('\n'));
  });

  test('CEF: ESC, BEL and every other control character become visible text, never raw', () => {
    const { alerts } = evaluateAlerts(
      EMPTY_ALERT_STATE,
      { result: makeResult({ failed: [{ ...sigFail, reason: 'ok\u001b[2J\u001b[32mPASS\u0007\u009b1m\u202eevil\u0000' }] }), identity: IDENTITY },
      { settings: { enabled: true, evidenceUnavailableAfter: 3, certificateExpiryDays: 30 }, recordId: 'r' },
    );
    const cef = formatCef({ ...alerts[0]!, AlertName: 'n\u001b]0;x\u0007', CompromisedEntity: 'vm\u0008\u0008' }, 'v\u001b');
    assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/.test(cef), JSON.stringify(cef));
    assert.ok(cef.includes('ok\\\\x1b[2J\\\\x1b[32mPASS\\\\x07\\\\x9b1m\\\\u202eevil\\\\x00'), cef);
    assert.ok(cef.includes('|n\\\\x1b]0;x\\\\x07|'), cef);
    assert.ok(cef.includes('dvchost=vm\\\\x08\\\\x08 '), cef);
  });
});
