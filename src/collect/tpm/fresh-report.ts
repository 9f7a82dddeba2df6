// A report fresh by its own signature: write the nonce to 0x01400002, then read 0x01400001 again until
// the paravisor's new report carries it as `user-data`. The paravisor regenerates the report when a
// read starts at offset 0, at most every ~2 s (azure-cvm-tooling waits 3 s after the write), so the
// first read may still return the previous report: poll until it matches or the wait budget ends. A
// TPM without a paravisor (a simulator) never updates the report: the caller then relies on the quote.
import { performance } from 'node:perf_hooks';
import { readHclNvIndex, type NvReadResult, type ReadNvOptions } from './nv.js';
import { reportUserData } from './report-user-data.js';
import { writeUserData, type UserDataWrite } from './user-data.js';
import type { IoOptions } from './client.js';
import type { TpmTransport, TransportSpec } from './transport.js';

export interface FreshReportOptions extends IoOptions {
  /** How long to keep re-reading for the nonce to appear (default 5000 ms; 0 = one read). */
  readonly waitMs?: number;
  /** Pause between reads (default 1000 ms). */
  readonly pollMs?: number;
  readonly nv?: Omit<ReadNvOptions, keyof IoOptions>;
}

export interface FreshReport {
  readonly nv: NvReadResult;
  readonly write: UserDataWrite;
  /** The report read carries the written user data. */
  readonly matched: boolean;
  readonly reads: number;
  readonly waitedMs: number;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

export async function readFreshReport(
  transport: string | TransportSpec | TpmTransport,
  nonce: Uint8Array,
  opts: FreshReportOptions = {},
): Promise<FreshReport> {
  const io: IoOptions = { ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) };
  const write = await writeUserData(transport, nonce, io);
  const want = Buffer.from(write.data).toString('hex').toUpperCase();
  const waitMs = opts.waitMs ?? 5000;
  const pollMs = Math.max(1, opts.pollMs ?? 1000);
  const t0 = performance.now();
  for (let reads = 1; ; reads++) {
    const nv = await readHclNvIndex(transport, { ...opts.nv, ...io });
    const matched = reportUserData(nv.hclReport) === want;
    const waited = performance.now() - t0;
    if (matched || waited + pollMs > waitMs || opts.signal?.aborted) return { nv, write, matched, reads, waitedMs: waited };
    await sleep(pollMs, opts.signal);
  }
}
