// Freshness by report: the runtime data's user-data must be the verifier's nonce (zero-padded). Real
// vectors carry zero user data (not fresh by report); derived reports carry the nonce (their AMD
// signature fails, so the freshness logic is judged apart from it); real quotes still prove freshness.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy } from '../../src/policy/policy.js';
import { verifyEvidenceSync } from '../../src/verify/verify-evidence.js';
import { parseTpmsAttest } from '../../src/index.js';
import { check, fixture, HCL_VECTORS, NOW } from './fixtures.js';
import { padded, withUserData } from './derive-report.js';

const NONCE = Buffer.from('6368616c6c656e6765', 'hex'); // the nonce of the real quotes
const strict = parsePolicy({ requireFreshness: true });

describe('freshness by report (user-data) and by quote', () => {
  for (const v of HCL_VECTORS) {
    const vcek = fixture(`${v.dir}/${v.vcek}`);
    const hcl = fixture(`${v.dir}/hcl-report.bin`);
    // The genoa quote carries other qualifying data than its nonce.hex says (see vectors.test.ts): use its own.
    const qNonce = Buffer.from(parseTpmsAttest(fixture(`${v.dir}/quote.msg`)).extraData);
    const quote = { message: fixture(`${v.dir}/quote.msg`), signature: fixture(`${v.dir}/quote.sig`), nonce: qNonce };
    // milan-v2's published quote is not by its report's AK (vectors.test.ts): no quote tests on it.
    const quoteOk = v.dir !== 'azure-hcl/milan-v2';

    it(`${v.dir}: real report (zero user data) with --nonce and no quote is not fresh; requireFreshness fails`, () => {
      const r = verifyEvidenceSync({ evidence: hcl, vcek, nonce: NONCE, policy: strict, now: NOW });
      assert.equal(check(r, 'signature').status, 'pass', 'the genuine report verifies');
      // Not fresh, and normal (made before the challenge): skip, as without a nonce; the policy fails it.
      assert.equal(check(r, 'freshness').status, 'skip');
      assert.match(check(r, 'freshness').reason, /user-data is zero/);
      assert.equal(check(r, 'policy.freshness').status, 'fail');
      assert.equal(r.claims['cvm-attest-fresh-by'], null);
      assert.equal(r.verdict, 'fail');
      // Without requireFreshness the same evidence passes, not fresh (what `serve` with a relaxed policy relies on).
      const relaxed = verifyEvidenceSync({ evidence: hcl, vcek, nonce: NONCE, now: NOW });
      assert.equal(check(relaxed, 'freshness').status, 'skip');
      assert.equal(relaxed.claims['cvm-attest-fresh-by'], null);
      assert.equal(relaxed.verdict, 'pass', JSON.stringify(relaxed.checks.filter((c) => c.status === 'fail')));
    });

    if (quoteOk)
      it(`${v.dir}: real report + real quote: fresh by quote, the zero user data is not an error`, () => {
        const r = verifyEvidenceSync({ evidence: hcl, vcek, quote, policy: strict, now: NOW });
        assert.equal(check(r, 'freshness').status, 'pass');
        assert.match(check(r, 'freshness').reason, /^fresh by quote: .*not fresh by report/);
        assert.equal(r.claims['cvm-attest-fresh-by'], 'quote');
        assert.equal(check(r, 'policy.freshness').status, 'pass');
        assert.equal(r.verdict, 'pass');
      });

    it(`${v.dir}: a derived report carrying the nonce is fresh by report without a quote (signature fails apart)`, () => {
      const derived = withUserData(hcl, padded(NONCE));
      const r = verifyEvidenceSync({ evidence: derived, vcek, nonce: NONCE, policy: strict, now: NOW });
      assert.equal(check(r, 'runtime-data').status, 'pass', 'REPORT_DATA re-bound to the new runtime data');
      assert.equal(check(r, 'signature').status, 'fail', 'the AMD signature no longer covers the derived report');
      assert.equal(check(r, 'freshness').status, 'pass');
      assert.match(check(r, 'freshness').reason, /^fresh by report: /);
      assert.equal(check(r, 'policy.freshness').status, 'pass');
      assert.equal(r.claims['cvm-attest-fresh-by'], 'report');
      assert.equal(r.verdict, 'fail');
    });

    if (quoteOk)
      it(`${v.dir}: derived report + real quote over the same nonce: report+quote`, () => {
        const r = verifyEvidenceSync({ evidence: withUserData(hcl, padded(qNonce)), vcek, quote, now: NOW });
        assert.equal(check(r, 'freshness').status, 'pass');
        assert.equal(r.claims['cvm-attest-fresh-by'], 'report+quote');
      });
  }

  const v = HCL_VECTORS[3]!;
  const hcl = fixture(`${v.dir}/hcl-report.bin`);
  const vcek = fixture(`${v.dir}/${v.vcek}`);

  it('a report carrying another nonce fails freshness and requireFreshness', () => {
    const r = verifyEvidenceSync({ evidence: withUserData(hcl, padded(Buffer.from('another'))), vcek, nonce: NONCE, policy: strict, now: NOW });
    assert.equal(check(r, 'freshness').status, 'fail');
    assert.match(check(r, 'freshness').reason, /is not the nonce/);
    assert.equal(check(r, 'policy.freshness').status, 'fail');
  });

  it('the nonce must be zero-padded on the right: left-padded or unpadded user data does not match', () => {
    const left = Buffer.alloc(64);
    NONCE.copy(left, 64 - NONCE.length);
    const r = verifyEvidenceSync({ evidence: withUserData(hcl, left), vcek, nonce: NONCE, now: NOW });
    assert.equal(check(r, 'freshness').status, 'fail');
  });

  it('an all-zero nonce never makes a zero user data fresh', () => {
    const r = verifyEvidenceSync({ evidence: hcl, vcek, nonce: new Uint8Array(16), now: NOW });
    assert.equal(check(r, 'freshness').status, 'fail');
    assert.match(check(r, 'freshness').reason, /all zeros/);
  });

  it('user data carrying the nonce but not bound to REPORT_DATA does not count', () => {
    const d = withUserData(hcl, padded(NONCE));
    d[0x20 + 0x50]! ^= 1; // break the binding
    const r = verifyEvidenceSync({
      evidence: d,
      vcek,
      nonce: NONCE,
      policy: parsePolicy({ requireFreshness: true, requireRuntimeDataBinding: false }),
      now: NOW,
    });
    assert.equal(check(r, 'freshness').status, 'fail');
    assert.match(check(r, 'freshness').reason, /not bound/);
    assert.equal(check(r, 'policy.freshness').status, 'fail');
  });

  it('a bad quote fails freshness even when the report carries the nonce', () => {
    const sig = Buffer.from(fixture(`${v.dir}/quote.sig`));
    sig[sig.length - 1]! ^= 1;
    const r = verifyEvidenceSync({
      evidence: withUserData(hcl, padded(NONCE)),
      vcek,
      quote: { message: fixture(`${v.dir}/quote.msg`), signature: sig, nonce: NONCE },
      now: NOW,
    });
    assert.equal(check(r, 'freshness').status, 'fail');
    assert.match(check(r, 'freshness').reason, /bad quote is not accepted/);
  });

  it('replayed evidence fresh by report is a warning', () => {
    const r = verifyEvidenceSync({ evidence: withUserData(hcl, padded(NONCE)), vcek, nonce: NONCE, replayed: true, now: NOW });
    assert.equal(check(r, 'freshness').status, 'warn');
    assert.equal(r.claims['cvm-attest-fresh-by'], 'report');
  });

  it('no nonce and no quote: skipped as before', () => {
    const r = verifyEvidenceSync({ evidence: hcl, vcek, now: NOW });
    assert.equal(check(r, 'freshness').status, 'skip');
    assert.equal(r.claims['cvm-attest-fresh-by'], null);
  });

  it('refuses a nonce of 0 or more than 64 bytes', () => {
    assert.throws(() => verifyEvidenceSync({ evidence: hcl, vcek, nonce: new Uint8Array(0) }), /nonce must be 1-64 bytes/);
    assert.throws(() => verifyEvidenceSync({ evidence: hcl, vcek, nonce: new Uint8Array(65) }), /nonce must be 1-64 bytes/);
  });
});
