// NV read of the HCL report over the real swtpm stack, cross-checked against tpm2-tools.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_HCL_REPORT, type Simulator } from '../../scripts/swtpm-sim.js';
import { createTransport, readHclNvIndex, readTpmEvidence } from '../../src/collect/tpm/index.js';
import { TPM_CC } from '../../src/tpm/constants.js';
import { nvReadArgs, recordingTransport, startTestSimulator } from './sim-helpers.js';

describe('NV read of 0x01400001 from swtpm', () => {
  let sim: Simulator;
  let dump: Buffer;
  before(async () => {
    sim = await startTestSimulator();
    dump = await readFile(DEFAULT_HCL_REPORT);
  });
  after(async () => sim?.stop());

  it('returns the same bytes as tpm2_nvread -C o', async () => {
    const out = join(sim.dir, 'tools-nvread.bin');
    await sim.tpm2('tpm2_nvread', ['-C', 'o', '0x01400001', '-o', out]);
    const tools = await readFile(out);
    const ours = await readHclNvIndex(sim.transport, { wholeIndex: true });
    assert.equal(tools.length, 2048);
    assert.ok(tools.equals(dump), 'tpm2_nvread returns the dump written at provisioning');
    assert.ok(Buffer.from(ours.indexData!).equals(tools), 'our whole-index bytes equal tpm2_nvread');
    assert.equal(ours.nvIndexSize, 2048);
    // report_size in the header of this real dump is 1819 (0x71B); the meaningful bytes are exactly those.
    assert.equal(dump.readUInt32LE(8), 1819);
    assert.ok(Buffer.from(ours.hclReport).equals(tools.subarray(0, 1819)));
    assert.equal(ours.nvBufferMax, 1024, 'TPM_PT_NV_BUFFER_MAX of libtpms');
    assert.equal(ours.nvIndexMax, 2048, 'TPM_PT_NV_INDEX_MAX of libtpms');
  });

  it('reads chunks of at most the NV buffer size, offset 0 first, in order, and stops at report_size', async () => {
    const { transport, commands } = recordingTransport(sim.transport);
    const r = await readHclNvIndex(transport);
    const reads = commands.filter((c) => c.code === TPM_CC.NV_Read).map(nvReadArgs);
    assert.deepEqual(reads, [
      { offset: 0, size: 1024 },
      { offset: 1024, size: 1819 - 1024 },
    ]);
    assert.deepEqual(commands.map((c) => c.code).slice(0, 2), [TPM_CC.GetCapability, TPM_CC.NV_ReadPublic]);
    assert.ok(Buffer.from(r.hclReport).equals(dump.subarray(0, 1819)));
  });

  it('honours a smaller NV buffer', async () => {
    const { transport, commands } = recordingTransport(sim.transport);
    const seen: number[] = [];
    const r = await readHclNvIndex(transport, { maxChunk: 100, wholeIndex: true, onChunk: (off) => seen.push(off) });
    const reads = commands.filter((c) => c.code === TPM_CC.NV_Read).map(nvReadArgs);
    assert.equal(reads.length, Math.ceil(2048 / 100));
    reads.forEach((c, i) => {
      assert.equal(c.offset, i * 100, 'in order, no gaps');
      assert.ok(c.size <= 100 && c.size > 0);
    });
    assert.deepEqual(
      seen,
      reads.map((c) => c.offset),
    );
    assert.ok(Buffer.from(r.indexData!).equals(dump));
  });

  it('a chunk smaller than the header still finds report_size (reads on in order)', async () => {
    const { transport, commands } = recordingTransport(sim.transport);
    const r = await readHclNvIndex(transport, { maxChunk: 5 });
    const reads = commands.filter((c) => c.code === TPM_CC.NV_Read).map(nvReadArgs);
    assert.equal(reads.length, Math.ceil(1819 / 5));
    assert.deepEqual(reads.slice(0, 3), [
      { offset: 0, size: 5 },
      { offset: 5, size: 5 },
      { offset: 10, size: 5 },
    ]);
    assert.ok(Buffer.from(r.hclReport).equals(dump.subarray(0, 1819)));
  });

  it('reads with the index password when asked (auth: index)', async () => {
    const r = await readHclNvIndex(sim.transport, { auth: 'index', password: sim.indexPassword });
    assert.ok(Buffer.from(r.hclReport).equals(dump.subarray(0, 1819)));
  });

  it('readTpmEvidence without a quote returns the meaningful bytes and the index size', async () => {
    const e = await readTpmEvidence({ transport: sim.transport, quote: false });
    assert.equal(e.transport, sim.transport);
    assert.equal(e.replayed, false);
    assert.equal(e.nvIndexSize, 2048);
    assert.equal(e.quote, undefined);
    assert.ok(Buffer.from(e.hclReport).equals(dump.subarray(0, 1819)));
  });

  it('back-to-back connections to the one-client swtpm never fail as busy (EAGAIN is retried)', async () => {
    const t = createTransport(sim.transport);
    for (let i = 0; i < 60; i++) (await t.connect(AbortSignal.timeout(5000))).close();
    const r = await Promise.all([readHclNvIndex(sim.transport), readHclNvIndex(sim.transport), readHclNvIndex(sim.transport)]);
    for (const x of r) assert.ok(Buffer.from(x.hclReport).equals(dump.subarray(0, 1819)));
  });

  it('takes the transport from CVM_ATTEST_TPM when none is given', async () => {
    const saved = process.env.CVM_ATTEST_TPM;
    process.env.CVM_ATTEST_TPM = sim.transport;
    try {
      const e = await readTpmEvidence({ quote: false });
      assert.equal(e.transport, sim.transport);
    } finally {
      if (saved === undefined) delete process.env.CVM_ATTEST_TPM;
      else process.env.CVM_ATTEST_TPM = saved;
    }
  });
});
