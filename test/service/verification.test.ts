// The verification step a pool worker runs (src/service/verification.ts), in process. The service's
// own nonces are 32 random bytes, so no recorded quote can ever answer one; here the Verifier is given
// the milan-v3-a vector's recorded nonce ("challenge"), which its real quote is over, to show what a
// fresh pass looks like end to end: freshness passes and the token says fresh.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import { jwtVerify, createLocalJWKSet } from 'jose';
import { answerOf, Verifier, type VerifierConfig } from '../../src/service/verification.js';
import { jwkThumbprint } from '../../src/service/keys.js';
import { NonceAuthority } from '../../src/service/nonce.js';
import { attestBody, vector } from './helpers.js';
import type { AttestRequest } from '../../src/service/request.js';
import { parseTdQuote } from '../../src/platform/tdx/quote.js';
import { collateral, TDX_NOW, tdQuote, tdxHcl, vtpmQuote } from '../tdx/helpers.js';
import { attestRequestBody } from '../../src/remote/verifier-client.js';
import { requestValidator } from '../../src/service/request.js';
import type { Evidence } from '../../src/collect/evidence.js';
import { akCertificateDer } from '../../src/guest/ak-certificate.js';
import { fixture } from '../verify/fixtures.js';
import { verifyEvidence } from '../../src/verify/verify-evidence.js';
import { parsePolicy } from '../../src/policy/policy.js';
import { padded, withUserData } from '../verify/derive-report.js';

function verifier(policy: unknown, crls: VerifierConfig['crls'] = {}): { v: Verifier; jwks: ReturnType<typeof createLocalJWKSet> } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' }) as Record<string, string>;
  const kid = jwkThumbprint(jwk);
  const v = new Verifier({
    policy,
    crls,
    issuer: 'https://v.example',
    jwksUri: 'https://v.example/certs',
    tokenLifetimeSeconds: 600,
    key: { pem: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, kid, alg: 'RS256' },
  });
  return { v, jwks: createLocalJWKSet({ keys: [{ ...jwk, kid, alg: 'RS256' }] }) };
}

/** What a TDX VM's collector hands the verifier client: the real DCesv5 evidence with its vTPM quote. */
function tdxEvidence(q: ReturnType<typeof vtpmQuote>, extra: Partial<Evidence> = {}): Evidence {
  return {
    hclReport: tdxHcl(),
    vcekPem: '',
    chainPem: '',
    tdQuote: tdQuote(),
    collateral: collateral(),
    ...extra,
    quote: { message: q.message, signature: q.signature, pcrs: q.pcrs!, nonce: q.nonce, pcrSelection: q.pcrs!.map((_, i) => i) },
    warnings: [],
    replayed: false,
    transport: 'test',
    certificateSource: 'pcs',
  };
}

describe('Verifier (the worker step)', () => {
  it('milan-v3-a with its real quote over its recorded nonce: fresh pass, token x-ms-cvm-attest-fresh true', async () => {
    const milan = vector('milan-v3-a');
    const { v, jwks } = verifier({ requireFreshness: true });
    const nonceHex = milan.quote!.nonce.toString('hex');
    const req = attestBody(nonceHex, milan, { quote: true }) as unknown as AttestRequest;
    const o = await v.attest(req, new Date('2026-11-28T12:00:00Z'));
    assert.equal(o.verdict, 'pass', JSON.stringify(o.checks.filter((c) => c.status === 'fail')));
    assert.equal(o.fresh, true);
    assert.equal(o.checks.find((c) => c.id === 'freshness')!.status, 'pass');
    assert.equal(o.attestedVmId, milan.vmUniqueId);
    const { payload } = await jwtVerify(o.token!, jwks, { issuer: 'https://v.example', currentDate: new Date('2026-11-28T12:00:01Z') });
    assert.equal(payload['x-ms-cvm-attest-fresh'], true);
    assert.equal(payload.nonce, nonceHex);
    assert.equal(payload.jti, o.jti);
    // The answer the worker sends: the response body serialised, the log's fields, the outcome only when asked.
    const a = answerOf(o, false);
    assert.deepEqual(JSON.parse(a.body), { verdict: 'pass', checks: o.checks, claims: o.claims, token: o.token });
    assert.deepEqual([a.verdict, a.platform, a.fresh, a.jti, a.attestedVmId, a.failed], ['pass', 'sevsnp', true, o.jti, milan.vmUniqueId, []]);
    assert.equal(a.outcome, undefined);
    assert.equal(answerOf(o, true).outcome, o);
  });

  it('the same quote against any other nonce fails freshness, and no token is made', async () => {
    const milan = vector('milan-v3-a');
    const { v } = verifier({ requireFreshness: false });
    const n = new NonceAuthority(Buffer.alloc(32, 1)).issue().nonce;
    const o = await v.attest(attestBody(n, milan, { quote: true }) as unknown as AttestRequest);
    assert.equal(o.verdict, 'fail');
    assert.match(o.checks.find((c) => c.id === 'freshness')!.reason, /replayed or foreign quote/);
    assert.equal(o.token, undefined);
    const a = answerOf(o, false);
    assert.deepEqual(JSON.parse(a.body), { verdict: 'fail', checks: o.checks, claims: o.claims }, 'no token member on a fail');
    assert.deepEqual(
      a.failed,
      o.checks.filter((c) => c.status === 'fail').map((c) => c.id),
    );
    assert.ok(a.failed.includes('freshness'));
    assert.equal(a.jti, undefined);
  });

  it('TDX: the real DCesv5 evidence with its collateral and its vTPM quote over its recorded nonce: fresh pass, tdx claims in the token', async () => {
    const { v, jwks } = verifier({ requireFreshness: true });
    const q = vtpmQuote();
    const nonceHex = Buffer.from(q.nonce).toString('hex');
    const req: AttestRequest = {
      nonce: nonceHex,
      evidence: {
        hclReport: tdxHcl().toString('base64'),
        tdQuote: tdQuote().toString('base64'),
        collateral: Object.fromEntries(collateral().map((f) => [f.name, Buffer.from(f.bytes).toString('base64')])),
        quote: { message: Buffer.from(q.message).toString('base64'), signature: Buffer.from(q.signature).toString('base64'), pcrs: q.pcrs! },
      },
    };
    const o = await v.attest(req, TDX_NOW);
    assert.equal(o.verdict, 'pass', JSON.stringify(o.checks.filter((c) => c.status === 'fail')));
    assert.equal(o.platform, 'tdx');
    assert.equal(o.fresh, true);
    assert.equal(o.claims['cvm-attest-fresh-by'], 'quote');
    assert.match(o.attestedVmId ?? '', /^[0-9A-F-]{36}$/);
    const { payload } = await jwtVerify(o.token!, jwks, { issuer: 'https://v.example', currentDate: new Date(TDX_NOW.getTime() + 1000) });
    assert.equal(payload['x-ms-attestation-type'], 'tdxvm');
    assert.equal(payload.tdx_mrtd, Buffer.from(parseTdQuote(tdQuote()).body.mrTd).toString('hex'));
    assert.equal(payload.attester_tcb_status, 'OutOfDate');
    assert.equal(payload['x-ms-cvm-attest-fresh'], true);
    // Without the service's or the request's collateral the TCB cannot be judged: fail, no token.
    const bare = await v.attest({ ...req, evidence: { ...req.evidence, collateral: {} } }, TDX_NOW);
    assert.equal(bare.verdict, 'fail');
    assert.equal(bare.checks.find((c) => c.id === 'collateral')!.status, 'fail');
    assert.equal(bare.token, undefined);
  });

  it('a TD quote without its HCL report is a typed refusal (no runtime data, no vTPM key)', async () => {
    const { v } = verifier({});
    await assert.rejects(v.attest({ nonce: 'ab'.repeat(32), evidence: { tdQuote: 'AAAA', collateral: { pckCrl: 'x' } } }), { code: 'E_REQUEST_EVIDENCE' });
  });
});

describe('NonceAuthority', () => {
  it('any holder of the key checks any nonce; another key, a flipped bit or an expired one are refused', () => {
    const key = Buffer.alloc(32, 7);
    const a = new NonceAuthority(key);
    const b = new NonceAuthority(Buffer.from(key));
    const n = a.issue(new Date('2026-01-01T00:00:00Z'));
    assert.equal(b.check(n.nonce, new Date('2026-01-01T00:04:00Z')).hex, n.nonce);
    assert.throws(() => new NonceAuthority(Buffer.alloc(32, 8)).check(n.nonce, new Date('2026-01-01T00:04:00Z')), { code: 'E_NONCE_UNKNOWN' });
    assert.throws(() => b.check(n.nonce, new Date('2026-01-01T00:05:01Z')), { code: 'E_NONCE_EXPIRED' });
    const flipped = (n.nonce[0] === '0' ? '1' : '0') + n.nonce.slice(1);
    assert.throws(() => b.check(flipped, new Date('2026-01-01T00:04:00Z')), { code: 'E_NONCE_UNKNOWN' });
    assert.throws(() => b.check(n.nonce.toUpperCase()), { code: 'E_NONCE_MALFORMED' });
  });
});

describe('the VM side: the attest request body for TDX evidence', () => {
  it('carries hclReport, tdQuote and the collateral (base64 members), no empty vcek; the schema accepts it and the Verifier passes it', async () => {
    const q = vtpmQuote();
    const evidence = tdxEvidence(q);
    const nonceHex = Buffer.from(q.nonce).toString('hex');
    const body = attestRequestBody(nonceHex.padEnd(64, '0'), evidence) as { evidence: Record<string, unknown> };
    assert.equal(body.evidence.vcek, undefined);
    assert.equal(body.evidence.tdQuote, tdQuote().toString('base64'));
    const members = body.evidence.collateral as Record<string, string>;
    assert.deepEqual(
      Object.values(members).map((v) => Buffer.from(v, 'base64')),
      collateral().map((f) => Buffer.from(f.bytes)),
    );
    const validate = await requestValidator();
    const req = validate(Buffer.from(JSON.stringify(body)));
    const { v } = verifier({ requireFreshness: true });
    const o = await v.attest({ ...req, nonce: nonceHex }, TDX_NOW);
    assert.equal(o.verdict, 'pass', JSON.stringify(o.checks.filter((c) => c.status === 'fail')));
    assert.equal(o.fresh, true);
  });
});

describe('the AK certificate and the event log travel with the request', () => {
  it("the VM sends them; the verifier runs ak-certificate and event-log on them (here: another vTPM's certificate, another boot's log: both fail)", async () => {
    const q = vtpmQuote();
    const log = fixture('eventlog/ubuntu-2404-amd-sevsnp.bin');
    const ak = Buffer.from(
      akCertificateDer(
        Buffer.from(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(fixture('azure-vtpm/azure_ak_certificates.txt').toString('utf8'))![0]),
      ),
    );
    const evidence = tdxEvidence(q, { akCertificate: ak, eventLog: log });
    const nonceHex = Buffer.from(q.nonce).toString('hex');
    const body = attestRequestBody(nonceHex.padEnd(64, '0'), evidence) as { evidence: Record<string, unknown> };
    assert.equal(body.evidence.akCertificate, ak.toString('base64'));
    assert.equal(body.evidence.eventLog, log.toString('base64'));
    const req = (await requestValidator())(Buffer.from(JSON.stringify(body)));
    const { v } = verifier({ requireFreshness: true });
    const o = await v.attest({ ...req, nonce: nonceHex }, new Date('2026-06-01T00:00:00Z'));
    assert.equal(o.checks.find((c) => c.id === 'ak-certificate')!.status, 'fail');
    assert.match(o.checks.find((c) => c.id === 'ak-certificate')!.reason, /not the HCLAkPub/);
    assert.equal(o.checks.find((c) => c.id === 'event-log')!.status, 'fail');
    assert.equal(o.verdict, 'fail');
    assert.equal(o.token, undefined);
  });
});

describe("Verifier: the service's AMD CRLs (--collateral)", () => {
  it("the CRL of the product the chain establishes is checked as verify --crl checks it; another product's CRL is never used", async () => {
    const genoa = vector('genoa');
    const now = new Date('2026-11-28T12:00:00Z');
    const crls = { Milan: fixture('amd/crl_milan.pem').toString('latin1'), Genoa: fixture('amd/crl_genoa.pem').toString('latin1') };
    const o = await verifier({ requireFreshness: false }, crls).v.attest(attestBody('ab'.repeat(32), genoa) as unknown as AttestRequest, now);
    const direct = await verifyEvidence({
      evidence: genoa.hclReport,
      vcek: genoa.vcek,
      chain: genoa.chain,
      crl: crls.Genoa,
      now,
      policy: parsePolicy({ requireFreshness: false }),
    });
    assert.deepEqual(
      o.checks.find((c) => c.id === 'crl'),
      direct.checks.find((c) => c.id === 'crl'),
    );
    assert.match(o.checks.find((c) => c.id === 'crl')!.reason, /stale/, 'the Genoa CRL was checked');
    assert.equal(o.verdict, 'pass');
    const none = await verifier({ requireFreshness: false }, { Milan: crls.Milan }).v.attest(
      attestBody('ab'.repeat(32), genoa) as unknown as AttestRequest,
      now,
    );
    assert.equal(none.checks.find((c) => c.id === 'crl')!.reason, 'no CRL given', 'no Genoa CRL: none checked (not the Milan one)');
  });
});

describe('Verifier: the nonce in the report (fresh by report, one code path with verify --nonce)', () => {
  // The service's nonce goes to verifyEvidence for the report as well as for the quote: guest/fresh-by.ts
  // judges both. A derived report (user-data rewritten, REPORT_DATA re-bound) fails its AMD signature, so
  // the verdict is fail; what is shown is the freshness check alone, with no quote given.
  const genoa = vector('genoa');
  const nonce = new NonceAuthority(Buffer.alloc(32, 2)).issue().nonce;
  const body = (hcl: Buffer): AttestRequest => attestBody(nonce, { ...genoa, hclReport: hcl }) as unknown as AttestRequest;

  it('a report whose user-data is the service nonce (zero-padded): freshness passes, by report', async () => {
    const { v } = verifier({ requireFreshness: true });
    const o = await v.attest(body(withUserData(genoa.hclReport, padded(Buffer.from(nonce, 'hex')))));
    const f = o.checks.find((c) => c.id === 'freshness')!;
    assert.equal(f.status, 'pass', f.reason);
    assert.match(f.reason, /^fresh by report/);
    assert.equal(o.claims['cvm-attest-fresh-by'], 'report');
    assert.equal(o.fresh, true);
    assert.ok(
      o.checks.some((c) => c.id === 'signature' && c.status === 'fail'),
      'the derived report is not AMD-signed',
    );
    assert.equal(o.verdict, 'fail');
    assert.equal(o.checks.filter((c) => c.id.startsWith('freshness')).length, 1, 'one freshness check, not a second service-only one');
  });

  it("a report carrying another nonce, or the real report's zero user-data, is not fresh", async () => {
    const { v } = verifier({ requireFreshness: true });
    const other = await v.attest(body(withUserData(genoa.hclReport, padded(Buffer.alloc(32, 9)))));
    assert.equal(other.checks.find((c) => c.id === 'freshness')!.status, 'fail');
    assert.equal(other.fresh, false);
    const real = await v.attest(body(genoa.hclReport));
    const f = real.checks.find((c) => c.id === 'freshness')!;
    assert.equal(f.status, 'skip', 'made before any challenge: not fresh, and normal');
    assert.match(f.reason, /user-data is zero/);
    assert.equal(real.checks.find((c) => c.id === 'policy.freshness')!.status, 'fail');
    assert.equal(real.verdict, 'fail');
    // A policy that relaxes freshness passes the genuine report, not fresh.
    const relaxed = await verifier({ requireFreshness: false }).v.attest(body(genoa.hclReport));
    assert.equal(relaxed.verdict, 'pass', JSON.stringify(relaxed.checks.filter((c) => c.status === 'fail')));
    assert.equal(relaxed.fresh, false);
    assert.ok(relaxed.token);
  });
});
