// `npm run demo` end to end: runs `node scripts/demo.mjs` on this checkout's build (npm test builds
// first) and checks what it prints (both verdicts, the records and alerts Azure Monitor received, the
// HTML reports) and that it cleans up (no worker left, its temp folder gone). Then `cvm-attest status`
// on a demo VM kept with --keep, in text and JSON.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cvmAttestSync, ROOT as root, runNode, type Run as Exited } from '../helpers/cli.js';

const cli = join(root, 'dist/bundle/cli.mjs');

interface Run extends Exited {
  ms: number;
}

async function runDemo(args: string[]): Promise<Run> {
  const t0 = Date.now();
  const r = await runNode([join(root, 'scripts/demo.mjs'), ...args], { timeoutMs: 60_000 });
  return { ...r, ms: Date.now() - t0 };
}

/** True while pid runs a cvm-attest worker (the demo's workers must all be gone). */
function isWorkerAlive(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const i = argv.indexOf('handler');
    return i >= 0 && argv[i + 1] === 'worker';
  } catch {
    return false;
  }
}

function section(out: string, title: RegExp): string {
  const lines = out.split('\n');
  const start = lines.findIndex((l) => title.test(l));
  assert.ok(start >= 0, `no section ${title} in the output`);
  const end = lines.findIndex((l, i) => i > start && /^\d+\. /.test(l));
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

describe('npm run demo', () => {
  let reports: string;
  let run: Run;
  before(async () => {
    assert.ok(existsSync(cli), `${cli} is missing: run \`npm run build\` first (npm test does)`);
    reports = mkdtempSync(join(tmpdir(), 'cvm-attest-demo-test-'));
    run = await runDemo(['--reports-dir', reports]);
    process.stderr.write(`demo took ${run.ms} ms\n`);
  });
  after(() => rmSync(reports, { recursive: true, force: true }));

  test('exits 0 and says it finished without problems', () => {
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /done in \d+\.\d+ s\n/);
    assert.doesNotMatch(run.stdout, /UNEXPECTED|WITH PROBLEMS|demo failed/);
  });

  test('prints, in order: set-up, enable -> status (transitioning, then final), verdict with checks, Azure Monitor, HTML report', () => {
    const o = run.stdout;
    const at = (re: RegExp, from = 0): number => {
      const i = o.slice(from).search(re);
      assert.ok(i >= 0, `${re} not found after offset ${from}`);
      return from + i;
    };
    let p = at(/^1\. What was set up/m);
    p = at(/Logs Ingestion emulator https:\/\/127\.0\.0\.1:\d+/, p);
    for (const [vm, final, verdict] of [
      ['VM 1', 'Provisioning succeeded', 'PASS'],
      ['VM 2', 'Provisioning failed', 'FAIL'],
      ['VM 3', 'Provisioning succeeded', 'PASS'],
    ] as const) {
      p = at(new RegExp(`^\\d+\\. ${vm}: install \\+ enable`, 'm'), p);
      p = at(/agent> bin\/handler\.sh enable\s+exit 0/, p);
      p = at(/Transitioning\s+code 0\s+Enable/, p);
      p = at(new RegExp(`${final}\\s+code ${verdict === 'PASS' ? 0 : 1}\\s+Enable`), p);
      p = at(new RegExp(`^\\d+\\. ${vm}: verdict ${verdict}$`, 'm'), p);
      p = at(/^\d+\. .*what Azure Monitor received/m, p);
      p = at(/HTML report: \S+\.html/, p);
    }
    at(/Clean-up: disable on each VM/, p);
  });

  test('VM 1 (real Azure HCL report, Genoa): PASS with every check that matters passing', () => {
    const s = section(run.stdout, /^\d+\. VM 1: verdict/);
    for (const id of ['structure', 'signature', 'chain', 'tcb', 'chip-id', 'runtime-data', 'policy.debug'])
      assert.match(s, new RegExp(`\\[pass\\] ${id.replace('.', '\\.')}\\s`), id);
    assert.match(s, /pinned ARK-Genoa/);
    assert.match(s, /\[skip\] freshness\s+no quote given/, 'replayed evidence is never called fresh');
    assert.doesNotMatch(s, /\[FAIL\]/);
  });

  test('VM 2 (real debug-enabled SNP report): FAIL on policy.debug only; signature and chain are genuine', () => {
    const s = section(run.stdout, /^\d+\. VM 2: verdict/);
    assert.match(s, /\[FAIL\] policy\.debug\s+the guest policy allows debugging/);
    for (const id of ['signature', 'chain', 'tcb', 'chip-id']) assert.match(s, new RegExp(`\\[pass\\] ${id}\\s`), id);
    assert.equal(s.match(/\[FAIL\]/g)?.length, 1);
  });

  test('VM 3 (real Azure DCesv5 TDX HCL report, TD quote from IMDS, collateral from PCS): PASS, stale collateral and OutOfDate TCB as warnings', () => {
    const s = section(run.stdout, /^\d+\. VM 3: verdict/);
    for (const id of [
      'structure',
      'signature.quote',
      'signature.qe-report',
      'chain',
      'collateral',
      'tcb',
      'tcb.qe-identity',
      'runtime-data.td-report',
      'runtime-data',
      'policy.debug',
    ])
      assert.match(s, new RegExp(`\\[pass\\] ${id.replace(/\./g, '\\.')}\\s`), id);
    assert.match(s, /pinned Intel SGX Root CA/);
    assert.match(s, /\[warn\] collateral\.freshness\s+stale collateral/);
    assert.match(s, /\[warn\] policy\.tcb-status\s+TCB status OutOfDate/);
    assert.doesNotMatch(s, /\[FAIL\]/);
    const m = section(run.stdout, /^\d+\. VM 3: what Azure Monitor received/);
    assert.match(m, /Platform\s+TDX/);
    assert.match(m, /TdxTcbStatus\s+OutOfDate/);
  });

  test('Azure Monitor received one record per VM (pass, then fail) and the two alerts for VM 2 only', () => {
    const a = section(run.stdout, /^\d+\. VM 1: what Azure Monitor received/);
    assert.match(a, /Custom-CvmAttestation record/);
    assert.match(a, /Verdict\s+pass/);
    assert.match(a, /VmName\s+cvm-01/);
    assert.match(a, /Custom-CvmAttestationAlert: no alert/);
    const b = section(run.stdout, /^\d+\. VM 2: what Azure Monitor received/);
    assert.match(b, /Verdict\s+fail/);
    assert.match(b, /IsDebuggable\s+true/);
    assert.match(b, /FailedChecks\s+\[\{"id":"policy\.debug"/);
    assert.match(b, /alert: High CvmAttest_AttestationFailed/);
    assert.match(b, /alert: High CvmAttest_DebugEnabled/);
    // The alerts point at the record of the run that raised them.
    const recordId = /RecordId\s+([0-9a-f-]{36})/.exec(b)?.[1];
    assert.ok(recordId);
    assert.equal(b.split(recordId).length - 1, 3, 'record + 2 alerts carry the same RecordId');
  });

  test('the portal status carries the sinks and alerts; the HTML reports exist and show the verdict', () => {
    assert.match(run.stdout, /sink: azureMonitor\s+delivered: 1 record delivered; queue 0/);
    assert.match(run.stdout, /sink: azureMonitor\s+delivered: 1 record and 2 alerts delivered; queue 0/, 'records and alerts counted apart');
    assert.match(run.stdout, /error\s+alert: Confidential VM launched with debugging enabled High:/, 'a High alert is an error substatus');
    assert.match(run.stdout, /alert: Confidential VM launched with debugging enabled/);
    const paths = [...run.stdout.matchAll(/HTML report: (\S+\.html)/g)].map((m) => m[1]!);
    assert.equal(paths.length, 3);
    for (const p of paths) assert.ok(p.startsWith(reports), p);
    const [pass, fail] = paths.map((p) => readFileSync(p, 'utf8'));
    assert.match(pass!, /<html/i);
    assert.match(pass!, /PASS/);
    assert.match(fail!, /FAIL/);
    assert.match(fail!, /policy\.debug/);
  });

  test("cleans up: the workers are gone and the simulated VMs' folder is removed", () => {
    const pids = [...run.stdout.matchAll(/worker detached: pid (\d+)/g)].map((m) => Number(m[1]));
    assert.equal(pids.length, 3);
    for (const pid of pids) assert.equal(isWorkerAlive(pid), false, `worker ${pid} still running`);
    const dir = /Clean-up: .*?, (\/\S+) removed/.exec(run.stdout)?.[1];
    assert.ok(dir, 'the clean-up line names the folder');
    assert.match(dir, /cvm-attest-demo-/);
    assert.equal(existsSync(dir), false, `${dir} left behind`);
  });
});

describe("cvm-attest status on the demo's VMs (--keep)", () => {
  let run: Run;
  let dirs: string[] = [];
  let reports: string;
  before(async () => {
    assert.ok(existsSync(cli), `${cli} is missing: run \`npm run build\` first`);
    reports = mkdtempSync(join(tmpdir(), 'cvm-attest-demo-test-'));
    run = await runDemo(['--keep', '--reports-dir', reports]);
    dirs = [...run.stdout.matchAll(/cvm-attest status --dir (\S+)/g)].map((m) => m[1]!);
  });
  after(() => {
    rmSync(reports, { recursive: true, force: true });
    const top = /Clean-up: .*?, (\/\S+) KEPT/.exec(run.stdout)?.[1];
    if (top && top.includes('cvm-attest-demo-')) rmSync(top, { recursive: true, force: true });
  });
  const status = (args: string[]): Exited => cvmAttestSync(['status', ...args]);

  test('the kept folders are named and the workers were still stopped', () => {
    assert.equal(run.code, 0, run.stdout);
    assert.equal(dirs.length, 3);
    for (const d of dirs) assert.ok(existsSync(join(d, 'HandlerEnvironment.json')), d);
  });

  test('text: the last result (disabled after the demo), the worker not running, the sink queue, the alerts', () => {
    const r = status(['--dir', dirs[1]!]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^cvm-attest status: DISABLED \(last verdict FAIL\)/);
    assert.match(r.stdout, /\n {2}last result {4}FAIL at \S+Z\n/, 'the failed VM never reads "success"');
    assert.doesNotMatch(r.stdout, /alerts\s+none/, 'not beside its active alerts');
    assert.match(r.stdout, /worker\s+not running/);
    assert.match(r.stdout, /next run\s+none \(worker not running\)/);
    assert.match(r.stdout, /sink azureMonitor\s+queue 0/);
    assert.match(r.stdout, /active\s+.*DebugEnabled since/);
    assert.match(r.stdout, /HTML report\s+\S+state\/report\.html/);
  });

  test('json: the same facts, machine-readable', () => {
    const r = status(['--dir', dirs[0]!, '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const v = JSON.parse(r.stdout) as {
      seq: number;
      result: { operation: string; message: string };
      worker: { running: boolean };
      sinks: { name: string; queueDepth: number }[];
      lastRun: { at: string; nextRunAt: string };
    };
    assert.equal(v.seq, 0);
    assert.equal(v.result.operation, 'Disable');
    assert.equal((v.result as unknown as { verdict: string }).verdict, 'pass', 'jq -r .result.verdict');
    assert.match(
      dirs[0]!,
      new RegExp(`SnpAttestation-${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version.replace(/\./g, '\\.')}$`),
      "the folder carries package.json's version",
    );
    assert.match(v.result.message, /Last result .*PASS: genuine AMD SEV-SNP \(Genoa\)/);
    assert.equal(v.worker.running, false);
    assert.deepEqual(
      v.sinks.map((s) => [s.name, s.queueDepth]),
      [['azureMonitor', 0]],
    );
    assert.ok(Date.parse(v.lastRun.nextRunAt) > Date.parse(v.lastRun.at));
  });

  test('no installation: exit 2 with one line saying what to do', () => {
    const empty = mkdtempSync(join(tmpdir(), 'cvm-attest-status-'));
    try {
      const r = status(['--dir', empty]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /not a cvm-attest extension folder.*\[E_NO_INSTALLATION\]\n$/);
      assert.equal(r.stderr.split('\n').length, 2, 'one line, no stack');
      const r2 = cvmAttestSync(['status'], { env: { AZURE_GUEST_AGENT_EXTENSION_PATH: empty } });
      assert.equal(r2.code, 2);
      assert.match(r2.stderr, /E_NO_INSTALLATION/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
