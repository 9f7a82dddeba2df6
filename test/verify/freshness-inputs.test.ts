// Freshness inputs a caller or a runtime-data key could get wrong: an empty or over-long nonce (a quote
// taken without qualifying data would "match" an empty one), and an attestation key below RSA-2048.
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { ParseError } from '../../src/base/errors.js';
import type { HclReport } from '../../src/platform/snp/hcl.js';
import { parseRuntimeData } from '../../src/hcl/runtime-data.js';
import { parseTpmsAttest } from '../../src/tpm/structures.js';
import { checkFreshness } from '../../src/guest/freshness.js';
import { verifyEvidence, verifyEvidenceSync } from '../../src/verify/verify-evidence.js';
import { fixture, NOW } from './fixtures.js';

const DIR = 'azure-hcl/milan-v3-a';
const message = fixture(`${DIR}/quote.msg`);

/** An HCL report whose runtime data holds an AK of `bits`, and the real quote message re-signed by it. */
function withAk(bits: number) {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const jwk = publicKey.export({ format: 'jwk' });
  const raw = Buffer.from(JSON.stringify({ keys: [{ kid: 'HCLAkPub', kty: 'RSA', e: jwk.e, n: jwk.n, key_ops: ['sign'] }] }));
  const hcl: HclReport = {
    headerVersion: 1,
    reportSize: 0,
    requestType: 2,
    hashType: 'sha256',
    runtimeData: parseRuntimeData(raw),
    snpReportBytes: new Uint8Array(1184),
  };
  const signature = sign('sha256', message, privateKey);
  return { hcl, quote: { message, signature, nonce: parseTpmsAttest(message).extraData } };
}

describe('freshness inputs', () => {
  it('an RSA-2048 AK over the real quote message verifies (the construction below is sound)', () => {
    const { hcl, quote } = withAk(2048);
    assert.equal(checkFreshness(quote, hcl, true, false).check.status, 'pass');
  });

  it('an AK shorter than RSA-2048 is refused even though its signature verifies', () => {
    const { hcl, quote } = withAk(1024);
    const c = checkFreshness(quote, hcl, true, false).check;
    assert.equal(c.status, 'fail');
    assert.match(c.reason, /1024.*2048/);
  });

  it('an empty or over-long nonce is an options error, never compared with extraData', async () => {
    const base = { evidence: fixture(`${DIR}/hcl-report.bin`), vcek: fixture(`${DIR}/vcek.pem`), now: NOW };
    for (const nonce of [new Uint8Array(0), new Uint8Array(65)]) {
      const quote = { message, signature: fixture(`${DIR}/quote.sig`), nonce };
      assert.throws(
        () => verifyEvidenceSync({ ...base, quote }),
        (e: unknown) => e instanceof ParseError && e.code === 'E_OPTIONS' && /nonce/.test(e.message),
        `nonce of ${nonce.length} bytes`,
      );
      await assert.rejects(verifyEvidence({ ...base, quote }), (e: unknown) => e instanceof ParseError && e.code === 'E_OPTIONS');
    }
  });
});
