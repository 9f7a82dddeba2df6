// The simulator launcher as a CLI (start/stop by pid), a TPM left un-started (our client runs
// TPM2_Startup itself), and the pid check that keeps stop from killing anything but swtpm.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stopSimulator } from '../../scripts/swtpm-sim.js';
import { readHclNvIndex } from '../../src/collect/tpm/index.js';
import { TPM_CC } from '../../src/tpm/constants.js';
import { recordingTransport, startTestSimulator, withTempDir } from './sim-helpers.js';
import { fixture } from '../helpers/fixtures.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/swtpm-sim.ts', import.meta.url));
const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'swtpm';

describe('scripts/swtpm-sim.ts', () => {
  it('CLI start --dir --hcl provisions; stop --dir stops that swtpm by its pid', async () => {
    const { dir, cleanup } = await withTempDir('cvm-sim-');
    try {
      const hcl = join(dir, 'report.bin');
      const bytes = Buffer.from(fixture('negative/hcl-report-foreign-vcek.bin'));
      await writeFile(hcl, bytes.subarray(0, 1900)); // an index smaller than the dump, still holding the 1819-byte report
      const { stdout } = await run(process.execPath, ['--import', 'tsx', SCRIPT, 'start', '--dir', join(dir, 'sim'), '--hcl', hcl]);
      const info = JSON.parse(stdout) as { transport: string; tcti: string; pid: number; akPublicPem: string };
      assert.equal(info.transport, `swtpm:path=${join(dir, 'sim', 'tpm.sock')}`);
      assert.match(info.akPublicPem, /BEGIN PUBLIC KEY/);
      assert.ok(alive(info.pid));
      const r = await readHclNvIndex(info.transport);
      assert.equal(r.nvIndexSize, 1900);
      assert.ok(Buffer.from(r.hclReport).equals(bytes.subarray(0, 1819)));
      await run(process.execPath, ['--import', 'tsx', SCRIPT, 'stop', '--dir', join(dir, 'sim')]);
      assert.equal(alive(info.pid), false);
    } finally {
      await cleanup();
    }
  });

  it('stop never kills a process that is not swtpm', async () => {
    const { dir, cleanup } = await withTempDir('cvm-sim-');
    try {
      await writeFile(join(dir, 'swtpm.pid'), String(process.pid));
      await stopSimulator(dir); // our own pid: must be left alone
      assert.ok(existsSync(`/proc/${process.pid}`));
    } finally {
      await cleanup();
    }
  });

  it('a TPM not yet started: the client sends TPM2_Startup(CLEAR) once and goes on', async () => {
    const sim = await startTestSimulator({ startup: false });
    try {
      const { transport, commands } = recordingTransport(sim.transport);
      await assert.rejects(readHclNvIndex(transport), (e: unknown) => (e as { code?: string }).code === 'E_TPM_RC_HANDLE');
      assert.deepEqual(
        commands.slice(0, 4).map((c) => c.code),
        [TPM_CC.GetCapability, TPM_CC.Startup, TPM_CC.GetCapability, TPM_CC.NV_ReadPublic],
      );
    } finally {
      await sim.stop();
    }
  });
});
