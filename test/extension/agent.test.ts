// The extension driven by the REAL Azure Linux agent (Debian's waagent, unpacked; only its HTTP
// function replaced by a wire-server fake in test/agent/harness.py): the zip from scripts/package.mjs,
// protected settings encrypted to the certificate the agent itself received and wrote, the genoa HCL
// report replayed through `file:` and the IMDS emulator serving its VCEK, the debug-enabled vector for
// failures. Asserts the aggregate status the agent uploads at every step.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, statSync, existsSync, copyFileSync, rmSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { utimesSync } from 'node:fs';
import { legacyLockName } from '../../src/extension/lock.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import {
  agentPythonPath,
  buildPackage,
  startAgentHarness,
  handlerStatus,
  settleStatus,
  HANDLER,
  type AgentHarness,
  type HandlerAggregate,
} from './agent-harness.js';
import { fixture, fixturePath, text as fx } from '../helpers/fixtures.js';
import { startImdsEmulator, type ImdsEmulator } from '../emulators/imds.js';
import { parsePolicy, policySummary } from '../../src/policy/policy.js';

const GENOA_TPM = `file:${fixturePath('azure-hcl/genoa')}`;
const DEBUG_TPM = `file:${fixturePath('negative/debug-enabled-report.bin')}`;
const V1 = '1.0.0';
const V2 = '1.0.1';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Live `handler worker` processes serving an extension under `under`. */
function workers(under: string): { pid: number; argv: string[] }[] {
  const out: { pid: number; argv: string[] }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      const i = argv.indexOf('worker');
      if (i > 0 && argv[i - 1] === 'handler' && argv.some((a) => a.startsWith(under))) out.push({ pid: Number(d), argv });
    } catch {
      /* gone */
    }
  }
  return out;
}

describe('VM extension with the real Azure Linux agent', { timeout: 240_000 }, () => {
  let py: string;
  const work = mkdtempSync(join(tmpdir(), 'cvm-attest-agent-'));
  const lib = join(work, 'lib');
  const saved = join(work, 'saved-status');
  let agent: AgentHarness;
  let genoa: ImdsEmulator;
  let debug: ImdsEmulator;
  const extDir = (v: string) => join(lib, `${HANDLER}-${v}`);
  const savedFiles: string[] = [];
  let squatter: ChildProcess | undefined;

  const settle = (seq: number, timeoutMs = 30_000): Promise<HandlerAggregate> => settleStatus(agent, seq, timeoutMs);

  /** Keeps a copy of the current status file so every kind the product writes is checked by parse_ext_status. */
  function keep(version: string, seq: number, label: string) {
    const f = join(extDir(version), 'status', `${seq}.status`);
    if (existsSync(f)) {
      const to = join(saved, `${savedFiles.length}-${label}.status`);
      copyFileSync(f, to);
      savedFiles.push(to);
    }
  }

  before(async () => {
    py = agentPythonPath();
    const pkgDir = join(work, 'packages');
    const [z1, z2] = await Promise.all([buildPackage(V1, pkgDir), buildPackage(V2, pkgDir)]);
    for (const z of [z1, z2]) assert.ok(statSync(z).size < 50 * 1024 * 1024, `${z} under 50 MB`);
    genoa = await startImdsEmulator({ thim: { vcekPem: fx('azure-hcl/genoa/vcek.pem'), chainPem: fx('amd/ask_ark_genoa.pem'), tcbm: '541700000000000A' } });
    debug = await startImdsEmulator({
      thim: {
        vcekPem: new X509Certificate(fixture('negative/debug-enabled-vcek.der')).toString(),
        chainPem: fx('amd/ask_ark_milan.pem'),
        tcbm: '4405000000000002',
      },
    });
    // The heartbeat timer at 200 ms (instead of minutes) so a hung run's heartbeat can be watched.
    agent = startAgentHarness(py, { CVM_ATTEST_TPM: GENOA_TPM, CVM_ATTEST_IMDS_ENDPOINT: genoa.url, CVM_ATTEST_HEARTBEAT_MS: '200' });
    const init = await agent.call<{ thumbprint: string; certWritten: boolean }>({ op: 'init', work, handler: HANDLER, packages: { [V1]: z1, [V2]: z2 } });
    assert.equal(init.certWritten, true, 'the agent decrypted the Certificates document and wrote <thumbprint>.crt/.prv');
    (await import('node:fs')).mkdirSync(saved, { recursive: true });
  });

  after(async () => {
    squatter?.kill('SIGKILL');
    await agent?.close();
    for (const w of workers(work)) {
      try {
        process.kill(w.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await genoa?.close();
    await debug?.close();
    rmSync(work, { recursive: true, force: true });
  });

  // The replayed HCL report comes with a recorded quote that cannot match a fresh nonce: no quote.
  const NOQ = { freshness: false };
  const protectedPolicy = { allowDebug: false, maxVmpl: 0, crl: 'off' };

  test('lifecycle: install+enable, same seq, new seqs, bad settings, kill -9, concurrent enables, update, downgrade, disable, uninstall', async (t) => {
    // --- a local user (nobody) squats the abstract lock name of earlier versions for the whole
    // lifecycle and answers every asker with the pid of the newest worker: it must change nothing ---
    if (process.geteuid?.() === 0) {
      const script = `
        const fs = require('fs');
        const workers = () => fs.readdirSync('/proc').filter((d) => /^\\d+$/.test(d)).filter((d) => {
          try { const a = fs.readFileSync('/proc/' + d + '/cmdline', 'utf8').split('\\0'); return a.includes('worker') && a.includes('handler'); } catch { return false; }
        }).map(Number);
        require('net').createServer((c) => { const w = workers(); c.end(JSON.stringify({ pid: w.length ? Math.max(...w) : process.pid, seq: 6 }) + '\\n'); })
          .listen('\\0' + process.env.LOCK, () => console.log('ready'));`;
      const sq = spawn(process.execPath, ['-e', script, 'handler', 'worker'], {
        uid: 65534,
        gid: 65534,
        env: { LOCK: legacyLockName(lib, HANDLER).slice(1) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      squatter = sq;
      await new Promise<void>((res, rej) => {
        sq.stdout.once('data', () => res());
        sq.once('exit', (c) => rej(new Error(`squatter exited ${c}`)));
      });
    }

    // --- install + enable, protected settings encrypted to the agent's certificate ---
    await agent.call({
      op: 'goal_state',
      version: V1,
      seq: 0,
      public: { intervalMinutes: 60, jitterPercent: 10, freshness: false },
      protected: { policy: protectedPolicy },
    });
    const run0 = await agent.call<{ seconds: number }>({ op: 'run' });
    assert.ok(existsSync(join(extDir(V1), 'HandlerEnvironment.json')));
    // the package as unzipped by the agent: manifest at the root, one bundle, its own runtime
    assert.deepEqual(readdirSync(join(extDir(V1), 'bin')).sort(), ['VERSION', 'cvm-attest.mjs', 'handler.sh']);
    assert.deepEqual(readdirSync(join(extDir(V1), 'runtime')), ['node']);
    assert.ok(existsSync(join(extDir(V1), 'HandlerManifest.json')));
    assert.equal(existsSync(join(extDir(V1), 'node_modules')), false);
    keep(V1, 0, 'transitioning');
    let h = await settle(0);
    let st = h.runtimeSettingsStatus!.settingsStatus.status;
    assert.equal(h.status, 'Ready', 'handler Ready (from our heartbeat)');
    assert.equal(h.handlerVersion, V1);
    assert.equal(st.status, 'success', st.formattedMessage?.message);
    assert.equal(st.code, 0);
    assert.match(st.formattedMessage!.message, /^PASS: genuine AMD SEV-SNP \(Genoa\)/);
    // the protected policy was decrypted and applied: its hash is in the message
    const hash = policySummary(parsePolicy(protectedPolicy)).hash.slice(0, 12);
    assert.ok(st.formattedMessage!.message.includes(`policy ${hash}`), st.formattedMessage!.message);
    const names = (st.substatus ?? []).map((s) => s.name);
    for (const g of ['check: signature', 'check: chain', 'check: tcb', 'check: runtime-data', 'claims'])
      assert.ok(names.includes(g), `substatus ${g} in ${names.join(', ')}`);
    const claims = JSON.parse(st.substatus!.find((s) => s.name === 'claims')!.formattedMessage!.message) as Record<string, unknown>;
    assert.equal(claims['x-ms-sevsnpvm-is-debuggable'], false);
    keep(V1, 0, 'success');
    const hb = JSON.parse(readFileSync(join(extDir(V1), 'heartbeat.log'), 'utf8'));
    assert.equal(hb[0].heartbeat.status, 'Ready');
    const w0 = workers(work);
    assert.equal(w0.length, 1, 'one worker');
    // detached: its own session and process group, not the agent's (which the agent may kill)
    const stat = readFileSync(`/proc/${w0[0]!.pid}/stat`, 'utf8');
    const [pgrp, sid] = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .slice(2, 4)
      .map(Number);
    assert.equal(pgrp, w0[0]!.pid, 'own process group');
    assert.equal(sid, w0[0]!.pid, 'own session');
    assert.notEqual(sid, agent.child.pid);
    t.diagnostic(`install+enable through the agent: ${run0.seconds.toFixed(2)} s`);

    // --- enable again, same seq (agent restart): nothing changes ---
    const sfile = join(extDir(V1), 'status', '0.status');
    const before0 = { text: readFileSync(sfile, 'utf8'), mtime: statSync(sfile).mtimeMs };
    await agent.call({ op: 'run', restart: true });
    await agent.call({
      op: 'goal_state',
      version: V1,
      seq: 0,
      public: { intervalMinutes: 60, jitterPercent: 10, freshness: false },
      protected: { policy: protectedPolicy },
    });
    await agent.call({ op: 'run' });
    await sleep(300);
    assert.equal(readFileSync(sfile, 'utf8'), before0.text, 'same seq: status untouched');
    assert.equal(statSync(sfile).mtimeMs, before0.mtime);
    assert.deepEqual(
      workers(work).map((w) => w.pid),
      w0.map((w) => w.pid),
      'same worker',
    );

    // --- new seq: the debug-enabled vector, statusOnFailure warning ---
    await agent.call({ op: 'env', set: { CVM_ATTEST_TPM: DEBUG_TPM, CVM_ATTEST_IMDS_ENDPOINT: debug.url } });
    await agent.call({ op: 'goal_state', version: V1, seq: 1, public: { statusOnFailure: 'warning', freshness: false, sinks: {} }, protected: null });
    await agent.call({ op: 'run' });
    h = await settle(1);
    st = h.runtimeSettingsStatus!.settingsStatus.status;
    assert.equal(st.status, 'warning', st.formattedMessage?.message);
    assert.equal(st.code, 1);
    assert.match(st.formattedMessage!.message, /^FAIL: .*policy\.debug/);
    assert.equal(st.substatus!.find((s) => s.name === 'check: policy')?.status, 'warning');
    // the sinks (none configured, alerts still evaluated) report in the status
    assert.match(st.substatus!.find((s) => s.name === 'sink: azureMonitor')?.formattedMessage?.message ?? '', /^disabled/);
    assert.ok(
      st.substatus!.some((s) => s.name.startsWith('alert: ') && /debugging enabled/i.test(s.name)),
      JSON.stringify(st.substatus!.map((s) => s.name)),
    );
    const w1 = workers(work);
    assert.equal(w1.length, 1);
    assert.notEqual(w1[0]!.pid, w0[0]!.pid, 'a new worker for the new settings');
    keep(V1, 1, 'warning');

    // --- new seq, default statusOnFailure: error ---
    await agent.call({ op: 'goal_state', version: V1, seq: 2, public: NOQ, protected: null });
    await agent.call({ op: 'run' });
    h = await settle(2);
    assert.equal(h.runtimeSettingsStatus!.settingsStatus.status.status, 'error');
    assert.equal(h.runtimeSettingsStatus!.settingsStatus.status.code, 1);
    keep(V1, 2, 'fail-error');

    // --- bad settings: error naming the setting, no worker, handler NotReady (heartbeat) ---
    await agent.call({ op: 'goal_state', version: V1, seq: 3, public: { intervalMinutes: 0, freshness: false }, protected: null });
    await agent.call({ op: 'run' });
    h = await settle(3);
    st = h.runtimeSettingsStatus!.settingsStatus.status;
    assert.equal(st.status, 'error');
    assert.equal(st.code, 2);
    assert.match(st.formattedMessage!.message, /publicSettings\.intervalMinutes/);
    assert.equal(h.status, 'NotReady', 'the agent read our NotReady heartbeat');
    assert.equal(workers(work).length, 0);
    keep(V1, 3, 'settings-error');

    // --- evidence cannot be collected (no TPM device): the configured failure status, code 3, worker keeps going ---
    await agent.call({ op: 'env', set: { CVM_ATTEST_TPM: 'device:/dev/cvm-attest-no-such-tpm', CVM_ATTEST_IMDS_ENDPOINT: genoa.url } });
    await agent.call({ op: 'goal_state', version: V1, seq: 5, public: { ...NOQ, statusOnFailure: 'warning' }, protected: null });
    await agent.call({ op: 'run' });
    h = await settle(5);
    st = h.runtimeSettingsStatus!.settingsStatus.status;
    assert.equal(st.status, 'warning');
    assert.equal(st.code, 3);
    assert.match(st.formattedMessage!.message, /^evidence could not be collected: no TPM device .*E_TPM_NO_DEVICE.*next run/);
    assert.equal(h.status, 'Ready', 'the worker itself is healthy');
    assert.equal(workers(work).length, 1);
    keep(V1, 5, 'collection-error');

    // --- kill -9 in the middle of a run leaves a valid status; the next enable recovers ---
    await agent.call({ op: 'env', set: { CVM_ATTEST_TPM: GENOA_TPM, CVM_ATTEST_IMDS_ENDPOINT: genoa.url } });
    genoa.setFault({ kind: 'hang' }, { path: 'all' });
    await agent.call({ op: 'goal_state', version: V1, seq: 6, public: NOQ, protected: null });
    await agent.call({ op: 'run' });
    let deadline = Date.now() + 5000;
    while (!genoa.requests.some((r) => r.status === 0) && Date.now() < deadline) await sleep(50);
    assert.ok(
      genoa.requests.some((r) => r.status === 0),
      'the worker is waiting on IMDS (mid-run)',
    );
    const hung = workers(work);
    assert.equal(hung.length, 1, 'worker mid-run');
    // The heartbeat keeps beating during the run: made 11 minutes old, it is fresh again at once,
    // and the agent does not call the handler Unresponsive (its limit is 10 minutes).
    const hbFile = join(extDir(V1), 'heartbeat.log');
    const old = new Date(Date.now() - 11 * 60_000);
    utimesSync(hbFile, old, old);
    await sleep(700);
    h = handlerStatus((await agent.call<{ upload: unknown }>({ op: 'report' })).upload)!;
    assert.equal(h.status, 'Ready', `the agent's view of a worker mid-run: ${h.status}`);
    assert.match(JSON.parse(readFileSync(hbFile, 'utf8'))[0].heartbeat.formattedMessage.message, /^attestation run in progress since /);
    process.kill(hung[0]!.pid, 'SIGKILL');
    await sleep(200);
    const parsed = await agent.call<{ ok: boolean; status: string; error?: string }>({ op: 'parse_status', path: join(extDir(V1), 'status', '6.status') });
    assert.equal(parsed.ok, true, parsed.error);
    assert.equal(parsed.status, 'transitioning');
    keep(V1, 6, 'killed');
    genoa.setFault(undefined);
    await agent.call({ op: 'run', restart: true });
    h = await settle(6);
    assert.equal(h.runtimeSettingsStatus!.settingsStatus.status.status, 'success');
    assert.equal(workers(work).length, 1);

    // --- two enables at once start one worker ---
    const enableEnv = { ...process.env, ConfigSequenceNumber: '6', CVM_ATTEST_TPM: GENOA_TPM, CVM_ATTEST_IMDS_ENDPOINT: genoa.url };
    const runEnable = () =>
      new Promise<number>((resolve) => {
        const p = spawn(join(extDir(V1), 'bin/handler.sh'), ['enable'], { cwd: extDir(V1), env: enableEnv, stdio: 'ignore' });
        p.on('close', (c) => resolve(c ?? -1));
      });
    for (const w of workers(work)) process.kill(w.pid, 'SIGKILL');
    await sleep(100);
    const logFile = join(work, 'log', HANDLER, 'cvm-attest.log');
    const logBefore = readFileSync(logFile, 'utf8').length; // earlier enables' lines do not count below
    // IMDS hangs: the worker's first run cannot finish while it does, so two enables that both return
    // (whatever this machine's speed) prove that neither waits for the other's worker or its run.
    const hungBefore = genoa.requests.filter((r) => r.status === 0).length;
    genoa.setFault({ kind: 'hang' }, { path: 'all' });
    const codes = await Promise.all([runEnable(), runEnable()]);
    assert.deepEqual(codes, [0, 0]);
    // The loser either finds the lock held by a worker for the same seq and exits at once, or (when
    // the winner's worker was already up) its enable sees that worker and starts none.
    deadline = Date.now() + 8000;
    while (workers(work).length !== 1 && Date.now() < deadline) await sleep(100);
    await sleep(500);
    assert.equal(workers(work).length, 1, 'exactly one worker');
    deadline = Date.now() + 8000;
    while (genoa.requests.filter((r) => r.status === 0).length === hungBefore && Date.now() < deadline) await sleep(50);
    assert.ok(genoa.requests.filter((r) => r.status === 0).length > hungBefore, 'the one worker is mid-run (waiting on IMDS) after both enables returned');
    const lost = readFileSync(logFile, 'utf8')
      .slice(logBefore)
      .split('\n')
      .filter(
        (l) =>
          l.includes('another worker holds the lock') ||
          (l.includes('"seq":6') && (l.includes('worker for this seq is already on its first run') || l.includes('same seq, worker running; nothing to do'))),
      );
    assert.ok(lost.length >= 1, 'the second enable or its worker saw the first worker');
    for (const w of workers(work)) process.kill(w.pid, 'SIGKILL');
    await sleep(100);
    genoa.setFault(undefined);
    await agent.call({ op: 'run', restart: true });
    h = await settle(6);
    assert.equal(h.runtimeSettingsStatus!.settingsStatus.status.status, 'success');

    // --- update 1.0.0 -> 1.0.1: state carried ---
    const seed = readFileSync(join(extDir(V1), 'state', 'jitter-seed'), 'utf8');
    const cacheEntries = readdirSync(join(extDir(V1), 'state', 'cache'), { recursive: true }).length;
    assert.ok(cacheEntries > 0, 'the certificate cache has entries to carry');
    await agent.call({ op: 'goal_state', version: V2, seq: 6, public: NOQ, protected: null });
    await agent.call({ op: 'run' });
    assert.equal(existsSync(extDir(V1)), false, 'old version removed');
    assert.equal(readFileSync(join(extDir(V2), 'state', 'jitter-seed'), 'utf8'), seed, 'state carried');
    assert.equal(readdirSync(join(extDir(V2), 'state', 'cache'), { recursive: true }).length, cacheEntries, 'cache carried');
    h = await settle(6);
    assert.equal(h.handlerVersion, V2);
    assert.equal(h.status, 'Ready');
    assert.equal(h.runtimeSettingsStatus!.settingsStatus.status.status, 'success');
    const w2 = workers(work);
    assert.equal(w2.length, 1);
    assert.ok(
      w2[0]!.argv.some((a) => a.startsWith(extDir(V2))),
      'the worker runs the new version',
    );

    // --- downgrade 1.0.1 -> 1.0.0: the agent runs the OLD (higher) version's update; state still carried ---
    await agent.call({ op: 'goal_state', version: V1, seq: 6, public: NOQ, protected: null });
    await agent.call({ op: 'run' });
    assert.equal(existsSync(extDir(V2)), false, 'the higher version removed');
    assert.equal(readFileSync(join(extDir(V1), 'state', 'jitter-seed'), 'utf8'), seed, 'state carried on downgrade');
    h = await settle(6);
    assert.equal(h.handlerVersion, V1);
    assert.equal(h.runtimeSettingsStatus!.settingsStatus.status.status, 'success');
    const w3 = workers(work);
    assert.equal(w3.length, 1);
    assert.ok(w3[0]!.argv.some((a) => a.startsWith(extDir(V1))));

    // --- back up to 1.0.1 for the rest ---
    await agent.call({ op: 'goal_state', version: V2, seq: 6, public: NOQ, protected: null });
    await agent.call({ op: 'run' });
    h = await settle(6);
    assert.equal(h.handlerVersion, V2);

    // --- disable ---
    await agent.call({ op: 'goal_state', version: V2, state: 'disabled', seq: 6, public: NOQ, protected: null });
    await agent.call({ op: 'run' });
    deadline = Date.now() + 3000;
    while (workers(work).length && Date.now() < deadline) await sleep(50);
    assert.equal(workers(work).length, 0, 'worker stopped');
    const rep = await agent.call<{ upload: unknown }>({ op: 'report' });
    h = handlerStatus(rep.upload)!;
    assert.equal(h.status, 'NotReady');
    st = h.runtimeSettingsStatus!.settingsStatus.status;
    assert.equal(st.operation, 'Disable');
    assert.equal(st.status, 'success');
    assert.match(st.formattedMessage!.message, /disabled: worker stopped/);
    keep(V2, 6, 'disabled');

    // --- uninstall: folder gone, logs kept ---
    await agent.call({ op: 'goal_state', version: V2, state: 'uninstall', seq: 6, public: NOQ, protected: null });
    await agent.call({ op: 'run' });
    assert.equal(existsSync(extDir(V2)), false);
    // logFile: the handler log, declared above
    assert.ok(existsSync(logFile), 'logs kept');
    const lines = readFileSync(logFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(lines.some((l) => l['message'] === 'uninstalled: state removed, logs kept'));
    assert.equal(workers(work).length, 0);

    // --- the protected settings' plaintext is nowhere on disk (logs, state, status) ---
    const plain = JSON.stringify(protectedPolicy).slice(1, -1);
    const scan = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? scan(join(d, e.name)) : [join(d, e.name)]));
    for (const f of [...scan(join(work, 'log')), ...scan(lib)]) {
      assert.ok(!readFileSync(f).toString('latin1').includes(plain), `protected settings in clear in ${f}`);
    }

    // --- every status file kind written above passes the agent's own parse_ext_status ---
    assert.ok(savedFiles.length >= 7);
    for (const f of savedFiles) {
      const r = await agent.call<{ ok: boolean; error?: string }>({ op: 'parse_status', path: f });
      assert.equal(r.ok, true, `${f}: ${r.error}`);
    }
  });
});
