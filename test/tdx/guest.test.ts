// The guest checks on TDX, the same code path as on SNP: freshness by report (the runtime data's
// user-data = the nonce) or by vTPM quote, the vTPM AK certificate, the TCG event log, and their policy
// keys and claims. The real DCesv5 evidence carries zero user data (not fresh by report); derived
// evidence carries the nonce or another AK (its TD quote signature then fails, judged apart).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { parsePolicy } from '../../src/policy/policy.js';
import { akCertificateDer } from '../../src/guest/ak-certificate.js';
import { verifyEvidenceSync, type VerifyOptions } from '../../src/verify/verify-evidence.js';
import type { VerificationResult } from '../../src/result/result.js';
import { check, fixture } from '../verify/fixtures.js';
import { padded } from '../verify/derive-report.js';
import { collateral, TDX_NOW, tdQuote, tdxHcl, vtpmQuote } from './helpers.js';
import { withTdxAkPub, withTdxUserData } from './derive.js';

const run = (o: Partial<VerifyOptions> = {}): VerificationResult =>
  verifyEvidenceSync({ evidence: tdxHcl(), tdQuote: tdQuote(), collateral: collateral(), now: TDX_NOW, ...o });
const NONCE = Buffer.from('challenge'); // the nonce of the real vTPM quote
const strict = parsePolicy({ requireFreshness: true });

describe('TDX: freshness by report and by quote', () => {
  it('real report (zero user data) with a nonce and no quote: not fresh; requireFreshness fails', () => {
    const r = run({ nonce: NONCE, policy: strict });
    assert.equal(check(r, 'signature.quote').status, 'pass', 'the genuine evidence verifies');
    // Made before any challenge: not fresh, and normal (skip, as without a nonce); the policy fails it.
    assert.equal(check(r, 'freshness').status, 'skip');
    assert.match(check(r, 'freshness').reason, /user-data is zero/);
    assert.equal(check(r, 'policy.freshness').status, 'fail');
    assert.equal(r.claims['cvm-attest-fresh-by'], null);
    assert.equal(r.verdict, 'fail');
  });

  it('real report + real vTPM quote: fresh by quote, the zero user data is not an error', () => {
    const r = run({ quote: vtpmQuote(), policy: strict });
    assert.equal(check(r, 'freshness').status, 'pass');
    assert.match(check(r, 'freshness').reason, /^fresh by quote: .*not fresh by report/);
    assert.equal(r.claims['cvm-attest-fresh-by'], 'quote');
    assert.equal(check(r, 'policy.freshness').status, 'pass');
    assert.equal(r.verdict, 'pass', JSON.stringify(r.checks.filter((c) => c.status === 'fail')));
  });

  it('derived evidence carrying the nonce (TD quote re-bound) is fresh by report without a vTPM quote; the quote signature fails apart', () => {
    const d = withTdxUserData(tdxHcl(), tdQuote(), padded(NONCE));
    const r = run({ evidence: d.hcl, tdQuote: d.tdQuote, nonce: NONCE, policy: strict });
    assert.equal(check(r, 'runtime-data.td-report').status, 'pass', 'the quote body is about the derived TD report');
    assert.equal(check(r, 'runtime-data').status, 'pass', 'REPORTDATA re-bound to the new runtime data');
    assert.equal(check(r, 'signature.quote').status, 'fail', 'the QE signature no longer covers the changed body');
    assert.equal(check(r, 'freshness').status, 'pass');
    assert.match(check(r, 'freshness').reason, /^fresh by report: /);
    assert.equal(check(r, 'policy.freshness').status, 'pass');
    assert.equal(r.claims['cvm-attest-fresh-by'], 'report');
    assert.equal(r.verdict, 'fail');
  });

  it('derived report + the real vTPM quote over the same nonce: report+quote', () => {
    const d = withTdxUserData(tdxHcl(), tdQuote(), padded(NONCE));
    const r = run({ evidence: d.hcl, tdQuote: d.tdQuote, quote: vtpmQuote() });
    assert.equal(check(r, 'freshness').status, 'pass');
    assert.equal(r.claims['cvm-attest-fresh-by'], 'report+quote');
  });

  it('the nonce in the HCL report only (the signed TD quote still binds the old runtime data) does not count', () => {
    const d = withTdxUserData(tdxHcl(), tdQuote(), padded(NONCE), false);
    const r = run({ evidence: d.hcl, tdQuote: d.tdQuote, nonce: NONCE, policy: parsePolicy({ requireFreshness: true, requireRuntimeDataBinding: false }) });
    assert.equal(check(r, 'signature.quote').status, 'pass');
    assert.equal(check(r, 'runtime-data').status, 'warn', 'binding failure allowed by policy');
    assert.equal(check(r, 'freshness').status, 'fail');
    assert.match(check(r, 'freshness').reason, /not bound/);
    assert.equal(check(r, 'policy.freshness').status, 'fail');
  });

  it('a report carrying another nonce fails freshness', () => {
    const d = withTdxUserData(tdxHcl(), tdQuote(), padded(Buffer.from('another')));
    const r = run({ evidence: d.hcl, tdQuote: d.tdQuote, nonce: NONCE });
    assert.equal(check(r, 'freshness').status, 'fail');
    assert.match(check(r, 'freshness').reason, /is not the nonce/);
  });

  it('replayed evidence fresh by report is a warning', () => {
    const d = withTdxUserData(tdxHcl(), tdQuote(), padded(NONCE));
    const r = run({ evidence: d.hcl, tdQuote: d.tdQuote, nonce: NONCE, replayed: true });
    assert.equal(check(r, 'freshness').status, 'warn');
    assert.equal(r.claims['cvm-attest-fresh-by'], 'report');
  });
});

/** The PEM members of the txtar of real AK certificates. */
function akCertificates(): Buffer[] {
  const t = fixture('azure-vtpm/azure_ak_certificates.txt').toString('utf8');
  return [...t.matchAll(/^-- \S+ --\n(-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----)/gm)].map((m) =>
    Buffer.from(akCertificateDer(Buffer.from(m[1]!))),
  );
}
const WHILE_VALID = new Date('2026-06-01T00:00:00Z'); // the real AK certificates and CA - 03 are valid then

describe('TDX: the vTPM AK certificate and the event log', () => {
  it('absent inputs: both checks skip, their claims are null; requireAkCertificate then fails', () => {
    const r = run({ quote: vtpmQuote(), policy: parsePolicy({ requireAkCertificate: true }) });
    assert.equal(check(r, 'ak-certificate').status, 'skip');
    assert.equal(check(r, 'event-log').status, 'skip');
    assert.equal(check(r, 'policy.ak-certificate').status, 'fail');
    assert.equal(r.claims['cvm-attest-ak-certificate'], null);
    assert.equal(r.claims['cvm-attest-event-log'], null);
    assert.equal(r.verdict, 'fail');
    assert.deepEqual(
      r.claims['x-ms-azurevm-attested-pcrs'],
      Array.from({ length: 24 }, (_, i) => i),
      'the quoted PCRs, as on SNP',
    );
  });

  const certs = akCertificates();
  it("the real TDX report's HCLAkPub is another vTPM's key: a real AK certificate fails", () => {
    assert.ok(certs.length >= 1);
    const r = run({ akCertificate: certs[0]!, now: WHILE_VALID });
    assert.equal(check(r, 'ak-certificate').status, 'fail');
    assert.match(check(r, 'ak-certificate').reason, /not the HCLAkPub/);
  });

  it("derived evidence naming the certificate's key: ak-certificate passes, with its claim and requireAkCertificate", () => {
    const der = certs[0]!;
    const jwk = new X509Certificate(der).publicKey.export({ format: 'jwk' }) as { n: string; e: string };
    const d = withTdxAkPub(tdxHcl(), tdQuote(), jwk);
    const r = run({ evidence: d.hcl, tdQuote: d.tdQuote, akCertificate: der, policy: parsePolicy({ requireAkCertificate: true }), now: WHILE_VALID });
    assert.equal(check(r, 'runtime-data').status, 'pass');
    assert.equal(check(r, 'ak-certificate').status, 'pass', check(r, 'ak-certificate').reason);
    assert.equal(check(r, 'policy.ak-certificate').status, 'pass');
    const claim = r.claims['cvm-attest-ak-certificate'] as Record<string, string>;
    assert.equal(claim.status, 'pass');
    assert.equal(claim.issuer, 'CN=Global Virtual TPM CA - 03');
    assert.equal(check(r, 'signature.quote').status, 'fail', 'the derived TD quote fails its signature, apart');
  });

  it("an event log that is not this TD's boot fails against the quoted PCRs; without a quote nothing in it is trusted", () => {
    const log = fixture('eventlog/ubuntu-2404-amd-sevsnp.bin');
    const r = run({ quote: vtpmQuote(), eventLog: log });
    assert.equal(check(r, 'event-log').status, 'fail');
    assert.match(check(r, 'event-log').reason, /does not replay to the quoted PCR/);
    assert.equal(r.verdict, 'fail');
    const alone = run({ eventLog: log });
    assert.equal(check(alone, 'event-log').status, 'warn');
    assert.match(check(alone, 'event-log').reason, /no verified quote/);
  });

  it('guest policy keys apply on TDX: allowedPcrs judges the quoted PCR values', () => {
    const pcr0 = vtpmQuote().pcrs![0]!;
    const ok = run({ quote: vtpmQuote(), policy: parsePolicy({ allowedPcrs: { '0': [pcr0] } }) });
    const bad = run({ quote: vtpmQuote(), policy: parsePolicy({ allowedPcrs: { '0': ['00'.repeat(32)] } }) });
    const id = ok.checks.find((c) => c.id.startsWith('policy.') && /PCR/i.test(c.reason))?.id;
    assert.ok(id, JSON.stringify(ok.checks.map((c) => c.id)));
    assert.equal(check(ok, id).status, 'pass');
    assert.equal(check(bad, id).status, 'fail');
    assert.equal(bad.verdict, 'fail');
  });
});
