// TPM2_Quote over the real swtpm stack: verified by tpm2_checkquote, by node:crypto with the AK public
// key tpm2-tools exported at provisioning, and through the project's verifier (AK binding).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_HCL_REPORT, AZURE_AK_ATTRIBUTES, type Simulator } from '../../scripts/swtpm-sim.js';
import { parseQuoteAttest, quote, readTpmEvidence, type QuoteResult } from '../../src/collect/tpm/index.js';
import { TPM_CC } from '../../src/tpm/constants.js';
import { verifyEvidence } from '../../src/index.js';
import { recordingTransport, startTestSimulator } from './sim-helpers.js';

const ALL = Array.from({ length: 24 }, (_, i) => i);

/** TPMT_SIGNATURE framing (RSASSA, SHA-256) around a raw signature, as tpm2_checkquote reads it. */
function tpmtSignature(raw: Uint8Array): Buffer {
  const head = Buffer.alloc(6);
  head.writeUInt16BE(0x0014, 0);
  head.writeUInt16BE(0x000b, 2);
  head.writeUInt16BE(raw.length, 4);
  return Buffer.concat([head, raw]);
}

/** PCR values as tpm2_pcrread prints them (YAML: "  N : 0xHEX"). */
function parsePcrYaml(text: string): Map<number, string> {
  const m = new Map<number, string>();
  for (const line of text.split('\n')) {
    const r = /^\s+(\d+)\s*:\s*0x([0-9A-Fa-f]{64})\s*$/.exec(line);
    if (r) m.set(Number(r[1]), r[2]!.toLowerCase());
  }
  return m;
}

describe('TPM2_Quote by the AK at 0x81000003 (swtpm)', () => {
  let sim: Simulator;
  let n = 0;
  const file = (name: string): string => join(sim.dir, `${++n}-${name}`);

  /** Runs tpm2_checkquote with a PCR file from tpm2_pcrread -F serialized; resolves true when it accepts. */
  async function checkquote(q: QuoteResult, akPem: string, nonceHex: string, pcrList: string): Promise<boolean> {
    const [msg, sig, pcrs, ak] = [file('q.msg'), file('q.sig'), file('pcrs.bin'), file('ak.pem')];
    await writeFile(msg, q.message);
    await writeFile(sig, tpmtSignature(q.signature));
    await writeFile(ak, akPem);
    await sim.tpm2('tpm2_pcrread', [pcrList, '-o', pcrs, '-F', 'serialized']);
    try {
      await sim.tpm2('tpm2_checkquote', ['-u', ak, '-m', msg, '-s', sig, '-f', pcrs, '-g', 'sha256', '-q', nonceHex]);
      return true;
    } catch {
      return false;
    }
  }

  before(async () => {
    sim = await startTestSimulator();
    // Non-trivial PCR values, as measured boot would leave them.
    for (const [pcr, data] of [
      [0, 'firmware'],
      [4, 'bootloader'],
      [7, 'secure-boot'],
      [14, 'mok'],
      [23, 'app'],
    ] as const) {
      const d = createHash('sha256').update(data).digest('hex');
      await sim.tpm2('tpm2_pcrextend', [`${pcr}:sha256=${d}`]);
    }
  });
  after(async () => sim?.stop());

  it('verifies with tpm2_checkquote and with node:crypto against the AK tpm2-tools exported', async () => {
    const nonce = Buffer.from('f00dfeed'.repeat(8), 'hex');
    const q = await quote(sim.transport, { nonce });
    assert.equal(q.signature.length, 256, 'raw RSA-2048 signature, TPMT_SIGNATURE framing stripped');
    assert.equal(q.sigAlg, 0x0014);
    assert.ok(verify('sha256', q.message, sim.akPublicPem, q.signature), 'node:crypto RSASSA-PKCS1-v1_5 SHA-256');
    const att = parseQuoteAttest(q.message);
    assert.ok(Buffer.from(att.extraData).equals(nonce));
    const digest = createHash('sha256')
      .update(Buffer.concat(q.pcrSelection.map((i) => Buffer.from(q.pcrs[i]!, 'hex'))))
      .digest();
    assert.ok(digest.equals(Buffer.from(att.quote.pcrDigest)), 'pcrDigest = SHA-256 of the PCR values we read');
    assert.equal(await checkquote(q, sim.akPublicPem, nonce.toString('hex'), 'sha256:0,1,2,3,4,5,6,7'), true);
    // Our ReadPublic of the AK gives the same key as tpm2_readpublic.
    const ours = createPublicKey(q.akPublicPem).export({ format: 'der', type: 'spki' });
    const tools = createPublicKey(sim.akPublicPem).export({ format: 'der', type: 'spki' });
    assert.ok(ours.equals(tools));
  });

  it('reads the same PCR values as tpm2_pcrread, looping past 8 digests per PCR_Read', async () => {
    const { transport, commands } = recordingTransport(sim.transport);
    const q = await quote(transport, { pcrs: ALL });
    assert.ok(commands.filter((c) => c.code === TPM_CC.PCR_Read).length >= 3, 'at most 8 digests per call: 24 PCRs need 3 calls');
    const tools = parsePcrYaml((await sim.tpm2('tpm2_pcrread', ['sha256'])).toString());
    assert.equal(tools.size, 24);
    for (const i of ALL) assert.equal(q.pcrs[i], tools.get(i), `PCR ${i}`);
    assert.notEqual(q.pcrs[7], '0'.repeat(64), 'the extended PCR is not zero');
    assert.deepEqual(q.pcrSelection, ALL);
    assert.ok(verify('sha256', q.message, sim.akPublicPem, q.signature));
    assert.equal(await checkquote(q, sim.akPublicPem, Buffer.from(q.nonce).toString('hex'), 'sha256'), true);
  });

  it('leaves unselected PCRs as empty strings and uses a fresh random 32-byte nonce each time', async () => {
    const a = await quote(sim.transport);
    const b = await quote(sim.transport);
    assert.equal(a.nonce.length, 32);
    assert.notDeepEqual(a.nonce, b.nonce);
    assert.equal(a.pcrs.length, 24);
    assert.deepEqual(a.pcrSelection, [0, 1, 2, 3, 4, 5, 6, 7]);
    for (let i = 8; i < 24; i++) assert.equal(a.pcrs[i], '');
  });

  it('a stale nonce fails verification (tpm2_checkquote and extraData)', async () => {
    const old = Buffer.from('0102030405060708', 'hex');
    const q = await quote(sim.transport, { nonce: old });
    const expected = Buffer.from('a1a2a3a4a5a6a7a8', 'hex');
    assert.ok(!Buffer.from(parseQuoteAttest(q.message).extraData).equals(expected));
    assert.equal(await checkquote(q, sim.akPublicPem, expected.toString('hex'), 'sha256:0,1,2,3,4,5,6,7'), false);
    assert.equal(await checkquote(q, sim.akPublicPem, old.toString('hex'), 'sha256:0,1,2,3,4,5,6,7'), true, 'the same quote passes with its own nonce');
  });

  it('a quote by another key fails verification with the AK', async () => {
    const ctx = file('other.ctx');
    await sim.tpm2('tpm2_createprimary', ['-C', 'o', '-G', 'rsa2048:rsassa-sha256:null', '-g', 'sha256', '-a', AZURE_AK_ATTRIBUTES, '-c', ctx]);
    await sim.tpm2('tpm2_evictcontrol', ['-C', 'o', '-c', ctx, '0x81000004']);
    await sim.tpm2('tpm2_flushcontext', ['-t']);
    const q = await quote(sim.transport, { akHandle: 0x81000004, nonce: Buffer.from('cafe', 'hex') });
    assert.ok(verify('sha256', q.message, q.akPublicPem, q.signature), 'valid under its own key');
    assert.equal(verify('sha256', q.message, sim.akPublicPem, q.signature), false, 'not under the AK');
    assert.equal(await checkquote(q, sim.akPublicPem, 'cafe', 'sha256:0,1,2,3,4,5,6,7'), false);
  });

  it("the verifier binds the AK through the report's runtime data: a simulator quote fails freshness for the foreign report", async () => {
    const e = await readTpmEvidence({ transport: sim.transport });
    assert.ok(e.quote);
    const dump = await readFile(DEFAULT_HCL_REPORT);
    assert.ok(Buffer.from(e.hclReport).equals(dump.subarray(0, 1819)));
    const res = await verifyEvidence({
      evidence: e.hclReport,
      quote: { message: e.quote.message, signature: e.quote.signature, nonce: e.quote.nonce, pcrs: e.quote.pcrs },
    });
    const binding = res.checks.find((c) => c.id === 'runtime-data');
    assert.equal(binding?.status, 'pass', 'the runtime data is bound, so its HCLAkPub is the AK the verifier trusts');
    const fresh = res.checks.find((c) => c.id === 'freshness');
    assert.equal(fresh?.status, 'fail');
    assert.equal(fresh?.reason, 'the quote signature does not verify with HCLAkPub from the runtime data');
    assert.equal(res.verdict, 'fail');
  });
});
