// TPM collector speed against swtpm on a unix socket (run by `npm run bench -- tpm`): NV read alone
// (target: median <= 20 ms), quote + PCR read, the whole readTpmEvidence, and the cost of one
// connection. tpm2_nvread is timed as a reference (it includes its own process start).
import { floor } from './_floors.mjs';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startSimulator } from '../swtpm-sim.ts';
import { createTransport, quote, readHclNvIndex, readTpmEvidence } from '../../src/collect/tpm/index.ts';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (ms) => `${ms.toFixed(2)} ms`;

async function time(n, fn) {
  for (let i = 0; i < 3; i++) await fn(); // warm-up (JIT, module loading)
  const xs = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    xs.push(performance.now() - t);
  }
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

const baseline = (() => {
  const xs = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    spawnSync(process.execPath, ['-e', '']);
    xs.push(performance.now() - t);
  }
  return median(xs);
})();

const dir = await mkdtemp(join(tmpdir(), 'bench-tpm-'));
const t0 = performance.now();
const sim = await startSimulator({ dir });
const startMs = performance.now() - t0;
try {
  const transport = createTransport(sim.transport);
  const connect = await time(50, async () => {
    const c = await transport.connect(AbortSignal.timeout(5000));
    c.close();
  });
  const nv = await time(50, () => readHclNvIndex(sim.transport));
  const q = await time(30, () => quote(sim.transport));
  const all = await time(30, () => readTpmEvidence({ transport: sim.transport }));
  const tools = await time(10, async () => {
    const r = spawnSync('tpm2_nvread', ['-C', 'o', '0x01400001', '-o', join(dir, 'nv.bin')], { env: { ...process.env, TPM2TOOLS_TCTI: sim.tcti } });
    if (r.status !== 0) throw new Error(`tpm2_nvread failed: ${r.stderr}`);
  });
  const row = (name, r, extra = '') => console.log(`${name.padEnd(44)} median ${fmt(r.median).padStart(10)}  (min ${fmt(r.min)}, max ${fmt(r.max)})${extra}`);
  console.log(`node -e '' baseline (process start)          ${fmt(baseline)}`);
  console.log(`simulator start + provisioning (tpm2-tools)  ${fmt(startMs)}`);
  row('transport connect + close (unix socket)', connect);
  row('NV read (1819 of 2048 B, 2 chunks)', nv, `  ${floor('NV read', nv.median, 20)}`);
  row('quote + PCR_Read 0-7 + AK ReadPublic', q);
  row('readTpmEvidence (NV read + quote)', all);
  row('reference: tpm2_nvread process', tools);
} finally {
  await sim.stop();
  await rm(dir, { recursive: true, force: true });
}
