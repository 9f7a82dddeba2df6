// The nonce into NV 0x01400002 (user data) over the real swtpm stack, cross-checked with tpm2-tools:
// define-if-absent with the attributes the HCL expects, write, then re-read 0x01400001 until the
// report carries it. swtpm has no paravisor, so a report carrying the nonce is provisioned up front
// (a derived report) to test the match, and the plain one to test the wait and the warning.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_HCL_REPORT, type Simulator } from '../../scripts/swtpm-sim.js';
import { readFreshReport, readTpmEvidence, USER_DATA_ATTRIBUTES, userDataFor, writeUserData } from '../../src/collect/tpm/index.js';
import { TPMA_NV } from '../../src/collect/tpm/commands.js';
import { reportUserData } from '../../src/collect/tpm/report-user-data.js';
import { TPM_CC } from '../../src/tpm/constants.js';
import { padded, withUserData } from '../verify/derive-report.js';
import { recordingTransport, startTestSimulator } from './sim-helpers.js';

const NONCE = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

async function nvreadpublic(sim: Simulator): Promise<string> {
  return (await sim.tpm2('tpm2_nvreadpublic', ['0x01400002'])).toString();
}

async function toolsRead(sim: Simulator): Promise<Buffer> {
  const out = join(sim.dir, 'ud.bin');
  await sim.tpm2('tpm2_nvread', ['-C', 'o', '0x01400002', '-o', out]);
  return readFile(out);
}

describe('user data into NV 0x01400002 (swtpm)', () => {
  let sim: Simulator;
  before(async () => {
    sim = await startTestSimulator();
  });
  after(async () => sim?.stop());

  it('zero-pads the nonce to 64 bytes and refuses 0 or more than 64 bytes', () => {
    assert.deepEqual(Buffer.from(userDataFor(NONCE)), padded(NONCE));
    assert.throws(() => userDataFor(new Uint8Array(0)), /1-64 bytes/);
    assert.throws(() => userDataFor(new Uint8Array(65)), /1-64 bytes/);
  });

  it('defines the absent index (owner, SHA-256, 64 bytes, ownerwrite|ownerread|authwrite|authread) and writes the padded nonce', async () => {
    await assert.rejects(nvreadpublic(sim), 'not defined before');
    const { transport, commands } = recordingTransport(sim.transport);
    const w = await writeUserData(transport, NONCE);
    assert.equal(w.index, 'defined');
    assert.deepEqual(
      commands.map((c) => c.code),
      [TPM_CC.NV_ReadPublic, TPM_CC.NV_DefineSpace, TPM_CC.NV_Write, TPM_CC.NV_ReadPublic],
    );
    assert.equal(w.attributes & ~TPMA_NV.WRITTEN, USER_DATA_ATTRIBUTES);
    assert.ok(w.attributes & TPMA_NV.WRITTEN);
    const pub = await nvreadpublic(sim);
    for (const a of ['ownerwrite', 'authwrite', 'ownerread', 'authread', 'written']) assert.match(pub, new RegExp(`\\b${a}\\b`), pub);
    assert.doesNotMatch(pub, /platformcreate|policywrite|policyread/);
    assert.match(pub, /size: 64/);
    assert.match(pub, /name: 000b/, 'nameAlg SHA-256');
    assert.deepEqual(await toolsRead(sim), padded(NONCE), 'tpm2_nvread sees the zero-padded nonce');
  });

  it('reuses the existing index on the next write (no define)', async () => {
    const { transport, commands } = recordingTransport(sim.transport);
    const other = Buffer.alloc(64, 0xab);
    const w = await writeUserData(transport, other);
    assert.equal(w.index, 'existing');
    assert.ok(!commands.some((c) => c.code === TPM_CC.NV_DefineSpace));
    assert.deepEqual(await toolsRead(sim), other);
  });

  it('an index of another size is undefined and defined again with 64 bytes', async () => {
    await sim.tpm2('tpm2_nvundefine', ['-C', 'o', '0x01400002']);
    await sim.tpm2('tpm2_nvdefine', ['-C', 'o', '-s', '32', '-a', 'ownerread|ownerwrite', '0x01400002']);
    const w = await writeUserData(sim.transport, NONCE);
    assert.equal(w.index, 'redefined');
    assert.match(await nvreadpublic(sim), /size: 64/);
    assert.deepEqual(await toolsRead(sim), padded(NONCE));
  });

  it('no paravisor: the report never carries the nonce; one read with no wait, several reads while waiting', async () => {
    const t0 = Date.now();
    const once = await readFreshReport(sim.transport, NONCE, { waitMs: 0 });
    assert.equal(once.matched, false);
    assert.equal(once.reads, 1);
    assert.ok(Date.now() - t0 < 2000);
    const waited = await readFreshReport(sim.transport, NONCE, { waitMs: 700, pollMs: 200 });
    assert.equal(waited.matched, false);
    assert.ok(waited.reads >= 3, `re-read while waiting (${waited.reads} reads)`);
    assert.ok(waited.waitedMs <= 1200);
    const dump = await readFile(DEFAULT_HCL_REPORT);
    assert.ok(Buffer.from(waited.nv.hclReport).equals(dump.subarray(0, dump.readUInt32LE(8))));
  });
});

describe('a report carrying the nonce (swtpm provisioned with a derived report)', () => {
  let sim: Simulator;
  let derived: Buffer;
  before(async () => {
    const dump = await readFile(DEFAULT_HCL_REPORT);
    derived = withUserData(dump.subarray(0, dump.readUInt32LE(8)), padded(NONCE));
    derived = Buffer.concat([derived, Buffer.alloc(2048 - derived.length)]); // NV padding, as on Azure
    sim = await startTestSimulator({ hclReport: derived });
  });
  after(async () => sim?.stop());

  it('readTpmEvidence writes the nonce, re-reads 0x01400001 offset 0 first, and finds it in the report at once', async () => {
    const { transport, commands } = recordingTransport(sim.transport);
    const e = await readTpmEvidence({ transport: sim.transport, reportNonce: NONCE, quote: false, reportWaitMs: 3000 });
    assert.equal(e.userData?.matched, true);
    assert.equal(e.userData?.reads, 1, 'no waiting once the report carries it');
    assert.deepEqual(Buffer.from(e.userData.data), padded(NONCE));
    assert.equal(reportUserData(e.hclReport), padded(NONCE).toString('hex').toUpperCase());
    assert.ok(Buffer.from(e.hclReport).equals(derived.subarray(0, derived.readUInt32LE(8))));
    // The same sequence over a recording transport: write before the report read.
    const fr = await readFreshReport(transport, NONCE, { waitMs: 0 });
    assert.equal(fr.matched, true);
    const codes = commands.map((c) => c.code);
    assert.ok(codes.indexOf(TPM_CC.NV_Write) < codes.indexOf(TPM_CC.NV_Read), 'write, then read the report');
  });

  it('another nonce is not found in it', async () => {
    const e = await readTpmEvidence({ transport: sim.transport, reportNonce: Buffer.from('ff', 'hex'), quote: false });
    assert.equal(e.userData?.matched, false);
  });
});
