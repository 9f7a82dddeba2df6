// Shared by the TPM tests: a simulator in a temp folder of the test's own, and a transport that
// records the commands the real one carries (a spy on the real swtpm stack, not a fake).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type Simulator, type StartOptions } from '../../scripts/swtpm-sim.js';
import { createTransport } from '../../src/collect/tpm/client.js';
import type { TpmConnection, TpmTransport } from '../../src/collect/tpm/transport.js';

export async function withTempDir(prefix: string): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Starts a simulator in a new temp folder; stop() also removes the folder. */
export async function startTestSimulator(opts: Omit<StartOptions, 'dir'> = {}): Promise<Simulator> {
  const { dir, cleanup } = await withTempDir('cvm-tpm-');
  const sim = await startSimulator({ ...opts, dir });
  return {
    ...sim,
    stop: async () => {
      await sim.stop();
      await cleanup();
    },
  };
}

export interface RecordedCommand {
  readonly code: number;
  readonly bytes: Uint8Array;
}

/** Wraps a real transport and records each command's code and bytes. */
export function recordingTransport(spec: string): { transport: TpmTransport; commands: RecordedCommand[] } {
  const inner = createTransport(spec);
  const commands: RecordedCommand[] = [];
  const transport: TpmTransport = {
    spec: inner.spec,
    async connect(signal: AbortSignal): Promise<TpmConnection> {
      const conn = await inner.connect(signal);
      return {
        transmit(command, what, s) {
          commands.push({ code: Buffer.from(command).readUInt32BE(6), bytes: command });
          return conn.transmit(command, what, s);
        },
        close: () => conn.close(),
      };
    },
  };
  return { transport, commands };
}

/** Size and offset of a recorded TPM2_NV_Read (the command's last 4 bytes). */
export function nvReadArgs(c: RecordedCommand): { size: number; offset: number } {
  const b = Buffer.from(c.bytes);
  return { size: b.readUInt16BE(b.length - 4), offset: b.readUInt16BE(b.length - 2) };
}
