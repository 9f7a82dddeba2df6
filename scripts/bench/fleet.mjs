// Fleet reporting at scale. Simulates N agents (default 10,000; FLEET_AGENTS=N) on the shipped
// schedule (src/extension: first run at enable, then every intervalMinutes + a stable per-VM jitter
// of up to jitterPercent, via the worker's own jitterMs) over 24 h arithmetically, and prints the
// peak requests per minute against the per-DCR limit (12,000/min). Each run sends one request on
// the records stream, plus one on the alerts stream when the run raises alerts. Then it measures,
// for real, against the TLS Logs Ingestion + IMDS emulators with the real SDK: gzip bytes per record
// and alert (real verifier result on the Genoa vector), the client cost per record (build + spool
// fsync + upload: wall and CPU), and a sample of agents delivering concurrently (all must arrive).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { jitterMs } from '../../src/extension/state.ts';
import { DEFAULTS } from '../../src/extension/settings.ts';
import { verifyEvidence } from '../../src/index.ts';
import { IDENTITY } from '../../test/sinks/helpers.ts';
import { buildRecord, RECORD_STREAM, ALERT_STREAM } from '../../src/sinks/record.ts';
import { evaluateAlerts } from '../../src/sinks/alert-rules.ts';
import { EMPTY_ALERT_STATE } from '../../src/sinks/alert-state.ts';
import { createSinks } from '../../src/sinks/index.ts';
import { startImdsTokenEmulator } from '../../test/emulators/imds-token.ts';
import { startLogsIngestionEmulator } from '../../test/emulators/logs-ingestion.ts';

const N = Number(process.env.FLEET_AGENTS ?? 10_000);
const SAMPLE = Number(process.env.FLEET_SAMPLE ?? 200);
const PER_RECORD = Number(process.env.FLEET_PER_RECORD ?? 100);
const LIMIT = 12_000;
const intervalMin = DEFAULTS.intervalMinutes;
const jitterPct = DEFAULTS.jitterPercent;
const ALERT_RUN_SHARE = 0.02; // share of runs that raise an alert (a change): generous for a healthy fleet

// --- 1. Schedule arithmetic ------------------------------------------------------------------
function simulate(enableSpreadMin) {
  const horizon = 24 * 60; // minutes
  const perMinute = new Float64Array(horizon + 1);
  const intervalMs = intervalMin * 60_000;
  for (let i = 0; i < N; i++) {
    const vmId = `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
    const period = intervalMs + jitterMs(intervalMs, jitterPct, vmId);
    // Enable times: all at once (a fleet-wide deployment) or spread uniformly over enableSpreadMin.
    let t = enableSpreadMin === 0 ? 0 : (((i * 7919) % N) / N) * enableSpreadMin * 60_000;
    for (; t < horizon * 60_000; t += period) perMinute[Math.floor(t / 60_000)] += 1 + ALERT_RUN_SHARE;
  }
  let peak = 0;
  let peakAt = 0;
  let steadyPeak = 0;
  perMinute.forEach((v, m) => {
    if (v > peak) {
      peak = v;
      peakAt = m;
    }
    if (m >= 12 * 60 && v > steadyPeak) steadyPeak = v;
  });
  return { peak: Math.round(peak), peakAt, steadyPeak: Math.round(steadyPeak) };
}

console.log(
  `fleet: ${N} agents, interval ${intervalMin} min + per-VM jitter up to ${jitterPct}% (${(intervalMin * jitterPct) / 100} min), ${ALERT_RUN_SHARE * 100}% of runs with an alert`,
);
console.log(`  average load: ${Math.round((N * (1 + ALERT_RUN_SHARE)) / (intervalMin * (1 + jitterPct / 200)))} requests/min (limit ${LIMIT}/min per DCR)`);
for (const spread of [0, 10, 60]) {
  const r = simulate(spread);
  const label = spread === 0 ? 'all enabled in the same minute' : `enable spread over ${spread} min`;
  const flag = (v) => (v > LIMIT ? 'OVER the limit: 429 + Retry-After, records wait in the spool' : `${((100 * v) / LIMIT).toFixed(1)}% of the limit`);
  console.log(
    `  ${label.padEnd(32)} peak ${String(r.peak).padStart(6)} req/min at minute ${r.peakAt} (${flag(r.peak)}); steady state (12-24 h) peak ${r.steadyPeak} req/min (${flag(r.steadyPeak)})`,
  );
}
const firstMinute = Math.floor(LIMIT / (1 + ALERT_RUN_SHARE));
const secondWave = Math.floor((LIMIT * intervalMin * (jitterPct / 100)) / (1 + ALERT_RUN_SHARE));
console.log(
  `  limits per DCR: first runs are not jittered, so a simultaneous enable of more than ~${firstMinute.toLocaleString('en-US')} VMs is throttled in minute 0 (429 + Retry-After: SDK retries, then the spool keeps them); the second wave spreads over the ${(intervalMin * jitterPct) / 100}-min jitter window and saturates at ~${secondWave.toLocaleString('en-US')} VMs; later runs drift apart (periods differ per VM)`,
);

// A fleet-wide enable far above the limit: every first run in the same minute, the service
// throttling at LIMIT per minute window, throttled agents retrying with the SinkSet's backoff
// (30 s doubling to 15 min, each delay randomised to 50-100%). When is every record in?
function burst(agents) {
  const heap = []; // [time ms, attempt] min-heap
  const push = (x) => {
    heap.push(x);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (heap[p][0] <= heap[i][0]) break;
      [heap[p], heap[i]] = [heap[i], heap[p]];
      i = p;
    }
  };
  const pop = () => {
    const top = heap[0];
    const last = heap.pop();
    if (heap.length) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && heap[l][0] < heap[m][0]) m = l;
        if (r < heap.length && heap[r][0] < heap[m][0]) m = r;
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i], heap[m]];
        i = m;
      }
    }
    return top;
  };
  for (let i = 0; i < agents; i++) push([Math.random() * 60_000, 0]);
  const perWindow = new Map();
  let requests = 0;
  let last = 0;
  let maxAttempt = 0;
  while (heap.length) {
    const [t, k] = pop();
    requests++;
    const w = Math.floor(t / 60_000);
    const used = perWindow.get(w) ?? 0;
    if (used < LIMIT) {
      perWindow.set(w, used + 1);
      last = Math.max(last, t);
      maxAttempt = Math.max(maxAttempt, k);
      continue;
    }
    const delay = Math.min(15 * 60_000, 30_000 * 2 ** k) * (0.5 + Math.random() * 0.5);
    push([t + delay, k + 1]);
  }
  return { minutes: Math.ceil(last / 60_000), requests, maxAttempt };
}
for (const agents of [N * 2, N * 10]) {
  const b = burst(agents);
  console.log(
    `  ${agents.toLocaleString('en-US')} VMs enabled in the same minute: all first records in after ${b.minutes} min (${b.requests.toLocaleString('en-US')} requests incl. throttled ones, at most ${b.maxAttempt} retries per VM); nothing lost (spooled until accepted)`,
  );
}

// --- 2. Real bytes and client cost ------------------------------------------------------------
const fx = new URL('../../test/fixtures/', import.meta.url);
const result = await verifyEvidence({
  evidence: readFileSync(new URL('azure-hcl/genoa/hcl-report.bin', fx)),
  vcek: readFileSync(new URL('azure-hcl/genoa/vcek.pem', fx), 'utf8'),
});
const identity = IDENTITY; // the sink tests' VM identity
const rec = buildRecord({ result, identity }, { agentVersion: '0.1.0' });
const json = Buffer.from(JSON.stringify([rec]));
const failing = {
  ...result,
  verdict: 'fail',
  checks: [...result.checks, { id: 'policy.debug', group: 'policy', status: 'fail', reason: 'the guest policy allows debugging' }],
};
const alert = evaluateAlerts(
  EMPTY_ALERT_STATE,
  { result: failing, identity },
  { settings: { enabled: true, evidenceUnavailableAfter: 3, certificateExpiryDays: 30 }, recordId: rec.RecordId },
).alerts[0];
const aJson = Buffer.from(JSON.stringify([alert]));
console.log(
  `record (real Genoa result): ${json.length} B JSON, ${gzipSync(json).length} B gzip per request of one record; alert: ${aJson.length} B JSON, ${gzipSync(aJson).length} B gzip`,
);
const hundred = Buffer.from(JSON.stringify(Array.from({ length: 100 }, () => buildRecord({ result, identity }))));
console.log(`  batched (a backlog of 100 runs of one VM in one request): ${(gzipSync(hundred).length / 100).toFixed(0)} B gzip per record`);
const perDay = (N * 24 * 60) / (intervalMin * (1 + jitterPct / 200));
console.log(
  `  fleet volume: ${((perDay * gzipSync(json).length) / 1e9).toFixed(2)} GB/day gzip on the wire, ${((perDay * json.length) / 1e9).toFixed(2)} GB/day of JSON ingested (billed volume is the stored size)`,
);

const imds = await startImdsTokenEmulator();
process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = imds.url;
for (const k of [
  'AZURE_CLIENT_ID',
  'AZURE_TENANT_ID',
  'AZURE_CLIENT_SECRET',
  'IDENTITY_ENDPOINT',
  'MSI_ENDPOINT',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'http_proxy',
  'https_proxy',
])
  delete process.env[k];
process.env.NO_PROXY = '127.0.0.1,localhost,169.254.169.254';
const li = await startLogsIngestionEmulator();
const root = mkdtempSync(join(tmpdir(), 'fleet-bench-'));
const settings = { azureMonitor: { endpoint: li.endpoint, dcrImmutableId: li.dcrImmutableId }, alerts: {} };
const azure = { clientOptions: { tlsOptions: { ca: li.ca }, retryOptions: { maxRetries: 0 } } };
try {
  const one = await createSinks(settings, { stateDir: join(root, 'one'), agentVersion: '0.1.0', azure });
  await one.deliver({ result, identity }); // warm-up: SDK import, token, TLS session
  const wall = [];
  const cpu = [];
  for (let i = 0; i < PER_RECORD; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await one.deliver({ result, identity });
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    if (r.deliveries[0].status !== 'delivered') throw new Error(`not delivered: ${r.deliveries[0].message}`);
  }
  const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const baselines = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    execFileSync(process.execPath, ['-e', '']);
    baselines.push(performance.now() - t0);
  }
  const baseline = Math.min(...baselines);
  const importMs = [];
  for (let i = 0; i < 3; i++) {
    const a = performance.now();
    execFileSync(process.execPath, ['--input-type=module', '-e', "await Promise.all([import('@azure/monitor-ingestion'), import('@azure/identity')])"], {
      cwd: fileURLToPath(new URL('../../', import.meta.url)),
    });
    importMs.push(performance.now() - a);
  }
  console.log(
    `Azure SDK load (paid once, at the first flush, only when azureMonitor is configured): ${(Math.min(...importMs) - baseline).toFixed(0)} ms over node's own start-up`,
  );
  console.log(
    `client cost per record (deliver: record + alerts eval + spool fsync + gzip + HTTPS upload + ack), n=${PER_RECORD}: median ${med(wall).toFixed(1)} ms wall, ${med(cpu).toFixed(1)} ms CPU (this machine's \`node -e ''\`: ${baseline.toFixed(0)} ms)`,
  );

  // A sample of agents, each with its own state, delivering at once (the first-minute burst in small).
  const sinks = await Promise.all(
    Array.from({ length: SAMPLE }, (_, i) => createSinks(settings, { stateDir: join(root, `a${i}`), agentVersion: '0.1.0', azure })),
  );
  const before = li.received(RECORD_STREAM).length;
  const s0 = performance.now();
  const results = await Promise.all(sinks.map((s, i) => s.deliver({ result: i % 50 === 0 ? failing : result, identity: { ...identity, vmId: `vm-${i}` } })));
  const took = performance.now() - s0;
  const arrived = li.received(RECORD_STREAM).length - before;
  const lost = results.filter((r) => r.deliveries[0].status !== 'delivered').length;
  console.log(
    `sample: ${SAMPLE} agents delivering concurrently in-process: ${arrived}/${SAMPLE} records and ${li.received(ALERT_STREAM).length} alerts ingested in ${took.toFixed(0)} ms (${Math.round((SAMPLE / took) * 60_000)} records/min through one emulator), ${lost} not delivered`,
  );
  if (arrived !== SAMPLE || lost) process.exitCode = 1;
} finally {
  await li.close();
  await imds.close();
  rmSync(root, { recursive: true, force: true });
}
