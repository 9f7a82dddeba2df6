// The protocol parts on their own: HandlerEnvironment, settings (fuzzed), sequence numbers, protected
// settings decryption with a real openssl-made certificate, status builders (checked by the agent's
// own parse_ext_status), atomic writes, the single-instance lock (squatters of another uid included),
// every way the worker can fail to start, and the worker loop (clock steps, heartbeat during a run).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  mkdtempSync,
  writeFileSync,
  readFileSync,
  readdirSync,
  mkdirSync,
  rmSync,
  statSync,
  chmodSync,
  chownSync,
  symlinkSync,
  existsSync,
  utimesSync,
} from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeExtensionDir } from '../helpers/extension-dir.js';
import fc from 'fast-check';
import { parseHandlerEnvironment } from '../../src/extension/handler-environment.js';
import {
  parseSettingsFile,
  validatePublicSettings,
  validateProtectedSettings,
  resolveSequenceNumber,
  SettingsError,
  deepMerge,
} from '../../src/extension/settings.js';
import { decryptProtectedSettings } from '../../src/extension/protected-settings.js';
import {
  outcomeStatus,
  errorStatus,
  transitioningStatus,
  statusFile,
  heartbeatFile,
  claimsJson,
  topMessage,
  sub,
  type OutcomeStatusInput,
} from '../../src/extension/status.js';
import { writeFileAtomicSync } from '../../src/io/atomic-file.js';
import { tryWorkerLock, workerLockDir, lockHolderRecord, legacyLockName, LockError } from '../../src/extension/lock.js';
import { jitterMs } from '../../src/extension/state.js';
import { runWorker, type Engine } from '../../src/extension/worker.js';
import { makeContext } from '../../src/extension/handler-context.js';
import { createExtLogger } from '../../src/extension/logger.js';
import type { VerificationResult, CheckResult } from '../../src/result/result.js';
import { agentPythonPath, startAgentHarness, root, type AgentHarness } from './agent-harness.js';
import { cvmAttest, type Run } from '../helpers/cli.js';

const made: string[] = [];
const tmp = (p: string) => {
  const d = mkdtempSync(join(tmpdir(), `cvm-attest-ext-${p}`));
  made.push(d);
  return d;
};
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function result(verdict: 'pass' | 'fail', extra: Partial<VerificationResult> = {}): VerificationResult {
  const checks: CheckResult[] = [
    { id: 'signature', group: 'signature', status: 'pass', reason: 'VCEK signature over the report verifies' },
    { id: 'chain', group: 'chain', status: 'pass', reason: 'VCEK -> ASK -> pinned ARK (Genoa)' },
    { id: 'tcb', group: 'tcb', status: 'pass', reason: 'TCB matches' },
    { id: 'policy.debug', group: 'policy', status: verdict === 'pass' ? 'pass' : 'fail', reason: verdict === 'pass' ? 'debug off' : 'POLICY.DEBUG is set' },
    { id: 'freshness', group: 'freshness', status: 'skip', reason: 'no quote' },
  ];
  return {
    verdict,
    product: 'Genoa',
    checks,
    warnings: [],
    verifiedAt: '2026-11-28T12:00:00.000Z',
    certificates: [],
    policy: { hash: 'ab'.repeat(32) },
    claims: {
      'x-ms-sevsnpvm-bootloader-svn': 10,
      'x-ms-sevsnpvm-tee-svn': 0,
      'x-ms-sevsnpvm-snpfw-svn': 23,
      'x-ms-sevsnpvm-microcode-svn': 84,
      'x-ms-sevsnpvm-launchmeasurement': 'f5'.repeat(48),
      'x-ms-sevsnpvm-is-debuggable': verdict !== 'pass',
    },
    ...extra,
  };
}

describe('HandlerEnvironment.json', () => {
  const doc = (he: unknown) => JSON.stringify([{ name: 'Pub.Type', version: 1.0, handlerEnvironment: he }]);
  test('paths come from the file; libDir is configFolder/../..', () => {
    const e = parseHandlerEnvironment(
      doc({
        logFolder: '/var/log/azure/Pub.Type',
        configFolder: '/lib/wa/Pub.Type-1.0.0/config',
        statusFolder: '/lib/wa/Pub.Type-1.0.0/status',
        heartbeatFile: '/lib/wa/Pub.Type-1.0.0/heartbeat.log',
      }),
      '/lib/wa/Pub.Type-1.0.0',
    );
    assert.equal(e.name, 'Pub.Type');
    assert.equal(e.libDir, '/lib/wa');
    assert.equal(e.statusFolder, '/lib/wa/Pub.Type-1.0.0/status');
  });
  test('missing keys, bad JSON, huge input: ParseError, never a TypeError', () => {
    for (const t of ['', '{', '[]', '[{}]', doc({}), doc({ logFolder: 3 }), doc(null), 'x'.repeat(70_000)]) {
      assert.throws(
        () => parseHandlerEnvironment(t, '/x'),
        (e: Error) => e.name === 'ParseError',
        t.slice(0, 30),
      );
    }
  });
});

describe('settings', () => {
  test('defaults', () => {
    const s = validatePublicSettings({});
    assert.deepEqual([s.intervalMinutes, s.jitterPercent, s.freshness, s.statusOnFailure], [60, 10, true, 'error']);
  });
  test('the settings file: empty (seq 0), nulls, protected settings', () => {
    assert.deepEqual(parseSettingsFile(''), { publicSettings: {}, protectedSettings: null, protectedSettingsCertThumbprint: null });
    const n = parseSettingsFile(
      JSON.stringify({ runtimeSettings: [{ handlerSettings: { publicSettings: null, protectedSettings: null, protectedSettingsCertThumbprint: null } }] }),
    );
    assert.equal(n.protectedSettings, null);
    const p = parseSettingsFile(
      JSON.stringify({
        runtimeSettings: [
          { handlerSettings: { publicSettings: { intervalMinutes: 5 }, protectedSettings: 'MIIB', protectedSettingsCertThumbprint: 'ab'.repeat(20) } },
        ],
      }),
    );
    assert.equal(p.protectedSettingsCertThumbprint, 'AB'.repeat(20));
    assert.equal(p.publicSettings['intervalMinutes'], 5);
  });
  test('every bad setting is a SettingsError naming it', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ intervalMinutes: 0 }, 'publicSettings.intervalMinutes'],
      [{ intervalMinutes: '60' }, 'publicSettings.intervalMinutes'],
      [{ jitterPercent: 51 }, 'publicSettings.jitterPercent'],
      [{ statusOnFailure: 'fail' }, 'publicSettings.statusOnFailure'],
      [{ freshness: 'yes' }, 'publicSettings.freshness'],
      [{ tpm: '/dev/tpm0' }, 'publicSettings.tpm'],
      [{ imdsEndpoint: 'ftp://x' }, 'publicSettings.imdsEndpoint'],
      // what the collector refuses is refused at enable, not found by the worker on every run
      [{ imdsEndpoint: 'https://169.254.169.254' }, 'publicSettings.imdsEndpoint'],
      [{ imdsEndpoint: 'http://127.0.0.1:8080/metadata' }, 'publicSettings.imdsEndpoint'],
      [{ imdsEndpoint: 'http://u:p@127.0.0.1' }, 'publicSettings.imdsEndpoint'],
      [{ imdsEndpoint: 'http://127.0.0.1/?x=1' }, 'publicSettings.imdsEndpoint'],
      [{ minimumTcb: { snp: 300 } }, 'publicSettings.minimumTcb.snp'],
      // the PCS endpoint: https, plain http only to loopback, no query or credentials
      [{ pcsEndpoint: 'http://pcs.example' }, 'publicSettings.pcsEndpoint'],
      [{ pcsEndpoint: 'http://10.0.0.1:8080' }, 'publicSettings.pcsEndpoint'],
      [{ pcsEndpoint: 'ftp://127.0.0.1' }, 'publicSettings.pcsEndpoint'],
      [{ pcsEndpoint: 'https://u:p@pcs.example' }, 'publicSettings.pcsEndpoint'],
      [{ pcsEndpoint: 'https://pcs.example/?x=1' }, 'publicSettings.pcsEndpoint'],
      [{ pcsEndpoint: 'not a url' }, 'publicSettings.pcsEndpoint'],
      [{ pcsEndpoint: 1 }, 'publicSettings.pcsEndpoint'],
      [{ minimumTcb: { cpu: 1 } }, 'publicSettings.minimumTcb.cpu'],
      [{ policy: [] }, 'publicSettings.policy'],
      [{ sinks: 'x' }, 'publicSettings.sinks'],
      [{ intervalMinute: 5 }, 'publicSettings.intervalMinute'],
      [{ logLevel: 'trace' }, 'publicSettings.logLevel'],
    ];
    for (const [pub, name] of cases) {
      assert.throws(
        () => validatePublicSettings(pub),
        (e: unknown) => e instanceof SettingsError && e.setting === name && e.message.includes(name),
        JSON.stringify(pub),
      );
    }
    assert.throws(
      () => validateProtectedSettings({ secret: 1 }),
      (e: unknown) => e instanceof SettingsError && e.setting === 'protectedSettings.secret',
    );
    assert.throws(
      () => parseSettingsFile('{"runtimeSettings":[{"handlerSettings":{"protectedSettings":"AAAA","protectedSettingsCertThumbprint":"xyz"}}]}'),
      SettingsError,
    );
  });
  test('pcsEndpoint: https, or http on a loopback address', () => {
    for (const u of [
      'https://api.trustedservices.intel.com',
      'https://cache.example:8443/pcs/',
      'http://127.0.0.1:8080',
      'http://localhost',
      'http://[::1]:9',
    ]) {
      assert.equal(validatePublicSettings({ pcsEndpoint: u }).pcsEndpoint, u);
    }
    assert.equal(validatePublicSettings({}).pcsEndpoint, undefined);
  });
  test('Guest Attestation settings are accepted with a note', () => {
    const s = validatePublicSettings({ AttestationConfig: { MaaSettings: { maaEndpoint: '', maaTenantName: 'GuestAttestation' } } });
    assert.match(s.notes[0] ?? '', /ignored/);
  });
  test('fuzz: any JSON yields settings or a SettingsError, nothing else', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        for (const text of [
          JSON.stringify({ runtimeSettings: [{ handlerSettings: { publicSettings: a } }] }),
          JSON.stringify(a),
          JSON.stringify({ runtimeSettings: b }),
        ]) {
          try {
            validatePublicSettings(parseSettingsFile(text).publicSettings);
          } catch (e) {
            if (!(e instanceof SettingsError)) throw e;
          }
        }
      }),
      { numRuns: 500 },
    );
  });
  test('deepMerge: protected sinks over public', () => {
    assert.deepEqual(deepMerge({ a: { x: 1, y: 2 }, l: [1] }, { a: { y: 3 }, l: [2] }), { a: { x: 1, y: 3 }, l: [2] });
  });
  test('sequence number: ConfigSequenceNumber, else the highest N.settings', () => {
    const d = tmp('seq-');
    assert.equal(resolveSequenceNumber({}, d), 0);
    for (const n of ['1.settings', '10.settings', '2.settings', 'x.settings', 'HandlerState']) writeFileSync(join(d, n), '');
    assert.equal(resolveSequenceNumber({}, d), 10);
    assert.equal(resolveSequenceNumber({ ConfigSequenceNumber: '3' }, d), 3);
    assert.throws(() => resolveSequenceNumber({ ConfigSequenceNumber: '-1' }, d), SettingsError);
  });
});

describe('protected settings (openssl cms, as the platform encrypts them)', () => {
  const lib = tmp('lib-');
  let thumb = '';
  let other = '';
  before(() => {
    const mk = (n: string) => {
      execFileSync(
        'openssl',
        ['req', '-x509', '-nodes', '-newkey', 'rsa:2048', '-subj', `/CN=${n}`, '-days', '2', '-keyout', join(lib, `${n}.key`), '-out', join(lib, `${n}.pem`)],
        { stdio: 'ignore' },
      );
      const t = execFileSync('openssl', ['x509', '-in', join(lib, `${n}.pem`), '-noout', '-fingerprint', '-sha1'], { encoding: 'utf8' })
        .trim()
        .split('=')[1]!
        .replaceAll(':', '');
      writeFileSync(join(lib, `${t}.crt`), readFileSync(join(lib, `${n}.pem`)));
      writeFileSync(join(lib, `${t}.prv`), readFileSync(join(lib, `${n}.key`)), { mode: 0o600 });
      return t;
    };
    thumb = mk('tenant');
    other = mk('other');
  });
  const encrypt = (obj: unknown, cert = 'tenant') =>
    execFileSync('openssl', ['cms', '-encrypt', '-binary', '-outform', 'DER', '-aes256', join(lib, `${cert}.pem`)], { input: JSON.stringify(obj) }).toString(
      'base64',
    );

  test('decrypts with <thumbprint>.crt/.prv of the library folder', async () => {
    const v = await decryptProtectedSettings({ protectedSettings: encrypt({ policy: { allowDebug: false } }), thumbprint: thumb.toLowerCase(), libDir: lib });
    assert.deepEqual(v, { policy: { allowDebug: false } });
  });
  test('wrong certificate, missing files, garbage: SettingsError without the plaintext', async () => {
    const secret = 'S3cr3t-value';
    await assert.rejects(
      decryptProtectedSettings({ protectedSettings: encrypt({ secret }, 'other'), thumbprint: thumb, libDir: lib }),
      (e: Error) => e instanceof SettingsError && !e.message.includes(secret) && /cannot be decrypted/.test(e.message),
    );
    await assert.rejects(decryptProtectedSettings({ protectedSettings: encrypt({}), thumbprint: 'AB'.repeat(20), libDir: lib }), /is not in/);
    await assert.rejects(
      decryptProtectedSettings({ protectedSettings: Buffer.from('not cms').toString('base64'), thumbprint: other, libDir: lib }),
      SettingsError,
    );
    await assert.rejects(decryptProtectedSettings({ protectedSettings: '', thumbprint: other, libDir: lib }), SettingsError);
  });
  after(() => rmSync(lib, { recursive: true, force: true }));
});

describe('status files', () => {
  const base: OutcomeStatusInput = {
    name: 'Pub.Type',
    result: result('pass'),
    statusOnFailure: 'error',
    now: new Date('2026-11-28T12:00:00Z'),
    nextRunAt: new Date('2026-11-28T13:03:00Z'),
    identity: { vmId: '390cbcf5-6c67-4d9b-98ef-c3f1699cc8fc' },
  };
  test('verdict and key facts first, under 1024 characters', () => {
    const m = topMessage(base);
    assert.match(m, /^PASS: genuine AMD SEV-SNP \(Genoa\)/);
    assert.ok(m.indexOf('TCB bl=10 tee=0 snp=23 ucode=84') < 200);
    assert.ok(m.includes('next run 2026-11-28T13:03:00Z'));
    const long = topMessage({ ...base, warnings: Array.from({ length: 100 }, (_, i) => `warning ${i} `.repeat(5)) });
    assert.ok(long.length <= 1024);
    assert.match(long, /^PASS/);
  });
  test('failure: the configured status, failed checks named, one substatus per group, claims JSON < 10 KiB', () => {
    const big = { ...result('fail').claims, 'x-ms-runtime': { blob: 'x'.repeat(50_000) }, other: 'y'.repeat(20_000) };
    const [e] = outcomeStatus({
      ...base,
      result: result('fail', { claims: big }),
      statusOnFailure: 'warning',
      deliveries: [{ name: 'azureMonitor', status: 'queued', message: '429, retrying', queueDepth: 3 }],
      alerts: [{ AlertName: 'DebugEnabled', AlertSeverity: 'High', Description: 'debug on' }],
    });
    assert.equal(e.status.status, 'warning');
    assert.equal(e.status.code, 1);
    assert.match(e.status.formattedMessage.message, /^FAIL: 1 check failed: policy\.debug/);
    const names = e.status.substatus.map((s) => s.name);
    assert.deepEqual(names, [
      'check: signature',
      'check: chain',
      'check: tcb',
      'check: freshness',
      'check: policy',
      'sink: azureMonitor',
      'alert: DebugEnabled',
      'claims',
    ]);
    assert.equal(e.status.substatus.find((s) => s.name === 'check: policy')?.status, 'warning');
    assert.equal(e.status.substatus.find((s) => s.name === 'sink: azureMonitor')?.status, 'warning');
    const claims = e.status.substatus.at(-1)!.formattedMessage.message;
    assert.ok(claims.length < 10 * 1024);
    assert.equal(JSON.parse(claims)['x-ms-sevsnpvm-tee-svn'], 0, 'small claims kept');
    assert.ok(claimsJson({ k: 'z'.repeat(100_000) }).length < 10 * 1024);
  });

  describe("every kind passes the agent's own parse_ext_status", () => {
    let agent: AgentHarness | undefined;
    before(() => {
      agent = startAgentHarness(agentPythonPath());
    });
    after(async () => {
      await agent?.close();
    });
    test('transitioning, success, warning, error (settings, collection), disable, huge substatus', async () => {
      assert.ok(agent, 'the agent harness started');
      const h: AgentHarness = agent;
      const now = new Date();
      const docs = {
        transitioning: transitioningStatus('P.T', 'Enable', 'starting', now),
        success: outcomeStatus(base),
        warning: outcomeStatus({ ...base, result: result('fail'), statusOnFailure: 'warning' }),
        error: outcomeStatus({ ...base, result: result('fail') }),
        settings: errorStatus({ name: 'P.T', status: 'error', code: 2, message: 'setting publicSettings.x: bad', now }),
        collection: errorStatus({
          name: 'P.T',
          status: 'warning',
          code: 3,
          message: 'evidence could not be collected',
          nextRunAt: now,
          deliveries: [{ name: 'syslog', status: 'failed', message: 'no socket', queueDepth: 1 }],
          now,
        }),
        disable: statusFile({ name: 'P.T', operation: 'Disable', status: 'success', code: 0, message: 'disabled', now }),
        huge: statusFile({
          name: 'P.T',
          operation: 'Enable',
          status: 'success',
          code: 0,
          message: 'm'.repeat(5000),
          substatus: Array.from({ length: 40 }, (_, i) => sub(`s${i}`, 'success', 'q'.repeat(20_000))),
          now,
        }),
      };
      const dir = tmp('st-');
      for (const [k, d] of Object.entries(docs)) {
        const f = join(dir, `${k}.status`);
        writeFileSync(f, JSON.stringify(d));
        type Parsed = { ok: boolean; status: string; error?: string; message: string; substatus: unknown[] };
        const r: Parsed = await h.call<Parsed>({ op: 'parse_status', path: f });
        assert.equal(r.ok, true, `${k}: ${r.error}`);
        assert.equal(r.status, d[0].status.status, k);
        assert.ok(r.message.length <= 1024, k);
      }
      assert.ok(Buffer.byteLength(JSON.stringify(docs.huge), 'utf8') <= 128 * 1024, 'substatus past the agent limit is dropped by us first');
      // and a broken one is rejected, so the check above can fail
      writeFileSync(join(dir, 'bad.status'), JSON.stringify([{ status: { status: 'success', formattedMessage: { message: 'no lang' } } }]));
      const bad = await h.call<{ ok: boolean }>({ op: 'parse_status', path: join(dir, 'bad.status') });
      assert.equal(bad.ok, false);
    });
  });
  test('fuzz: any checks, claims, warnings and sink messages keep the agent limits', () => {
    const check = fc.record({
      id: fc.string({ maxLength: 40 }),
      group: fc.constantFrom('structure', 'signature', 'chain', 'tcb', 'chip-id', 'crl', 'runtime-data', 'freshness', 'policy'),
      status: fc.constantFrom('pass', 'fail', 'skip', 'warn'),
      reason: fc.string({ maxLength: 3000 }),
    });
    fc.assert(
      fc.property(
        fc.array(check, { maxLength: 60 }),
        fc.dictionary(fc.string({ maxLength: 30 }), fc.jsonValue(), { maxKeys: 40 }),
        fc.array(fc.string({ maxLength: 2000 }), { maxLength: 20 }),
        fc.array(fc.string({ maxLength: 20_000 }), { maxLength: 10 }),
        (checks, claims, warnings, sinkMsgs) => {
          const r = result('pass', { checks: checks, claims, warnings, verdict: checks.some((c) => c.status === 'fail') ? 'fail' : 'pass' });
          const [e] = outcomeStatus({
            ...base,
            result: r,
            warnings,
            deliveries: sinkMsgs.map((m, i) => ({ name: `s${i}`, status: 'failed' as const, message: m, queueDepth: i })),
          });
          const text = JSON.stringify([e]);
          assert.deepEqual(JSON.parse(text), [e]);
          assert.ok(e.status.formattedMessage.message.length <= 1024);
          assert.ok(Buffer.byteLength(text, 'utf8') <= 128 * 1024);
          for (const sub of e.status.substatus) {
            assert.ok(sub.formattedMessage.message.length <= 10 * 1024 && sub.formattedMessage.lang === 'en-US');
            assert.ok(['success', 'warning', 'error', 'transitioning'].includes(sub.status));
          }
          const claimsSub = e.status.substatus.find((x) => x.name === 'claims');
          assert.ok(claimsSub, 'the claims always fit');
          JSON.parse(claimsSub.formattedMessage.message);
        },
      ),
      { numRuns: 200 },
    );
  });
  test('the 128 KiB bound counts the bytes of the file (JSON escapes, UTF-8), not characters', () => {
    const now = new Date();
    for (const unit of ['\u0001', '"', '\u00e9', '\u6f22', 'a']) {
      const doc = statusFile({
        name: 'P.T',
        operation: 'Enable',
        status: 'success',
        code: 0,
        message: unit.repeat(2000),
        substatus: [...Array.from({ length: 30 }, (_, i) => sub(`s${i}`, 'success', unit.repeat(9000))), sub('claims', 'success', '{"a":1}')],
        now,
      });
      const bytes = Buffer.byteLength(JSON.stringify(doc), 'utf8');
      assert.ok(bytes <= 128 * 1024, `${JSON.stringify(unit)}: ${bytes} bytes`);
      const names = doc[0].status.substatus.map((x) => x.name);
      assert.ok(names.includes('claims'), 'the small last entry still fits');
      assert.equal(names.at(-1), 'omitted');
    }
  });
  test('wording: a group leads with its counts (no "PASS: PASS"); skipped checks are "not checked", not a success', () => {
    const r = result('pass', {
      checks: [
        { id: 'policy.debug', group: 'policy', status: 'pass', reason: 'debug off' },
        { id: 'policy.vmpl', group: 'policy', status: 'pass', reason: 'VMPL 0' },
        { id: 'crl', group: 'crl', status: 'skip', reason: 'CRL checking is off by policy' },
      ],
    });
    const [e] = outcomeStatus({ ...base, result: r });
    const pol = e.status.substatus.find((x) => x.name === 'check: policy')!;
    assert.equal(pol.formattedMessage.message, '2 checks: 2 pass | PASS policy.debug: debug off | PASS policy.vmpl: VMPL 0');
    assert.doesNotMatch(pol.formattedMessage.message, /PASS: PASS/);
    const crl = e.status.substatus.find((x) => x.name === 'check: crl')!;
    assert.equal(crl.status, 'warning');
    assert.equal(crl.formattedMessage.message, 'NOT CHECKED crl: CRL checking is off by policy');
  });
  test('heartbeat shape', () => {
    assert.deepEqual(heartbeatFile('Ready', 'ok'), [
      { version: 1, heartbeat: { status: 'Ready', code: 0, formattedMessage: { lang: 'en-US', message: 'ok' } } },
    ]);
  });
});

describe('files, lock, jitter', () => {
  test('atomic write leaves no temp file and replaces content', () => {
    const d = tmp('aw-');
    const f = join(d, '0.status');
    writeFileAtomicSync(f, 'one');
    writeFileAtomicSync(f, 'two');
    assert.equal(readFileSync(f, 'utf8'), 'two');
    assert.deepEqual(readdirSync(d), ['0.status']);
  });
  test('kill -9 while a status file is being rewritten: always the old or the new document; temps cleaned', async () => {
    const d = tmp('kill-');
    const f = join(d, '0.status');
    const atomic = join(root, 'src/io/atomic-file.ts');
    writeFileAtomicSync(f, JSON.stringify({ gen: -1 }));
    let maxGen = -1;
    for (let round = 0; round < 8; round++) {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '-e',
          `import(${JSON.stringify(atomic)}).then(({ writeFileAtomicSync }) => { let g = 0; console.log('go'); for (;;) writeFileAtomicSync(${JSON.stringify(f)}, JSON.stringify({ gen: g++, pad: 'x'.repeat(200000) })); })`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'], cwd: root },
      );
      await new Promise((r) => child.stdout.once('data', r));
      await new Promise((r) => setTimeout(r, 20 + Math.floor(Math.random() * 80)));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('close', r));
      const doc = JSON.parse(readFileSync(f, 'utf8')) as { gen: number };
      assert.ok(Number.isInteger(doc.gen), `round ${round}`);
      maxGen = Math.max(maxGen, doc.gen);
    }
    assert.ok(maxGen > 0, 'the writer was killed while rewriting, not before');
    const { removeStaleTemps } = await import('../../src/io/atomic-file.js');
    removeStaleTemps(d);
    assert.deepEqual(readdirSync(d), ['0.status']);
  });

  test('the lock admits one holder, tells contenders who holds it (its record), and is freed when the holder is killed -9', async () => {
    const dir = workerLockDir(tmp('lk-'), 'P.T');
    const a = tryWorkerLock(dir, { pid: 1001, startTime: 11, seq: 5 }, 0);
    assert.ok('lock' in a);
    assert.deepEqual(statSync(dir).mode & 0o777, 0o700, 'created 0700');
    assert.deepEqual(tryWorkerLock(dir, { pid: 1002, startTime: 12, seq: 5 }, 0), { holder: { pid: 1001, startTime: 11, seq: 5 } });
    assert.deepEqual(lockHolderRecord(dir, 0), { pid: 1001, startTime: 11, seq: 5 });
    a.lock.release();
    const b = tryWorkerLock(dir, { pid: 1003, startTime: 13, seq: 6 }, 0);
    assert.ok('lock' in b, 'released');
    b.lock.release();
    // a child process holds it; SIGKILL frees it (the kernel drops the flock), its stale record is not a holder
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `import(${JSON.stringify(join(root, 'src/extension/lock.ts'))}).then((l) => { const r = l.tryWorkerLock(${JSON.stringify(dir)}, { pid: process.pid, startTime: 1, seq: 7 }, 0); console.log('lock' in r ? 'held' : 'busy'); setInterval(() => {}, 1000); })`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], cwd: root },
    );
    const said = await new Promise<string>((r) => child.stdout.once('data', (c) => r(String(c).trim())));
    assert.equal(said, 'held');
    const busy = tryWorkerLock(dir, { pid: 1004, startTime: 14, seq: 7 }, 0);
    assert.ok('holder' in busy && busy.holder?.pid === child.pid, JSON.stringify(busy));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    const c = tryWorkerLock(dir, { pid: 1004, startTime: 14, seq: 7 }, 0);
    assert.ok('lock' in c, 'released by the kernel');
    c.lock.release();
  });
  test('an unsafe lock folder is refused, never used: symlink, not a folder, other owner, group/other bits', () => {
    const lib = tmp('lku-');
    const dir = workerLockDir(lib, 'P.T');
    const target = tmp('lkt-');
    chmodSync(target, 0o700);
    symlinkSync(target, dir);
    assert.throws(
      () => tryWorkerLock(dir, { pid: 1, startTime: 1, seq: 0 }, 0),
      (e: Error) => e instanceof LockError && /symbolic link/.test(e.message),
    );
    rmSync(dir);
    writeFileSync(dir, '');
    assert.throws(() => tryWorkerLock(dir, { pid: 1, startTime: 1, seq: 0 }, 0), /is not a folder/);
    rmSync(dir);
    mkdirSync(dir, { mode: 0o700 });
    chmodSync(dir, 0o755);
    assert.throws(() => tryWorkerLock(dir, { pid: 1, startTime: 1, seq: 0 }, 0), /has mode 0755 \(group\/other access\)/);
    chmodSync(dir, 0o700);
    if (process.geteuid?.() === 0) {
      chownSync(dir, 65534, 65534);
      assert.throws(() => tryWorkerLock(dir, { pid: 1, startTime: 1, seq: 0 }, 0), /is owned by uid 65534, not 0/);
    }
    assert.throws(() => tryWorkerLock(dir, { pid: 1, startTime: 1, seq: 0 }, 4242), /is owned by uid \d+, not 4242/);
    assert.equal(existsSync(join(dir, 'worker.lock')), false, 'nothing created in a refused folder');
  });
  test('jitter: stable per key, within the span, spread across keys', () => {
    const h = 3_600_000;
    assert.equal(jitterMs(h, 10, 'vm-a'), jitterMs(h, 10, 'vm-a'));
    const vals = Array.from({ length: 200 }, (_, i) => jitterMs(h, 10, `vm-${i}`));
    assert.ok(vals.every((v) => v >= 0 && v < h / 10));
    assert.ok(new Set(vals.map((v) => Math.floor(v / 60_000))).size > 4, 'spread over minutes');
    assert.equal(jitterMs(h, 0, 'x'), 0);
  });
});

describe('handler CLI errors: one line, an exit code, no stack trace', () => {
  const cli = (args: string[]): Promise<Run> => cvmAttest(args, { source: true });
  test('no HandlerEnvironment.json; worker without --seq; unknown operation', async () => {
    const none = await cli(['handler', 'enable', '--extension-dir', '/nonexistent-ext']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^cvm-attest: cannot read \/nonexistent-ext\/HandlerEnvironment\.json: ENOENT .*\[E_HANDLER_ENV\]\n$/);
    const ext = tmp('cli-');
    writeFileSync(
      join(ext, 'HandlerEnvironment.json'),
      JSON.stringify([
        {
          name: 'P.T',
          handlerEnvironment: {
            logFolder: join(ext, 'log'),
            configFolder: join(ext, 'config'),
            statusFolder: join(ext, 'status'),
            heartbeatFile: join(ext, 'hb'),
          },
        },
      ]),
    );
    const noSeq = await cli(['handler', 'worker', '--extension-dir', ext]);
    assert.equal(noSeq.code, 2);
    assert.match(noSeq.stderr, /needs --seq N \[E_USAGE\]/);
    assert.doesNotMatch(noSeq.stderr, /\n\s+at /);
    const bad = await cli(['handler', 'reset', '--extension-dir', ext]);
    assert.equal(bad.code, 2);
    // The fast path (no yargs) takes only the exact forms; anything else still gets yargs' explanation.
    for (const args of [
      ['handler', 'worker', '--extension-dir', ext, '--seq', 'x'],
      ['handler', 'worker', '--extension-dir', ext, '--seq', '1', '--seq', '2'],
      ['handler', 'worker', '--extension-dir', ext, '--sequence', '1'],
      ['handler', 'worker', '--extension-dir'],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    const eq = await cli(['handler', 'worker', `--extension-dir=${ext}`]);
    assert.equal(eq.code, 2);
    assert.match(eq.stderr, /needs --seq N \[E_USAGE\]/, 'the --flag=value form reaches the handler');
  });
});

describe('handlers (real worker process)', () => {
  const setup = () => {
    const lib = tmp('hl-');
    const ext = join(lib, 'P.T-1.0.0');
    makeExtensionDir(ext, { publicSettings: { freshness: false }, mrseq: false });
    return ext;
  };
  const procs = (ext: string) =>
    readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          const a = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
          return a.includes('worker') && a.includes(ext);
        } catch {
          return false;
        }
      });
  test('disable right after enable (before the worker took its lock) leaves no worker running', async () => {
    const ext = setup();
    const { loadHandlerEnvironment } = await import('../../src/extension/handler-environment.js');
    const h = await import('../../src/extension/handlers.js');
    const logger = createExtLogger({ logFolder: join(ext, 'log'), operation: 'test' });
    const env = loadHandlerEnvironment(ext);
    const ctx = {
      ...makeContext(env, logger, {
        ConfigSequenceNumber: '0',
        CVM_ATTEST_TPM: 'device:/dev/cvm-attest-no-such-tpm',
        CVM_ATTEST_IMDS_ENDPOINT: 'http://127.0.0.1:9',
        PATH: process.env['PATH'] ?? '',
      }),
      self: { execPath: process.execPath, args: ['--import', import.meta.resolve('tsx'), join(root, 'src/cli/main.ts')] },
    }; // the worker's cwd is the extension folder
    assert.equal(await h.enable(ctx), 0);
    assert.equal(JSON.parse(readFileSync(join(ext, 'status', '0.status'), 'utf8'))[0].status.status, 'transitioning');
    assert.equal(await h.disable(ctx), 0);
    const deadline = Date.now() + 6000;
    while (procs(ext).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(procs(ext), [], 'no worker survives the disable');
    const st = JSON.parse(readFileSync(join(ext, 'status', '0.status'), 'utf8'))[0].status;
    assert.equal(st.operation, 'Disable');
    // enable again: the worker runs (no TPM here: the configured failure status, code 3)
    assert.equal(await h.enable(ctx), 0);
    const d2 = Date.now() + 15000;
    let s2: { operation: string; status: string; code: number } | undefined;
    while (Date.now() < d2) {
      s2 = JSON.parse(readFileSync(join(ext, 'status', '0.status'), 'utf8'))[0].status;
      if (s2?.operation === 'Enable' && s2.status !== 'transitioning') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(s2?.status, 'error');
    assert.equal(s2?.code, 3);
    assert.equal(procs(ext).length, 1);
    assert.equal(await h.uninstall(ctx), 0);
    assert.deepEqual(procs(ext), []);
    await logger.close();
  });
});

describe('enable when the worker cannot be started', () => {
  test('error status (code 4) and NotReady heartbeat instead of transitioning forever; returns at once', async () => {
    const lib = tmp('nospawn-');
    const ext = join(lib, 'P.T-1.0.0');
    for (const d of ['config', 'status']) mkdirSync(join(ext, d), { recursive: true });
    writeFileSync(
      join(ext, 'HandlerEnvironment.json'),
      JSON.stringify([
        {
          name: 'P.T',
          handlerEnvironment: {
            logFolder: join(ext, 'log'),
            configFolder: join(ext, 'config'),
            statusFolder: join(ext, 'status'),
            heartbeatFile: join(ext, 'hb'),
          },
        },
      ]),
    );
    writeFileSync(join(ext, 'config', '0.settings'), JSON.stringify({ runtimeSettings: [{ handlerSettings: { publicSettings: { freshness: false } } }] }));
    const { loadHandlerEnvironment } = await import('../../src/extension/handler-environment.js');
    const h = await import('../../src/extension/handlers.js');
    const logger = createExtLogger({ logFolder: join(ext, 'log'), operation: 'test' });
    // The runtime is missing (a broken package): spawn fails with ENOENT.
    const ctx = {
      ...makeContext(loadHandlerEnvironment(ext), logger, { ConfigSequenceNumber: '0' }),
      self: { execPath: join(ext, 'runtime', 'no-such-node'), args: [] },
    };
    const t0 = Date.now();
    assert.equal(await h.enable(ctx), 0);
    assert.ok(Date.now() - t0 < 1000, `enable took ${Date.now() - t0} ms`);
    const read = () =>
      JSON.parse(readFileSync(join(ext, 'status', '0.status'), 'utf8'))[0].status as {
        operation: string;
        status: string;
        code: number;
        formattedMessage: { message: string };
      };
    let st = read();
    assert.equal(st.status, 'error');
    assert.equal(st.code, 4);
    assert.match(st.formattedMessage.message, /worker could not be started.*ENOENT/);
    assert.equal(JSON.parse(readFileSync(join(ext, 'hb'), 'utf8'))[0].heartbeat.status, 'NotReady');
    // The same seq again (agent restart): still no worker, so still an error, not a stale success.
    assert.equal(await h.enable(ctx), 0);
    st = read();
    assert.equal(st.status, 'error');
    assert.equal(st.code, 4);
    await logger.close();
  });
});

/** An extension folder under a fresh library folder: config/0.settings with `pub`, mrseq 0. */
function mkExt(prefix: string, pub: Record<string, unknown> = { freshness: false }): { lib: string; ext: string } {
  const lib = tmp(prefix);
  const ext = join(lib, 'P.T-1.0.0');
  for (const d of ['config', 'status']) mkdirSync(join(ext, d), { recursive: true });
  writeFileSync(
    join(ext, 'HandlerEnvironment.json'),
    JSON.stringify([
      {
        name: 'P.T',
        version: 1,
        handlerEnvironment: {
          logFolder: join(ext, 'log'),
          configFolder: join(ext, 'config'),
          statusFolder: join(ext, 'status'),
          heartbeatFile: join(ext, 'hb'),
        },
      },
    ]),
  );
  writeFileSync(join(ext, 'config', '0.settings'), JSON.stringify({ runtimeSettings: [{ handlerSettings: { publicSettings: pub } }] }));
  writeFileSync(join(ext, 'mrseq'), '0');
  return { lib, ext };
}
const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined, close: async () => undefined };
type St = { operation: string; status: string; code: number; formattedMessage: { message: string } };
const readSt = (ext: string, seq = 0): St | undefined => {
  try {
    return JSON.parse(readFileSync(join(ext, 'status', `${seq}.status`), 'utf8'))[0].status as St;
  } catch {
    return undefined;
  }
};
const readHb = (ext: string) =>
  JSON.parse(readFileSync(join(ext, 'hb'), 'utf8'))[0].heartbeat as { status: string; code: number; formattedMessage: { message: string } };
async function until<T>(f: () => T | undefined, ms: number, what: string): Promise<T> {
  const deadline = performance.now() + ms; // not Date.now: a test below steps the wall clock
  for (;;) {
    const v = f();
    if (v) return v;
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const passEngine = (onRun?: () => void): Engine => ({
  async attest() {
    onRun?.();
    return { result: result('pass'), warnings: [] };
  },
  async buildPolicy() {
    return undefined;
  },
  async createSinks() {
    return undefined;
  },
});

describe('worker lock: another local user cannot hold it or fake it', () => {
  // A process of another uid binds the abstract name earlier versions locked with and answers with
  // the pid of whichever worker asks (read from /proc): before, the worker took that for "another
  // worker holds the lock" and exited without a status.
  const squatterScript = `
    const fs = require('fs');
    const ext = process.env.EXT;
    const workers = () => fs.readdirSync('/proc').filter((d) => /^\\d+$/.test(d)).filter((d) => {
      try { const a = fs.readFileSync('/proc/' + d + '/cmdline', 'utf8').split('\\0'); return a.includes('worker') && a.some((x) => x.startsWith(ext)); } catch { return false; }
    }).map(Number);
    const s = require('net').createServer((c) => { const w = workers(); c.end(JSON.stringify({ pid: w.length ? Math.max(...w) : process.pid, seq: 0 }) + '\\n'); });
    s.listen('\\0' + process.env.LOCK, () => console.log('ready'));`;
  const startSquatter = async (t: { after: (f: () => void) => void }, lib: string, ext: string) => {
    const imp = spawn(process.execPath, ['-e', squatterScript, 'handler', 'worker', '--seq', '0'], {
      uid: 65534,
      gid: 65534,
      env: { LOCK: legacyLockName(lib, 'P.T').slice(1), EXT: ext },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.after(() => {
      imp.kill('SIGKILL');
    });
    await new Promise<void>((res, rej) => {
      imp.stdout.once('data', () => res());
      imp.once('exit', (c) => rej(new Error(`squatter exited ${c}`)));
    });
    return imp;
  };

  test("a squatter (uid 65534) on the old abstract name answering with the asking worker's own pid: the real worker runs anyway", async (t) => {
    if (process.geteuid?.() !== 0) {
      t.skip('needs root to run the squatter as nobody');
      return;
    }
    const { lib, ext } = mkExt('squat-');
    const imp = await startSquatter(t, lib, ext);
    const { isOurWorker, procStartTime } = await import('../../src/extension/proc.js');
    assert.equal(isOurWorker(imp.pid!, procStartTime(imp.pid!)!), true, 'start time and command line alone are fooled');
    assert.equal(isOurWorker(imp.pid!, procStartTime(imp.pid!)!, 0), false, 'the uid is not');
    // the real worker process (no TPM here: it runs and reports the collection failure, code 3)
    const w = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'handler', 'worker', '--extension-dir', ext, '--seq', '0'], {
      cwd: root,
      env: { ...process.env, CVM_ATTEST_TPM: 'device:/dev/cvm-attest-no-such-tpm', CVM_ATTEST_IMDS_ENDPOINT: 'http://127.0.0.1:9' },
      stdio: 'ignore',
    });
    t.after(() => {
      w.kill('SIGKILL');
    });
    const st = await until(
      () => {
        const x = readSt(ext);
        return x && x.code === 3 ? x : undefined;
      },
      20_000,
      "the worker's run status",
    );
    assert.match(st.formattedMessage.message, /^evidence could not be collected/);
    assert.equal(w.exitCode, null, 'the worker keeps running');
    assert.equal(readHb(ext).status, 'Ready');
    // enable with the same seq and a final status: the squatter's answer (a real worker's pid, a seq
    // of its choosing) is checked against /proc, and the worker found is the real one.
    const { loadHandlerEnvironment } = await import('../../src/extension/handler-environment.js');
    const h = await import('../../src/extension/handlers.js');
    const logged: string[] = [];
    const logger = {
      ...quiet,
      info: (m: string) => {
        logged.push(m);
      },
    };
    const ctx = { ...makeContext(loadHandlerEnvironment(ext), logger, { ConfigSequenceNumber: '0' }), self: { execPath: '/bin/true', args: [] } };
    assert.equal(await h.enable(ctx), 0);
    assert.ok(
      logged.some((m) => /same seq, worker running/.test(m)),
      logged.join(' / '),
    );
    w.kill('SIGTERM');
    await new Promise((r) => w.once('close', r));
  });

  test("the old abstract-socket lock of an earlier version's worker is still found and that worker stopped (update)", async (t) => {
    const { lib, ext } = mkExt('legacy-');
    // an earlier version's worker: our uid, `handler worker --seq 3`, binds the old name, answers its pid
    const old = spawn(
      process.execPath,
      [
        '-e',
        `require('net').createServer((c) => c.end(JSON.stringify({ pid: process.pid, seq: 3 }) + '\\n')).listen('\\0' + process.env.LOCK, () => console.log('ready')); process.on('SIGTERM', () => process.exit(0))`,
        'handler',
        'worker',
        '--extension-dir',
        ext,
        '--seq',
        '3',
      ],
      { env: { LOCK: legacyLockName(lib, 'P.T').slice(1) }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    t.after(() => {
      old.kill('SIGKILL');
    });
    await new Promise((r) => old.stdout.once('data', r));
    const { loadHandlerEnvironment } = await import('../../src/extension/handler-environment.js');
    const h = await import('../../src/extension/worker-process.js');
    const ctx = makeContext(loadHandlerEnvironment(ext), quiet, {});
    assert.equal(await h.stopWorker(ctx, 2000), true, 'found by the old lock');
    await new Promise((r) => (old.exitCode !== null ? r(undefined) : old.once('close', r)));
    assert.equal(old.signalCode ?? old.exitCode, 0, 'stopped by SIGTERM');
    // The name now answers with a genuine worker of ANOTHER installation: never signalled.
    const otherExt = join(tmp('other-'), 'P.T-1.0.0');
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'handler', 'worker', '--extension-dir', otherExt, '--seq', '0'], {
      stdio: 'ignore',
    });
    t.after(() => {
      other.kill('SIGKILL');
    });
    const liar = spawn(
      process.execPath,
      [
        '-e',
        `require('net').createServer((c) => c.end(JSON.stringify({ pid: ${other.pid}, seq: 0 }) + '\\n')).listen('\\0' + process.env.LOCK, () => console.log('ready'))`,
      ],
      { env: { LOCK: legacyLockName(lib, 'P.T').slice(1) }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    t.after(() => {
      liar.kill('SIGKILL');
    });
    await new Promise((r) => liar.stdout.once('data', r));
    assert.equal(await h.stopWorker(ctx, 500), false, 'not a worker of this installation');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(other.exitCode, null, "the other installation's worker is untouched");
    assert.equal(other.signalCode, null);
  });

  test('a lock folder another uid made (unsafe): error status code 4 + NotReady; once it is gone the worker takes the lock and attests, no new enable', async (t) => {
    if (process.geteuid?.() !== 0) {
      t.skip('needs root to make the folder as nobody');
      return;
    }
    const { lib, ext } = mkExt('unsafe-');
    const dir = workerLockDir(lib, 'P.T');
    // (the real library folder is root-only; here it is opened for a moment so nobody can make the folder)
    chmodSync(lib, 0o1777);
    execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'mkdir', '-m', '0700', dir]);
    chmodSync(lib, 0o700);
    assert.equal(statSync(dir).uid, 65534);
    const { loadHandlerEnvironment } = await import('../../src/extension/handler-environment.js');
    let runs = 0;
    const stop = new AbortController();
    const done = runWorker(makeContext(loadHandlerEnvironment(ext), quiet, {}), {
      seq: 0,
      engine: passEngine(() => {
        runs++;
      }),
      lockRetryMs: 100,
      signal: stop.signal,
    });
    const st = await until(
      () => {
        const x = readSt(ext);
        return x?.status === 'error' ? x : undefined;
      },
      5000,
      'the error status',
    );
    assert.equal(st.code, 4);
    assert.match(st.formattedMessage.message, /^cvm-attest is not running: the worker lock folder .* is owned by uid 65534, not 0.*retrying/);
    assert.equal(readHb(ext).status, 'NotReady');
    assert.equal(readHb(ext).code, 4);
    assert.equal(runs, 0);
    rmSync(dir, { recursive: true }); // the squatter leaves
    await until(() => (readSt(ext)?.status === 'success' ? true : undefined), 5000, 'the first run after the squatter left');
    assert.equal(readHb(ext).status, 'Ready');
    assert.equal(statSync(dir).uid, 0, 'recreated by us');
    stop.abort();
    assert.equal(await done, 0);
  });

  test('the lock held by a process that is not a worker: error status code 4 + NotReady, then resumes when it exits', async (t) => {
    const { lib, ext } = mkExt('held-');
    const dir = workerLockDir(lib, 'P.T');
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, 'worker.lock'), '', { mode: 0o600 });
    // a root process holding the flock (not a cvm-attest worker), with a record pointing at us
    writeFileSync(join(dir, 'holder.json'), JSON.stringify({ pid: process.pid, startTime: 1, seq: 0 }));
    const holder = spawn('flock', [join(dir, 'worker.lock'), '-c', 'echo held; exec sleep 60'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    const killHolder = () => {
      try {
        process.kill(-holder.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    };
    t.after(killHolder);
    await new Promise((r) => holder.stdout.once('data', r));
    const { loadHandlerEnvironment } = await import('../../src/extension/handler-environment.js');
    let runs = 0;
    const stop = new AbortController();
    const done = runWorker(makeContext(loadHandlerEnvironment(ext), quiet, {}), {
      seq: 0,
      engine: passEngine(() => {
        runs++;
      }),
      lockWaitMs: 200,
      lockRetryMs: 100,
      signal: stop.signal,
    });
    const st = await until(
      () => {
        const x = readSt(ext);
        return x?.status === 'error' ? x : undefined;
      },
      5000,
      'the error status',
    );
    assert.equal(st.code, 4);
    assert.match(st.formattedMessage.message, /held by a process that is not a live cvm-attest worker/);
    assert.equal(readHb(ext).status, 'NotReady');
    assert.equal(runs, 0);
    killHolder();
    await until(() => (readSt(ext)?.status === 'success' ? true : undefined), 5000, 'the first run after the holder left');
    assert.equal(runs, 1);
    assert.equal(lockHolderRecord(dir, 0)?.pid, process.pid);
    stop.abort();
    assert.equal(await done, 0);
  });
});

describe('worker: every "cannot run" is a status, never stuck', () => {
  test('state/worker.json cannot be written (a folder in its place): error status code 4 + NotReady; resumes when fixed', async () => {
    const { ext } = mkExt('state-');
    mkdirSync(join(ext, 'state', 'worker.json'), { recursive: true });
    writeFileSync(join(ext, 'status', '0.status'), JSON.stringify(transitioningStatus('P.T', 'Enable', 'starting', new Date())));
    const { loadHandlerEnvironment } = await import('../../src/extension/handler-environment.js');
    const stop = new AbortController();
    const done = runWorker(makeContext(loadHandlerEnvironment(ext), quiet, {}), { seq: 0, engine: passEngine(), lockRetryMs: 100, signal: stop.signal });
    const st = await until(
      () => {
        const x = readSt(ext);
        return x?.status === 'error' ? x : undefined;
      },
      5000,
      'the error status',
    );
    assert.equal(st.code, 4);
    assert.match(st.formattedMessage.message, /state folder .* cannot be written \(E/);
    assert.equal(readHb(ext).status, 'NotReady');
    rmSync(join(ext, 'state', 'worker.json'), { recursive: true });
    await until(() => (readSt(ext)?.status === 'success' ? true : undefined), 5000, 'the run once state/ is writable');
    stop.abort();
    assert.equal(await done, 0);
  });

  test('config/<seq>.settings unreadable (a folder, a FIFO, not JSON): error status naming it, never the defaults; no hang', async () => {
    const { loadHandlerEnvironment } = await import('../../src/extension/handler-environment.js');
    const h = await import('../../src/extension/handlers.js');
    const cases: [string, (f: string) => void, RegExp][] = [
      ['folder', (f) => mkdirSync(f), /config\/0\.settings cannot be read \(it is a folder\)/],
      ['fifo', (f) => execFileSync('mkfifo', [f]), /config\/0\.settings cannot be read \(not a regular file\)/],
      ['invalid', (f) => writeFileSync(f, '{"runtimeSettings": ['), /not valid JSON/],
    ];
    for (const [label, make, re] of cases) {
      const { ext } = mkExt(`cfg-${label}-`);
      const f = join(ext, 'config', '0.settings');
      rmSync(f);
      make(f);
      const ctx = { ...makeContext(loadHandlerEnvironment(ext), quiet, { ConfigSequenceNumber: '0' }), self: { execPath: '/bin/false', args: [] } };
      const t0 = Date.now();
      assert.equal(await h.enable(ctx), 0, label);
      assert.ok(Date.now() - t0 < 3000, `${label}: enable returned`);
      const st = readSt(ext)!;
      assert.equal(st.status, 'error', label);
      assert.equal(st.code, 2, label);
      assert.match(st.formattedMessage.message, re, label);
      assert.equal(readHb(ext).status, 'NotReady', label);
      // the worker reads the same way
      assert.equal(await runWorker(makeContext(loadHandlerEnvironment(ext), quiet, {}), { seq: 0, engine: passEngine() }), 0);
      assert.equal(readSt(ext)!.code, 2, `${label}: worker`);
    }
  });

  test('a backward wall-clock step does not stall the schedule (monotonic clock); shown times stay wall-clock', async () => {
    const { ext } = mkExt('clock-', { intervalMinutes: 1, jitterPercent: 0 });
    const { loadHandlerEnvironment } = await import('../../src/extension/handler-environment.js');
    let runs = 0;
    let step = 0;
    const realNow = Date.now;
    // the host sets guest time one hour back after the first run
    Date.now = () => realNow() - step;
    try {
      const ctx = { ...makeContext(loadHandlerEnvironment(ext), quiet, {}), now: () => new Date(Date.now()) };
      const stop = new AbortController();
      const done = runWorker(ctx, {
        seq: 0,
        engine: passEngine(() => {
          runs++;
          if (runs === 1) step = 3_600_000;
        }),
        minuteMs: 50,
        signal: stop.signal,
      });
      await until(() => (runs >= 4 ? true : undefined), 3000, 'runs after the clock step');
      stop.abort();
      assert.equal(await done, 0);
      const next = /next run (\S+Z)/.exec(readSt(ext)!.formattedMessage.message)![1]!;
      const shown = new Date(next).getTime();
      assert.ok(Math.abs(shown - (realNow() - 3_600_000)) < 5_000, `next run ${next} is shown on the (stepped) wall clock`);
    } finally {
      Date.now = realNow;
    }
  });

  test('pcsEndpoint reaches the collector; CVM_ATTEST_PCS_ENDPOINT set for the agent wins', async () => {
    const { loadHandlerEnvironment } = await import('../../src/extension/handler-environment.js');
    for (const [env, want] of [
      [{}, 'https://pcs.example'],
      [{ CVM_ATTEST_PCS_ENDPOINT: 'http://127.0.0.1:9' }, 'http://127.0.0.1:9'],
    ] as const) {
      const { ext } = mkExt('pcs-', { freshness: false, pcsEndpoint: 'https://pcs.example' });
      let seen: string | undefined | null = null;
      const engine: Engine = {
        ...passEngine(),
        async attest(o) {
          seen = o.pcsEndpoint;
          return { result: result('pass'), warnings: [] };
        },
      };
      const stop = new AbortController();
      const done = runWorker(makeContext(loadHandlerEnvironment(ext), quiet, { ...env }), { seq: 0, engine, signal: stop.signal });
      await until(() => (seen !== null ? true : undefined), 3000, 'the run');
      stop.abort();
      assert.equal(await done, 0);
      assert.equal(seen, want);
    }
  });

  test('the heartbeat is refreshed on a timer during a long run', async () => {
    const { ext } = mkExt('beat-');
    writeFileSync(join(ext, 'hb'), JSON.stringify(heartbeatFile('Ready', 'cvm-attest worker starting')));
    const { loadHandlerEnvironment } = await import('../../src/extension/handler-environment.js');
    let started = false;
    const engine: Engine = {
      async attest(o) {
        started = true;
        await new Promise((r) => o.signal.addEventListener('abort', r, { once: true }));
        throw new Error('aborted');
      },
      async buildPolicy() {
        return undefined;
      },
      async createSinks() {
        return undefined;
      },
    };
    const stop = new AbortController();
    const done = runWorker(makeContext(loadHandlerEnvironment(ext), quiet, {}), { seq: 0, engine, heartbeatMs: 50, signal: stop.signal });
    await until(() => (started ? true : undefined), 3000, 'the run');
    const old = new Date(Date.now() - 11 * 60_000);
    utimesSync(join(ext, 'hb'), old, old);
    await new Promise((r) => setTimeout(r, 300));
    const age = Date.now() - statSync(join(ext, 'hb')).mtimeMs;
    assert.ok(age < 1000, `heartbeat ${Math.round(age)} ms old during the run`);
    assert.equal(readHb(ext).status, 'Ready');
    assert.match(readHb(ext).formattedMessage.message, /^attestation run in progress since /);
    stop.abort();
    assert.equal(await done, 0);
  });
});

describe('enable rejects a bad policy at once', () => {
  test('error status naming publicSettings.policy / minimumTcb; no worker', async () => {
    const lib = tmp('pol-');
    const ext = join(lib, 'P.T-1.0.0');
    for (const d of ['config', 'status']) mkdirSync(join(ext, d), { recursive: true });
    writeFileSync(
      join(ext, 'HandlerEnvironment.json'),
      JSON.stringify([
        {
          name: 'P.T',
          handlerEnvironment: {
            logFolder: join(ext, 'log'),
            configFolder: join(ext, 'config'),
            statusFolder: join(ext, 'status'),
            heartbeatFile: join(ext, 'hb'),
          },
        },
      ]),
    );
    const { loadHandlerEnvironment } = await import('../../src/extension/handler-environment.js');
    const h = await import('../../src/extension/handlers.js');
    const logger = createExtLogger({ logFolder: join(ext, 'log'), operation: 'test' });
    const cases: [number, Record<string, unknown>, RegExp][] = [
      [0, { policy: { allowDebugg: true } }, /setting publicSettings\.policy: policy: unknown key "allowDebugg"/],
      [1, { policy: { maxVmpl: 9 } }, /setting publicSettings\.policy: .*maxVmpl/],
    ];
    for (const [seq, pub, re] of cases) {
      writeFileSync(join(ext, 'config', `${seq}.settings`), JSON.stringify({ runtimeSettings: [{ handlerSettings: { publicSettings: pub } }] }));
      const ctx = { ...makeContext(loadHandlerEnvironment(ext), logger, { ConfigSequenceNumber: String(seq) }), self: { execPath: '/bin/false', args: [] } };
      assert.equal(await h.enable(ctx), 0);
      const st = JSON.parse(readFileSync(join(ext, 'status', `${seq}.status`), 'utf8'))[0].status;
      assert.equal(st.status, 'error');
      assert.equal(st.code, 2);
      assert.match(st.formattedMessage.message, re);
      assert.equal(JSON.parse(readFileSync(join(ext, 'hb'), 'utf8'))[0].heartbeat.status, 'NotReady');
    }
    await logger.close();
  });
});

describe('log', () => {
  test('JSON lines, size-capped and rotated, secret-looking fields redacted', async () => {
    const dir = tmp('log-');
    const log = createExtLogger({ logFolder: dir, operation: 'enable', maxBytes: 3000, maxFiles: 3 });
    // Paced like real use (winston's File transport loses lines if it must rotate inside one burst).
    for (let i = 0; i < 80; i++) {
      log.info('line', { i, pad: 'p'.repeat(40), clientSecret: 'hunter2', nested: { accessToken: 'tok' } });
      await new Promise((r) => setTimeout(r, 5));
    }
    await log.close();
    const files = readdirSync(dir);
    assert.ok(files.length >= 2 && files.length <= 3, files.join(','));
    let lines = 0;
    for (const f of files) {
      const text = readFileSync(join(dir, f), 'utf8');
      assert.ok(text.length <= 2 * 3000, `${f} ${text.length}`); // winston rotates once a write crosses maxsize
      assert.ok(!text.includes('hunter2') && !text.includes('"tok"'));
      for (const l of text.trim().split('\n')) {
        const o = JSON.parse(l) as Record<string, unknown>;
        assert.equal(o['op'], 'enable');
        lines++;
      }
    }
    assert.ok(lines > 0);
  });
});

describe('publicSettings.logLevel', () => {
  test('the worker logs at the configured level (warn: no info lines once the settings are read)', async () => {
    const ext = tmp('lvl-');
    for (const d of ['config', 'status']) mkdirSync(join(ext, d), { recursive: true });
    writeFileSync(
      join(ext, 'config', '0.settings'),
      JSON.stringify({ runtimeSettings: [{ handlerSettings: { publicSettings: { logLevel: 'warn', jitterPercent: 0 } } }] }),
    );
    writeFileSync(join(ext, 'mrseq'), '0');
    writeFileSync(
      join(ext, 'HandlerEnvironment.json'),
      JSON.stringify([
        {
          name: 'P.T',
          version: 1,
          handlerEnvironment: {
            logFolder: join(ext, 'log'),
            configFolder: join(ext, 'config'),
            statusFolder: join(ext, 'status'),
            heartbeatFile: join(ext, 'hb'),
          },
        },
      ]),
    );
    const { loadHandlerEnvironment } = await import('../../src/extension/handler-environment.js');
    const env = loadHandlerEnvironment(ext);
    const logger = createExtLogger({ logFolder: env.logFolder, operation: 'worker' });
    let runs = 0;
    const engine: Engine = {
      async attest() {
        runs++;
        if (runs === 2) throw new Error('boom');
        return { result: result('pass'), warnings: [] };
      },
      async buildPolicy() {
        return undefined;
      },
      async createSinks() {
        return undefined;
      },
    };
    const stop = new AbortController();
    const done = runWorker(makeContext(env, logger, {}), { seq: 0, engine, minuteMs: 1, signal: stop.signal });
    const deadline = Date.now() + 3000;
    while (runs < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    stop.abort();
    assert.equal(await done, 0);
    await logger.close();
    const lines = readFileSync(join(ext, 'log', 'cvm-attest.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(!lines.some((l) => l['message'] === 'attestation run'), 'info lines after the settings were read');
    assert.ok(
      lines.some((l) => l['message'] === 'attestation run failed' && l['level'] === 'warn'),
      'warnings still logged',
    );
  });
});

describe('worker that cannot start', () => {
  test('status and heartbeat carry the same code: 4 for an internal error, 2 for bad settings', async () => {
    const ext = tmp('wstart-');
    for (const d of ['config', 'status']) mkdirSync(join(ext, d), { recursive: true });
    writeFileSync(join(ext, 'config', '0.settings'), JSON.stringify({ runtimeSettings: [{ handlerSettings: { publicSettings: {} } }] }));
    writeFileSync(join(ext, 'mrseq'), '0');
    writeFileSync(
      join(ext, 'HandlerEnvironment.json'),
      JSON.stringify([
        {
          name: 'P.T',
          version: 1,
          handlerEnvironment: {
            logFolder: join(ext, 'log'),
            configFolder: join(ext, 'config'),
            statusFolder: join(ext, 'status'),
            heartbeatFile: join(ext, 'hb'),
          },
        },
      ]),
    );
    const { loadHandlerEnvironment } = await import('../../src/extension/handler-environment.js');
    const env = loadHandlerEnvironment(ext);
    const logger = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined, close: async () => undefined };
    for (const [err, code] of [
      [new Error('policy engine broke'), 4],
      [new SettingsError('publicSettings.policy', 'bad'), 2],
    ] as const) {
      const engine: Engine = {
        async attest() {
          throw new Error('must not run');
        },
        async buildPolicy() {
          throw err;
        },
        async createSinks() {
          return undefined;
        },
      };
      assert.equal(await runWorker(makeContext(env, logger, {}), { seq: 0, engine }), 0);
      const st = JSON.parse(readFileSync(join(ext, 'status', '0.status'), 'utf8'))[0].status;
      const hb = JSON.parse(readFileSync(join(ext, 'hb'), 'utf8'))[0].heartbeat;
      assert.equal(st.code, code);
      assert.equal(hb.status, 'NotReady');
      assert.equal(hb.code, code);
    }
  });
});

describe('worker loop (in-process, engine double for timing only; real parts in agent.test.ts)', () => {
  test('attests at once, then every interval; rewrites status and heartbeat each run; stops on abort', async () => {
    const ext = tmp('wk-');
    const lib = join(ext, '..');
    for (const d of ['config', 'status']) mkdirSync(join(ext, d), { recursive: true });
    writeFileSync(
      join(ext, 'config', '0.settings'),
      JSON.stringify({ runtimeSettings: [{ handlerSettings: { publicSettings: { intervalMinutes: 1, jitterPercent: 0 } } }] }),
    );
    writeFileSync(join(ext, 'mrseq'), '0');
    writeFileSync(
      join(ext, 'HandlerEnvironment.json'),
      JSON.stringify([
        {
          name: 'P.T',
          version: 1,
          handlerEnvironment: {
            logFolder: join(ext, 'log'),
            configFolder: join(ext, 'config'),
            statusFolder: join(ext, 'status'),
            heartbeatFile: join(ext, 'heartbeat.log'),
          },
        },
      ]),
    );
    const { loadHandlerEnvironment } = await import('../../src/extension/handler-environment.js');
    const env = loadHandlerEnvironment(ext);
    assert.equal(env.libDir, lib);
    const logger = createExtLogger({ logFolder: env.logFolder, operation: 'worker' });
    const ctx = makeContext(env, logger, {});
    let runs = 0;
    const seen: string[] = [];
    const engine: Engine = {
      async attest() {
        runs++;
        return { result: result(runs % 2 ? 'pass' : 'fail'), warnings: [] };
      },
      async buildPolicy() {
        return undefined;
      },
      async createSinks() {
        return undefined;
      },
    };
    const stop = new AbortController();
    const done = runWorker(ctx, { seq: 0, engine, minuteMs: 40, signal: stop.signal });
    const deadline = Date.now() + 3000;
    while (runs < 4 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      try {
        seen.push(JSON.parse(readFileSync(join(ext, 'status', '0.status'), 'utf8'))[0].status.status);
      } catch {
        /* not yet */
      }
    }
    stop.abort();
    assert.equal(await done, 0);
    assert.ok(runs >= 4, `runs ${runs}`);
    assert.ok(seen.includes('success') && seen.includes('error'), 'status rewritten after every run');
    assert.equal(JSON.parse(readFileSync(join(ext, 'heartbeat.log'), 'utf8'))[0].heartbeat.status, 'Ready');
    assert.equal(readdirSync(join(ext, 'state')).includes('worker.json'), false, 'record removed on stop');
    const after = runs;
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(runs, after, 'no run after stop');

    // Between runs the worker sleeps on one timer that only refreshes the heartbeat (agent: 10 min rule).
    writeFileSync(
      join(ext, 'config', '1.settings'),
      JSON.stringify({ runtimeSettings: [{ handlerSettings: { publicSettings: { intervalMinutes: 60, jitterPercent: 0 } } }] }),
    );
    writeFileSync(join(ext, 'mrseq'), '1');
    const stop2 = new AbortController();
    const runsBefore = runs;
    const done2 = runWorker(ctx, { seq: 1, engine, minuteMs: 60_000, heartbeatMs: 60, signal: stop2.signal });
    const hbFile = join(ext, 'heartbeat.log');
    while (runs === runsBefore) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 30));
    const m1 = (await import('node:fs')).statSync(hbFile).mtimeMs;
    await new Promise((r) => setTimeout(r, 250));
    const m2 = (await import('node:fs')).statSync(hbFile).mtimeMs;
    stop2.abort();
    assert.equal(await done2, 0);
    assert.equal(runs, runsBefore + 1, 'one run, the next is an hour away');
    assert.ok(m2 > m1, 'heartbeat refreshed between runs');
    assert.match(JSON.parse(readFileSync(hbFile, 'utf8'))[0].heartbeat.formattedMessage.message, /^last run .*; next /);
    await logger.close();
    const lines = readFileSync(join(ext, 'log', 'cvm-attest.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(lines.some((l) => l['message'] === 'attestation run' && l['op'] === 'worker'));
  });
});
void root;
