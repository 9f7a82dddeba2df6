// The device: transport's success path. This machine has no /dev/tpmrm0, so a raw pseudo-terminal
// bridged to swtpm stands in for the character device: open/write/read go through the kernel, the
// TPM on the other end is the real simulator.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { verify } from 'node:crypto';
import { DEFAULT_HCL_REPORT, type Simulator } from '../../scripts/swtpm-sim.js';
import { readTpmEvidence } from '../../src/collect/tpm/index.js';
import { startTestSimulator } from './sim-helpers.js';

describe('device: transport through a character device', () => {
  let sim: Simulator;
  let relay: ChildProcess;
  let device: string;

  before(async () => {
    sim = await startTestSimulator();
    const sock = sim.transport.slice('swtpm:path='.length);
    relay = spawn('python3', [fileURLToPath(new URL('./pty-relay.py', import.meta.url)), sock], { stdio: ['pipe', 'pipe', 'inherit'] });
    const [line] = (await once(createInterface({ input: relay.stdout! }), 'line')) as [string];
    device = line.trim();
    assert.match(device, /^\/dev\/pts\/\d+$/);
  });
  after(async () => {
    if (relay && relay.exitCode === null) {
      relay.stdin?.end();
      await once(relay, 'exit');
    }
    await sim?.stop();
  });

  it('reads the HCL report and a quote, opening and closing the device per operation', async () => {
    const e = await readTpmEvidence({ transport: `device:${device}`, nonce: Buffer.from('device-nonce'), timeoutMs: 5000 });
    assert.equal(e.transport, `device:${device}`);
    assert.ok(Buffer.from(e.hclReport).equals((await readFile(DEFAULT_HCL_REPORT)).subarray(0, 1819)));
    assert.ok(e.quote);
    assert.ok(verify('sha256', e.quote.message, sim.akPublicPem, e.quote.signature));
    assert.equal(Buffer.from(e.quote.nonce).toString(), 'device-nonce');
    // A second collection on the same device node works too (the fd was closed cleanly).
    const again = await readTpmEvidence({ transport: `device:${device}`, quote: false, timeoutMs: 5000 });
    assert.equal(again.hclReport.length, 1819);
  });

  // Last on purpose: the abandoned command's late answer stays in the pty (a kernel TPM driver drops it on close).
  it('a device whose TPM never answers times out instead of hanging', async () => {
    process.kill(sim.pid, 'SIGSTOP');
    try {
      const t0 = Date.now();
      await assert.rejects(
        readTpmEvidence({ transport: `device:${device}`, quote: false, timeoutMs: 300 }),
        (err: unknown) => (err as { code?: string }).code === 'E_TPM_TIMEOUT',
      );
      assert.ok(Date.now() - t0 < 2000);
    } finally {
      process.kill(sim.pid, 'SIGCONT');
    }
  });
});
