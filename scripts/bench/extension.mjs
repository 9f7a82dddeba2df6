// Extension figures (the packaged zip, run as the agent runs it): `enable` wall time (median) for a
// new seq and for the same seq, and the worker's idle RSS and CPU between runs, sampled from /proc.
// Targets (issue 4): enable within 1 s; idle worker under 80 MB RSS and no CPU between runs.
import { floor } from './_floors.mjs';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startImdsEmulator } from '../../test/emulators/imds.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = join(root, 'test/fixtures');
const NAME = 'CvmAttest.Security.SnpAttestation';
const RUNS = 7;
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

const work = mkdtempSync(join(tmpdir(), 'cvm-attest-bench-ext-'));
const pkg = spawnSync(process.execPath, [join(root, 'scripts/package.mjs'), '--out', join(work, 'pkg')], { encoding: 'utf8' });
if (pkg.status !== 0) {
  console.error(pkg.stderr);
  process.exit(1);
}
const zip = pkg.stdout.trim().split('\n').pop();
const lib = join(work, 'lib');
const ext = join(lib, `${NAME}-0.1.0`);
mkdirSync(ext, { recursive: true });
execFileSync('unzip', ['-q', zip, '-d', ext]);
for (const d of ['config', 'status']) mkdirSync(join(ext, d), { recursive: true });
writeFileSync(
  join(ext, 'HandlerEnvironment.json'),
  JSON.stringify([
    {
      name: NAME,
      version: 1.0,
      handlerEnvironment: {
        logFolder: join(work, 'log'),
        configFolder: join(ext, 'config'),
        statusFolder: join(ext, 'status'),
        heartbeatFile: join(ext, 'heartbeat.log'),
      },
    },
  ]),
);

const imds = await startImdsEmulator({
  thim: {
    vcekPem: readFileSync(join(fixtures, 'azure-hcl/genoa/vcek.pem'), 'utf8'),
    chainPem: readFileSync(join(fixtures, 'amd/ask_ark_genoa.pem'), 'utf8'),
    tcbm: '541700000000000A',
  },
});
const baseEnv = { PATH: '/usr/bin:/bin', CVM_ATTEST_TPM: `file:${join(fixtures, 'azure-hcl/genoa')}`, CVM_ATTEST_IMDS_ENDPOINT: imds.url };
const handler = (op, seq) =>
  new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(join(ext, 'bin/handler.sh'), [op], { cwd: ext, env: { ...baseEnv, ConfigSequenceNumber: String(seq) }, stdio: 'ignore' });
    p.on('close', (code) => resolve({ code, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
  });
const statusOf = (seq) => {
  try {
    return JSON.parse(readFileSync(join(ext, 'status', `${seq}.status`), 'utf8'))[0].status.status;
  } catch {
    return undefined;
  }
};
const worker = () => {
  try {
    return JSON.parse(readFileSync(join(ext, 'state', 'worker.json'), 'utf8')).pid;
  } catch {
    return undefined;
  }
};
const waitFinal = async (seq) => {
  const d = Date.now() + 20000;
  while (Date.now() < d) {
    const s = statusOf(seq);
    if (s && s !== 'transitioning') return s;
    await sleep(50);
  }
  return statusOf(seq);
};

// Node's own start-up, for reference.
const base = [];
for (let i = 0; i < RUNS; i++) {
  const t0 = process.hrtime.bigint();
  spawnSync(process.execPath, ['-e', '']);
  base.push(Number(process.hrtime.bigint() - t0) / 1e6);
}

await handler('install', 0);
const newSeq = [];
const sameSeq = [];
for (let seq = 0; seq < RUNS; seq++) {
  writeFileSync(
    join(ext, 'config', `${seq}.settings`),
    JSON.stringify({
      runtimeSettings: [
        { handlerSettings: { publicSettings: { intervalMinutes: 60, freshness: false }, protectedSettings: null, protectedSettingsCertThumbprint: null } },
      ],
    }),
  );
  const r = await handler('enable', seq);
  if (r.code !== 0) {
    console.error('enable failed');
    process.exit(1);
  }
  newSeq.push(r.ms);
  const st = await waitFinal(seq);
  if (st !== 'success') {
    console.error(`seq ${seq}: status ${st}`);
    process.exit(1);
  }
  sameSeq.push((await handler('enable', seq)).ms);
}

// Idle worker: after its run, sample RSS and CPU ticks over a quiet window.
const pid = worker();
await sleep(1500);
const ticks = () => {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
};
const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
const WINDOW_MS = 5000;
const t0 = ticks();
let maxRss = 0;
for (let i = 0; i < WINDOW_MS / 250; i++) {
  maxRss = Math.max(maxRss, rssKb());
  await sleep(250);
}
const cpuTicks = ticks() - t0;
const baseRss = (() => {
  const r = spawnSync(process.execPath, ['-e', 'console.log(process.memoryUsage().rss)'], { encoding: 'utf8' });
  return Number(r.stdout) / 1048576;
})();

await handler('disable', RUNS - 1);
await imds.close();
rmSync(work, { recursive: true, force: true });

const f = (x) => x.toFixed(0).padStart(6);
console.log(`enable, new seq (validate, transitioning, (re)start worker)  median ${f(median(newSeq))} ms   ${floor('enable, new seq', median(newSeq), 1000)}`);
console.log(`enable, same seq (no-op)                                     median ${f(median(sameSeq))} ms`);
console.log(`node -e '' start-up (baseline)                               median ${f(median(base))} ms`);
console.log(
  `worker idle RSS after a run                                  ${f(maxRss / 1024)} MB   ${floor('worker idle RSS', Math.round(maxRss / 1024), 80, 'MB')} (bare node ${baseRss.toFixed(0)} MB)`,
);
console.log(
  `worker CPU over ${WINDOW_MS / 1000} s idle                                      ${f((cpuTicks / TICK) * 1000)} ms   ${floor('worker idle CPU ticks', cpuTicks, 0, 'ticks')}`,
);
