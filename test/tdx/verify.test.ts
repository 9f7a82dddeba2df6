// TDX verification end to end on the real Azure DCesv5 evidence (collateral valid 2025-02-13..03-15,
// so `now` is pinned inside that window), and the counterfeits a verifier must reject: a quote
// re-signed under our own root, flipped bytes, a foreign QE report, collateral for another FMSPC or
// altered, stale collateral, a TD report that is not the quote's.
import 'reflect-metadata';
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, KeyObject, sign, webcrypto, type KeyObject as KO } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { ParseError } from '../../src/base/errors.js';
import { parsePolicy } from '../../src/policy/policy.js';
import { evaluateTdxPolicy } from '../../src/platform/tdx/policy.js';
import { parseTdQuote } from '../../src/platform/tdx/quote.js';
import { verifyEvidenceSync, type VerifyOptions } from '../../src/verify/verify-evidence.js';
import type { VerificationResult } from '../../src/result/result.js';
import { check, failed, fixture, HCL_VECTORS } from '../verify/fixtures.js';
import { collateral, intelQuote, TDX_NOW, tdQuote, tdxHcl, vtpmQuote } from './helpers.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const run = (o: Partial<VerifyOptions> = {}): VerificationResult =>
  verifyEvidenceSync({ evidence: tdxHcl(), tdQuote: tdQuote(), collateral: collateral(), now: TDX_NOW, quote: vtpmQuote(), ...o });
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('TDX: the real DCesv5 evidence', () => {
  it('passes every check inside the collateral window; TCB OutOfDate with its advisories is a warning', () => {
    const r = run();
    assert.equal(r.verdict, 'pass', JSON.stringify(r.checks, null, 1));
    assert.equal(r.platform, 'TDX');
    assert.deepEqual(failed(r), []);
    for (const id of [
      'structure',
      'signature.quote',
      'chain',
      'signature.qe-report',
      'crl',
      'collateral',
      'collateral.freshness',
      'tcb',
      'tcb.qe-identity',
      'runtime-data.td-report',
      'runtime-data',
      'freshness',
      'policy.debug',
    ])
      assert.equal(check(r, id).status, 'pass', id);
    assert.equal(check(r, 'policy.tcb-status').status, 'warn');
    assert.match(check(r, 'policy.tcb-status').reason, /OutOfDate .*INTEL-SA-00960, INTEL-SA-00982, INTEL-SA-00986/);
    assert.equal(r.tdx?.tcbStatus, 'OutOfDate');
    assert.equal(r.tdx?.fmspc, '00806f050000');
    assert.deepEqual(
      r.certificates.map((c) => c.role),
      ['PCK', 'PCK-CA', 'SGX-ROOT', 'TCB-SIGNING'],
    );
    const q = parseTdQuote(tdQuote());
    const c = r.claims as Record<string, unknown>;
    assert.equal(c['x-ms-attestation-type'], 'tdxvm');
    assert.equal(c.tdx_mrtd, hex(q.body.mrTd));
    assert.equal(c.tdx_rtmr2, hex(q.body.rtmr[2]));
    assert.equal(c.tdx_report_data, hex(q.body.reportData));
    assert.equal(c.tdx_tee_tcb_svn, '02010600000000000000000000000000');
    assert.equal(c.tdx_td_attributes_debug, false);
    assert.equal(c.attester_tcb_status, 'OutOfDate');
    assert.deepEqual(c.attester_advisory_ids, ['INTEL-SA-00960', 'INTEL-SA-00982', 'INTEL-SA-00986']);
    assert.equal(typeof (c['x-ms-runtime'] as Record<string, unknown>)['vm-configuration'], 'object');
    assert.equal(c['cvm-attest-policy-hash'], r.policy.hash);
    for (const v of Object.values(c)) if (typeof v === 'string' && /^[0-9a-fA-F]{16,}$/.test(v)) assert.equal(v, v.toLowerCase());
    // What the result is about, as on SNP: the digests of the bytes as given (sha256sum of the files), the quote's nonce.
    assert.deepEqual(r.evidence, {
      sha256: createHash('sha256').update(tdxHcl()).digest('hex'),
      nonce: Buffer.from('challenge').toString('hex'),
      tdQuoteSha256: createHash('sha256').update(tdQuote()).digest('hex'),
    });
  });

  it('the same without the vTPM quote, or with a quote over another nonce', () => {
    const r = run({ quote: undefined });
    assert.equal(r.verdict, 'pass');
    assert.equal(check(r, 'freshness').status, 'skip');
    const bad = run({ quote: { ...vtpmQuote(), nonce: Buffer.from('other') } });
    assert.deepEqual(failed(bad), ['freshness']);
  });

  it('at the real clock the collateral is stale: a warning by default, a failure with collateral "enforce"', () => {
    const now = new Date('2026-12-01T00:00:00Z');
    const r = run({ now });
    assert.equal(r.verdict, 'pass');
    assert.equal(check(r, 'collateral.freshness').status, 'warn');
    assert.match(check(r, 'collateral.freshness').reason, /stale collateral: TCB info nextUpdate 2025-03-15.*TCB Signing expired 2025-05-21/);
    assert.equal(check(r, 'crl').status, 'warn');
    const e = run({ now, policy: parsePolicy({ collateral: 'enforce' }) });
    assert.equal(e.verdict, 'fail');
    assert.deepEqual(failed(e), ['collateral.freshness', 'crl']);
    // Inside the window, enforce changes nothing.
    assert.equal(run({ policy: parsePolicy({ collateral: 'enforce' }) }).verdict, 'pass');
  });

  it('without its TD quote a TDX HCL report is unusable input; without collateral the TCB cannot be judged', () => {
    assert.throws(
      () => verifyEvidenceSync({ evidence: tdxHcl(), now: TDX_NOW }),
      (e: unknown) => e instanceof ParseError && e.code === 'E_TDX_QUOTE_MISSING' && /--td-quote/.test(e.message),
    );
    assert.throws(
      () => verifyEvidenceSync({ evidence: fixture('azure-tdx/hcl-report-tdx-noquote.bin'), now: TDX_NOW }),
      (e: unknown) => e instanceof ParseError && e.code === 'E_TDX_QUOTE_MISSING',
    );
    const r = run({ collateral: [] });
    assert.equal(r.verdict, 'fail');
    assert.deepEqual(failed(r), ['collateral', 'policy.tcb-status', 'tcb', 'tcb.qe-identity']);
  });

  it('hex text of the HCL report is accepted as the bytes are', () => {
    const r = run({
      evidence: Buffer.from(
        tdxHcl()
          .toString('hex')
          .replace(/(.{64})/g, '$1\n'),
      ),
    });
    assert.equal(r.verdict, 'pass');
    assert.equal(r.platform, 'TDX');
  });

  it('the other TDX HCL report is not the one this quote is for', () => {
    const r = run({ evidence: fixture('azure-tdx/hcl-report-tdx-noquote.bin'), quote: undefined });
    assert.equal(r.verdict, 'fail');
    assert.ok(failed(r).includes('runtime-data.td-report'));
    assert.ok(failed(r).includes('runtime-data'));
  });
});

describe('TDX counterfeits', () => {
  it('a flipped byte in the quote body (MRTD) breaks the quote signature and the binding', () => {
    const q = Buffer.from(tdQuote());
    q[184] = q[184]! ^ 1;
    const r = run({ tdQuote: q });
    assert.equal(r.verdict, 'fail');
    assert.ok(failed(r).includes('signature.quote'));
    assert.ok(failed(r).includes('runtime-data.td-report'));
    const h = Buffer.from(tdQuote());
    h[30] = h[30]! ^ 1; // user data in the header
    assert.deepEqual(failed(run({ tdQuote: h })), ['signature.quote']);
  });

  it("a QE report (and its signature) from another platform's quote fails the PCK signature", () => {
    const ours = Buffer.from(tdQuote());
    const other = intelQuote();
    other.copy(ours, 770, 770, 770 + 384 + 64);
    const r = run({ tdQuote: ours });
    assert.deepEqual(failed(r), ['signature.qe-report']);
  });

  it("a TD report whose MRTD differs from the quote's fails the binding only", () => {
    const h = Buffer.from(tdxHcl());
    h[0x20 + 528] = h[0x20 + 528]! ^ 0xff;
    const r = run({ evidence: h });
    assert.deepEqual(failed(r), ['runtime-data.td-report']);
    assert.match(check(r, 'runtime-data.td-report').reason, /MRTD differ/);
  });

  it('altered runtime data fails the REPORTDATA binding (and so freshness)', () => {
    const h = Buffer.from(tdxHcl());
    const at = 0x4d4 + 100;
    h[at] = h[at] === 0x41 ? 0x42 : 0x41;
    const r = run({ evidence: h });
    assert.ok(failed(r).includes('runtime-data'));
  });

  it('collateral for another FMSPC, or altered, is refused', () => {
    const text = fixture('intel/tcbinfov3_00806f050000.json').toString('utf8');
    const swap = (t: string) => collateral().map((f) => (f.name.startsWith('tcbinfo') ? { name: f.name, bytes: Buffer.from(t) } : f));
    const other = run({ collateral: swap(text.replace('"fmspc":"00806f050000"', '"fmspc":"00906ed50000"')) });
    assert.ok(failed(other).includes('collateral'));
    assert.match(check(other, 'collateral').reason, /FMSPC 00906ed50000, not the PCK's 00806f050000/);
    const lifted = run({ collateral: swap(text.replace('"tcbStatus":"OutOfDate"', '"tcbStatus":"UpToDate"')) });
    assert.ok(failed(lifted).includes('collateral'));
    assert.match(check(lifted, 'collateral').reason, /not signed by Intel SGX TCB Signing/);
    const qe = collateral().map((f) =>
      f.name.startsWith('qeidentity') ? { name: f.name, bytes: Buffer.from(Buffer.from(f.bytes).toString('utf8').replace('"isvsvn":4', '"isvsvn":9')) } : f,
    );
    assert.match(check(run({ collateral: qe }), 'collateral').reason, /QE identity is not signed/);
  });

  it('beside the real TCB info, an unsigned one with a higher evaluation number is passed over', () => {
    const text = fixture('intel/tcbinfov3_00806f050000.json').toString('utf8');
    const forged = text.replace('"tcbEvaluationDataNumber":17', '"tcbEvaluationDataNumber":99').replace('"tcbStatus":"OutOfDate"', '"tcbStatus":"UpToDate"');
    const r = run({ collateral: [...collateral(), { name: 'newer.json', bytes: Buffer.from(forged) }] });
    assert.equal(r.verdict, 'pass');
    assert.equal(r.tdx?.tcbStatus, 'OutOfDate');
    assert.match(check(r, 'collateral').reason, /evaluation data 17/);
  });

  it('a TCB signing certificate or CRL not from Intel is refused', () => {
    const noSigner = collateral().filter((f) => f.name !== 'tcb_signing_cert.pem');
    assert.match(check(run({ collateral: noSigner }), 'collateral').reason, /no "Intel SGX TCB Signing" certificate/);
    // The PCK CA's CRL given as the root's: the root's CRL is then missing (stale collateral, a warning).
    const noRootCrl = collateral().filter((f) => f.name !== 'intel_root_ca_crl.der');
    const r = run({ collateral: noRootCrl });
    assert.equal(check(r, 'crl').status, 'warn');
    assert.match(check(r, 'crl').reason, /no CRL of Intel SGX Root CA/);
    assert.equal(check(run({ collateral: noRootCrl, policy: parsePolicy({ collateral: 'enforce' }) }), 'crl').status, 'fail');
  });

  describe('a quote re-signed by our own QE key and PCK chain under our own root', () => {
    let forged: Buffer;
    let forgedNoRoot: Buffer;
    before(async () => {
      const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
      const gen = () => webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
      const [rootK, caK, pckK] = [await gen(), await gen(), await gen()];
      const real = parseTdQuote(tdQuote());
      const realPck = new x509.X509Certificate(real.pckChainPem[0]!);
      const sgx = realPck.getExtension('1.2.840.113741.1.13.1')!;
      const names = {
        root: 'CN=Intel SGX Root CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US',
        ca: 'CN=Intel SGX PCK Platform CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US',
        pck: 'CN=Intel SGX PCK Certificate, O=Intel Corporation, L=Santa Clara, ST=CA, C=US',
      };
      const when = { notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2030-01-01T00:00:00Z') };
      const root = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: '01',
        name: names.root,
        keys: rootK,
        signingAlgorithm: alg,
        ...when,
        extensions: [new x509.BasicConstraintsExtension(true, 1, true)],
      });
      const ca = await x509.X509CertificateGenerator.create({
        serialNumber: '02',
        subject: names.ca,
        issuer: names.root,
        publicKey: caK.publicKey,
        signingKey: rootK.privateKey,
        signingAlgorithm: alg,
        ...when,
        extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
      });
      const pck = await x509.X509CertificateGenerator.create({
        serialNumber: '03',
        subject: names.pck,
        issuer: names.ca,
        publicKey: pckK.publicKey,
        signingKey: caK.privateKey,
        signingAlgorithm: alg,
        ...when,
        extensions: [new x509.Extension(sgx.type, false, sgx.value)],
      });
      const pckPriv = KeyObject.from(pckK.privateKey);
      const att = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = att.publicKey.export({ format: 'jwk' });
      const attRaw = Buffer.concat([Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
      const build = (chain: string): Buffer => assemble(real, attRaw, att.privateKey, pckPriv, chain);
      forged = build([pck, ca, root].map((c) => c.toString('pem')).join('\n') + '\n\0');
      forgedNoRoot = build([pck, ca].map((c) => c.toString('pem')).join('\n') + '\n');
    });

    it('parses and every self-consistency check passes, but the chain fails on the pinned root', () => {
      const r = run({ tdQuote: forged });
      assert.equal(r.verdict, 'fail');
      assert.equal(check(r, 'signature.quote').status, 'pass');
      assert.equal(check(r, 'runtime-data.td-report').status, 'pass');
      assert.ok(failed(r).includes('chain'));
      assert.match(check(r, 'chain').reason, /not the pinned Intel SGX Root CA/);
      const n = run({ tdQuote: forgedNoRoot });
      assert.match(check(n, 'chain').reason, /Intel SGX PCK Platform CA is not signed by the pinned Intel SGX Root CA/);
      assert.equal(n.verdict, 'fail');
    });
  });
});

/** A TD quote with the real header and body, signed by `attPriv`, with a QE report re-signed by `pckPriv` and `chain` as certification data. */
function assemble(real: ReturnType<typeof parseTdQuote>, attRaw: Buffer, attPriv: KO, pckPriv: KO, chain: string): Buffer {
  const signed = Buffer.from(real.signedBytes);
  const sig = sign('sha256', signed, { key: attPriv, dsaEncoding: 'ieee-p1363' });
  const qe = Buffer.from(real.qeReport.bytes);
  createHash('sha256').update(attRaw).update(real.qeAuthData).digest().copy(qe, 320);
  qe.fill(0, 352, 384);
  const qeSig = sign('sha256', qe, { key: pckPriv, dsaEncoding: 'ieee-p1363' });
  const certData = Buffer.from(chain);
  const auth = Buffer.alloc(2);
  auth.writeUInt16LE(real.qeAuthData.length);
  const inner = Buffer.concat([qe, qeSig, auth, Buffer.from(real.qeAuthData), u16(5), u32(certData.length), certData]);
  const sigData = Buffer.concat([sig, attRaw, u16(6), u32(inner.length), inner]);
  return Buffer.concat([signed, u32(sigData.length), sigData]);
}
const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

describe('TDX policy', () => {
  it('statuses, advisories, measurements, the TEE TCB SVN and keys of the other platform', () => {
    const q = parseTdQuote(tdQuote());
    assert.equal(check(run({ policy: parsePolicy({ allowedTdxTcbStatuses: ['UpToDate'] }) }), 'policy.tcb-status').status, 'fail');
    const denied = run({ policy: parsePolicy({ deniedAdvisoryIds: ['intel-sa-00982'] }) });
    assert.equal(check(denied, 'policy.advisories').status, 'fail');
    assert.match(check(denied, 'policy.advisories').reason, /INTEL-SA-00982/);
    assert.equal(check(run({ policy: parsePolicy({ deniedAdvisoryIds: ['INTEL-SA-00001'] }) }), 'policy.advisories').status, 'pass');
    const good = run({
      policy: parsePolicy({
        allowedMrtd: [hex(q.body.mrTd).toUpperCase()],
        allowedRtmr0: [hex(q.body.rtmr[0])],
        allowedMrOwner: [hex(q.body.mrOwner)],
        allowedMrConfigId: [hex(q.body.mrConfigId)],
        minimumTeeTcbSvn: '02010600000000000000000000000000',
      }),
    });
    assert.equal(good.verdict, 'pass');
    for (const id of ['policy.mrtd', 'policy.rtmr0', 'policy.mrowner', 'policy.mrconfigid', 'policy.tee-tcb-svn'])
      assert.equal(check(good, id).status, 'pass', id);
    const bad = run({
      policy: parsePolicy({ allowedMrtd: ['00'.repeat(48)], allowedRtmr3: ['11'.repeat(48)], minimumTeeTcbSvn: '03000000000000000000000000000000' }),
    });
    assert.deepEqual(failed(bad), ['policy.mrtd', 'policy.rtmr3', 'policy.tee-tcb-svn']);
    const note = run({ policy: parsePolicy({ maxVmpl: 2, allowedMeasurements: ['00'.repeat(48)] }) });
    assert.equal(note.verdict, 'pass');
    assert.equal(check(note, 'policy.other-platform').status, 'skip');
    assert.match(check(note, 'policy.other-platform').reason, /maxVmpl, allowedMeasurements/);
    // And a TDX key on SNP evidence: ignored with a note.
    const v = HCL_VECTORS[1]!;
    const snp = verifyEvidenceSync({
      evidence: fixture(`${v.dir}/hcl-report.bin`),
      vcek: fixture(`${v.dir}/${v.vcek}`),
      now: new Date('2026-11-28T12:00:00Z'),
      policy: parsePolicy({ allowedMrtd: ['00'.repeat(48)] }),
    });
    assert.equal(snp.verdict, 'pass');
    assert.match(check(snp, 'policy.other-platform').reason, /ignored on AMD SEV-SNP: allowedMrtd/);
    assert.throws(() => parsePolicy({ allowedTdxTcbStatuses: ['Fine'] }), /allowedTdxTcbStatuses/);
    assert.throws(() => parsePolicy({ collateral: 'off' }), /collateral must be/);
    assert.throws(() => parsePolicy({ minimumTeeTcbSvn: '0201' }), /minimumTeeTcbSvn/);
  });

  it('a debuggable TD fails unless allowed', () => {
    const body = { ...parseTdQuote(tdQuote()).body, tdAttributes: Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0]) };
    const ctx = { body, tcbStatus: 'UpToDate' as const, advisoryIds: [], freshness: 'skip' as const };
    assert.equal(evaluateTdxPolicy(parsePolicy({}), ctx).find((c) => c.id === 'policy.debug')!.status, 'fail');
    assert.equal(evaluateTdxPolicy(parsePolicy({ allowDebug: true }), ctx).find((c) => c.id === 'policy.debug')!.status, 'pass');
  });
});
