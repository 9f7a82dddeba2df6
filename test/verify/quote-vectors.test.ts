// The two stand-alone quote vectors: quote-bincode.bin (a vTPM quote in a Rust bincode wrapper with its
// 24 PCRs) and quote-akpub.pem (its AK), and runtime-data-sample.json (runtime data as the HCL emits it).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { parseTpmsAttest, parseRuntimeData, akPublicKey, findRuntimeKey, verifyEvidenceSync } from '../../src/index.js';
import { check, fixture, NOW } from './fixtures.js';

/** bincode: u64 LE length + signature, u64 LE length + message, u64 LE count + count x 32-byte PCRs. */
function unbincode(b: Buffer): { signature: Buffer; message: Buffer; pcrs: string[] } {
  let off = 0;
  const u64 = (): number => {
    const v = Number(b.readBigUInt64LE(off));
    off += 8;
    return v;
  };
  const bytes = (n: number): Buffer => {
    const v = b.subarray(off, off + n);
    off += n;
    return v;
  };
  const signature = bytes(u64());
  const message = bytes(u64());
  const pcrs = Array.from({ length: u64() }, () => bytes(32).toString('hex'));
  assert.equal(off, b.length);
  return { signature, message, pcrs };
}

describe('stand-alone quote vectors', () => {
  const q = unbincode(fixture('azure-hcl/quote-bincode.bin'));
  const ak = createPublicKey(fixture('azure-hcl/quote-akpub.pem'));

  it('quote-bincode: a QUOTE over nonce "challenge", signed by quote-akpub, whose pcrDigest covers its 24 PCRs', () => {
    const a = parseTpmsAttest(q.message);
    assert.equal(a.type, 0x8018);
    assert.equal(Buffer.from(a.extraData).toString(), 'challenge');
    assert.ok(verify('sha256', q.message, ak, q.signature));
    assert.equal(q.pcrs.length, 24);
    const sel = a.quote!.pcrSelect.flatMap((s) => s.pcrs);
    const digest = createHash('sha256')
      .update(Buffer.concat(sel.map((i) => Buffer.from(q.pcrs[i]!, 'hex'))))
      .digest();
    assert.ok(digest.equals(Buffer.from(a.quote!.pcrDigest)));
  });

  it('its AK is in no published runtime data: with any HCL report the quote fails freshness (AK not bound)', () => {
    for (const dir of ['azure-hcl/milan-v3-a', 'azure-hcl/genoa']) {
      const vcek = fixture(`${dir}/vcek.pem`);
      const r = verifyEvidenceSync({
        evidence: fixture(`${dir}/hcl-report.bin`),
        vcek,
        now: NOW,
        quote: { message: q.message, signature: q.signature, nonce: Buffer.from('challenge'), pcrs: q.pcrs },
      });
      assert.equal(check(r, 'freshness').status, 'fail');
      assert.match(check(r, 'freshness').reason, /does not verify with HCLAkPub/);
    }
  });

  it('runtime-data-sample.json: AK (sign) and EK found by kid, vm-configuration and user-data present', () => {
    const rd = parseRuntimeData(fixture('azure-hcl/runtime-data-sample.json'));
    assert.ok(rd.json);
    assert.deepEqual(findRuntimeKey(rd, 'HCLAkPub')?.key_ops, ['sign']);
    assert.ok(findRuntimeKey(rd, 'HCLEkPub'));
    assert.equal(akPublicKey(rd).asymmetricKeyType, 'rsa');
    assert.match(rd.json['user-data'] as string, /^[0-9A-F]{128}$/);
    assert.ok('vm-configuration' in rd.json);
  });
});
