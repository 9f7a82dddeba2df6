// A counterfeit AMD chain generated from scratch with @peculiar/x509 (not by patching AMD's bytes, as
// counterfeit.test.ts does): an "ARK-Milan" with AMD's exact subject name, an "SEV-Milan" ASK signed by
// it, and an EC P-384 "SEV-VCEK" carrying AMD's VCEK extensions with the real report's REPORTED_TCB and
// CHIP_ID, all signed RSASSA-PSS SHA-384 salt 48 as AMD signs; then a real Milan report re-signed by
// the counterfeit VCEK. Every check that looks at the report passes; only the pinned ARK can stop it.
import 'reflect-metadata';
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify as nodeVerify, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { AsnConvert, AsnProp, AsnPropTypes, AsnType, AsnTypeTypes } from '@peculiar/asn1-schema';
import { parseCertificateBundle, verifyEvidence, type VerificationResult } from '../../src/index.js';
import { PINNED_ARK_SPKI_SHA256 } from '../../src/platform/snp/amd-roots.js';
import { check, failed, fixture, NOW } from './fixtures.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const subtle = webcrypto.subtle;

// ASN.1 CHOICEs of one alternative: how @peculiar/asn1-schema encodes a bare INTEGER / IA5String.
class AsnInt {
  value = 0;
}
AsnType({ type: AsnTypeTypes.Choice })(AsnInt);
AsnProp({ type: AsnPropTypes.Integer })(AsnInt.prototype, 'value');
class AsnIa5 {
  value = '';
}
AsnType({ type: AsnTypeTypes.Choice })(AsnIa5);
AsnProp({ type: AsnPropTypes.IA5String })(AsnIa5.prototype, 'value');
const derInt = (n: number): ArrayBuffer => AsnConvert.serialize(Object.assign(new AsnInt(), { value: n }));
const derIa5 = (s: string): ArrayBuffer => AsnConvert.serialize(Object.assign(new AsnIa5(), { value: s }));

const AMD = '1.3.6.1.4.1.3704.1';
// AMD's certificate signature: RSASSA-PSS, SHA-384 (MGF1 SHA-384), salt 48.
const PSS = { name: 'RSA-PSS', hash: 'SHA-384', saltLength: 48 } as const;
const rsaParams = (bits: number) => ({ name: 'RSA-PSS', modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-384' });

const pem = (c: x509.X509Certificate): string => c.toString('pem') + '\n';
const bytes = (c: x509.X509Certificate): Uint8Array => new Uint8Array(c.rawData);

/** The report's bytes 0..0x29F signed ECDSA P-384 SHA-384; R and S little-endian in 72-byte fields. */
async function resign(report: Uint8Array, key: CryptoKey): Promise<Uint8Array> {
  const out = Uint8Array.from(report);
  const sig = new Uint8Array(await subtle.sign({ name: 'ECDSA', hash: 'SHA-384' }, key, out.subarray(0, 0x2a0)));
  out.fill(0, 0x2a0, 0x2a0 + 144);
  out.set(sig.slice(0, 48).reverse(), 0x2a0);
  out.set(sig.slice(48, 96).reverse(), 0x2e8);
  return out;
}

/** The report's signature as IEEE P1363 r||s (big-endian), read back from the report. */
function reportSignature(report: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(report.slice(0x2a0, 0x2d0).reverse()), Buffer.from(report.slice(0x2e8, 0x318).reverse())]);
}

describe('counterfeit AMD chain generated with @peculiar/x509', () => {
  const realChain = x509.PemConverter.decode(fixture('amd/ask_ark_milan.pem').toString('utf8')).map((d) => new x509.X509Certificate(d));
  const realAsk = realChain.find((c) => c.subjectName.getField('CN')[0] === 'SEV-Milan')!;
  const realArk = realChain.find((c) => c.subjectName.getField('CN')[0] === 'ARK-Milan')!;
  const realVcek = new x509.X509Certificate(fixture('snp/milan-v3-vcek.pem').toString('utf8'));
  const original = new Uint8Array(fixture('snp/milan-v3-report.bin'));
  // Read straight from the report layout (not through our parser): REPORTED_TCB at 0x180 (Milan:
  // byte 0 boot loader, 1 TEE, 6 SNP, 7 microcode), CHIP_ID at 0x1A0 (64 bytes).
  const tcb = { bl: original[0x180]!, tee: original[0x181]!, snp: original[0x186]!, ucode: original[0x187]! };
  const chipId = original.slice(0x1a0, 0x1e0);

  let ark: x509.X509Certificate;
  let ask: x509.X509Certificate;
  let vcek: x509.X509Certificate;
  /** A VCEK whose issuer name is AMD's ASK but which the counterfeit ARK signed directly. */
  let vcekByArk: x509.X509Certificate;
  let report: Uint8Array;
  let vcekKeys: CryptoKeyPair;

  before(async () => {
    // The ARK keeps AMD's RSA-4096, so the counterfeit root differs from AMD's only by the key itself.
    // The ASK uses RSA-2048: generating a 4096-bit key costs ~1.5 s on this 2-core machine and nothing
    // checks an ASK's size; the pin is what must stop the chain.
    const [arkKeys, askKeys, ecKeys] = await Promise.all([
      subtle.generateKey(rsaParams(4096), true, ['sign', 'verify']),
      subtle.generateKey(rsaParams(2048), true, ['sign', 'verify']),
      subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify']),
    ]);
    vcekKeys = ecKeys;
    const name = (c: x509.X509Certificate): x509.Name => new x509.Name(c.subjectName.toArrayBuffer());
    const copyExt = (c: x509.X509Certificate, type: string): x509.Extension => new x509.Extension(c.getExtension(type)!.rawData);
    ark = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: realArk.serialNumber,
      name: name(realArk),
      notBefore: realArk.notBefore,
      notAfter: realArk.notAfter,
      keys: arkKeys,
      signingAlgorithm: PSS,
      extensions: [copyExt(realArk, '2.5.29.15'), new x509.BasicConstraintsExtension(true, undefined, true), copyExt(realArk, '2.5.29.31')],
    });
    ask = await x509.X509CertificateGenerator.create({
      serialNumber: realAsk.serialNumber,
      subject: name(realAsk),
      issuer: ark.subjectName,
      notBefore: realAsk.notBefore,
      notAfter: realAsk.notAfter,
      publicKey: askKeys.publicKey,
      signingKey: arkKeys.privateKey,
      signingAlgorithm: PSS,
      extensions: [new x509.BasicConstraintsExtension(true, 0, true), copyExt(realAsk, '2.5.29.15'), copyExt(realAsk, '2.5.29.31')],
    });
    const vcekParams = {
      serialNumber: realVcek.serialNumber,
      subject: name(realVcek),
      issuer: ask.subjectName,
      notBefore: realVcek.notBefore,
      notAfter: realVcek.notAfter,
      publicKey: ecKeys.publicKey,
      signingAlgorithm: PSS,
      extensions: [
        new x509.Extension(`${AMD}.1`, false, derInt(0)),
        new x509.Extension(`${AMD}.2`, false, derIa5('Milan-B0')),
        new x509.Extension(`${AMD}.3.1`, false, derInt(tcb.bl)),
        new x509.Extension(`${AMD}.3.2`, false, derInt(tcb.tee)),
        new x509.Extension(`${AMD}.3.3`, false, derInt(tcb.snp)),
        new x509.Extension(`${AMD}.3.8`, false, derInt(tcb.ucode)),
        new x509.Extension(`${AMD}.4`, false, chipId),
      ],
    };
    vcek = await x509.X509CertificateGenerator.create({ ...vcekParams, signingKey: askKeys.privateKey });
    vcekByArk = await x509.X509CertificateGenerator.create({ ...vcekParams, signingKey: arkKeys.privateKey });
    report = await resign(original, ecKeys.privateKey);
  });

  const run = (vcekInput: Uint8Array | string, chain?: string): Promise<VerificationResult> =>
    verifyEvidence({ evidence: report, vcek: vcekInput, ...(chain !== undefined ? { chain } : {}), now: NOW, cache: false });

  /** Fails on the chain alone: signature, TCB and chip id all match the counterfeit VCEK. */
  function failsOnChainOnly(r: VerificationResult, reason: RegExp): void {
    assert.equal(r.verdict, 'fail');
    assert.deepEqual(failed(r), ['chain'], JSON.stringify(r.checks));
    assert.equal(check(r, 'signature').status, 'pass');
    assert.equal(check(r, 'chip-id').status, 'pass');
    assert.match(check(r, 'chain').reason, reason);
  }

  it('control: the counterfeit chain is well-formed, AMD-named and cryptographically consistent', async () => {
    assert.ok(await ark.verify({ signatureOnly: true }), 'ARK self-signed');
    assert.ok(await ask.verify({ publicKey: ark, signatureOnly: true }), 'ASK signed by the counterfeit ARK');
    assert.ok(await vcek.verify({ publicKey: ask, signatureOnly: true }), 'VCEK signed by the counterfeit ASK');
    assert.ok(await vcekByArk.verify({ publicKey: ark, signatureOnly: true }));
    assert.equal(await vcek.verify({ publicKey: realAsk, signatureOnly: true }), false, "not signed by AMD's ASK");
    // AMD's names and signature algorithm, byte for byte.
    const eq = (a: ArrayBuffer, b: ArrayBuffer, what: string) => assert.ok(Buffer.from(a).equals(Buffer.from(b)), what);
    eq(ark.subjectName.toArrayBuffer(), realArk.subjectName.toArrayBuffer(), 'ARK subject');
    eq(ark.issuerName.toArrayBuffer(), realArk.issuerName.toArrayBuffer(), 'ARK issuer');
    eq(ask.subjectName.toArrayBuffer(), realAsk.subjectName.toArrayBuffer(), 'ASK subject');
    eq(vcek.issuerName.toArrayBuffer(), realVcek.issuerName.toArrayBuffer(), 'VCEK issuer');
    eq(vcek.subjectName.toArrayBuffer(), realVcek.subjectName.toArrayBuffer(), 'VCEK subject');
    assert.deepEqual(vcek.signatureAlgorithm, realVcek.signatureAlgorithm);
    assert.deepEqual(ark.publicKey.algorithm, realArk.publicKey.algorithm, "same key type and size as AMD's ARK");
    // ...but not AMD's key: the pin is the one difference.
    const arkSpki = createHash('sha256').update(Buffer.from(ark.publicKey.rawData)).digest('hex');
    assert.notEqual(arkSpki, PINNED_ARK_SPKI_SHA256.Milan);
    // Our parser reads the counterfeit as a genuine-looking AMD chain with the report's TCB and chip id.
    const b = parseCertificateBundle(pem(vcek) + pem(ask) + pem(ark));
    assert.equal(b.ark!.subject.cn, 'ARK-Milan');
    assert.deepEqual(b.vcek!.signatureAlgorithm.pss, { hash: 'sha384', mgfHash: 'sha384', saltLength: 48 });
    assert.deepEqual({ bl: b.vcek!.amd.bootloader, tee: b.vcek!.amd.tee, snp: b.vcek!.amd.snp, ucode: b.vcek!.amd.microcode }, tcb);
    assert.equal(b.vcek!.amd.productName, 'Milan-B0');
    assert.equal(b.vcek!.amd.structVersion, 0);
    assert.deepEqual(b.vcek!.amd.hwId, chipId);
    const real = parseCertificateBundle(fixture('snp/milan-v3-vcek.pem')).vcek!.amd;
    assert.deepEqual({ bl: real.bootloader, tee: real.tee, snp: real.snp, ucode: real.microcode }, tcb, 'the real VCEK certifies the same TCB');
    assert.deepEqual(real.hwId, chipId, 'and the same chip');
  });

  it('control: the re-signed report verifies with the counterfeit VCEK key and not with the real one', async () => {
    const sig = reportSignature(report);
    const key = createPublicKey({ key: Buffer.from(vcek.publicKey.rawData), format: 'der', type: 'spki' });
    assert.ok(nodeVerify('sha384', report.subarray(0, 0x2a0), { key, dsaEncoding: 'ieee-p1363' }, sig));
    assert.ok(await subtle.verify({ name: 'ECDSA', hash: 'SHA-384' }, vcekKeys.publicKey, sig, report.subarray(0, 0x2a0)));
    const realKey = createPublicKey({ key: Buffer.from(realVcek.publicKey.rawData), format: 'der', type: 'spki' });
    assert.equal(nodeVerify('sha384', report.subarray(0, 0x2a0), { key: realKey, dsaEncoding: 'ieee-p1363' }, sig), false);
    assert.ok(Buffer.from(report.subarray(0, 0x2a0)).equals(Buffer.from(original.subarray(0, 0x2a0))), 'only the signature changed');
    const genuine = await verifyEvidence({ evidence: original, vcek: fixture('snp/milan-v3-vcek.pem'), now: NOW });
    assert.equal(genuine.verdict, 'pass', "the original report and VCEK pass (so the failures below are the counterfeit's)");
  });

  it("counterfeit VCEK alone (PEM and DER): not signed by AMD's ASK", async () => {
    for (const input of [pem(vcek), bytes(vcek)]) {
      failsOnChainOnly(await run(input), /VCEK is not signed by ASK "SEV-Milan"/);
    }
  });

  it('counterfeit VCEK + ASK: the ASK is not signed by the pinned ARK', async () => {
    failsOnChainOnly(await run(pem(vcek), pem(ask)), /supplied ASK is not signed by the pinned ARK-Milan/);
  });

  it('counterfeit VCEK + ASK + ARK: the supplied ARK is named as not the pinned one', async () => {
    const r = await run(pem(vcek), pem(ask) + pem(ark));
    failsOnChainOnly(r, /the supplied ARK \("ARK-Milan", sha256 ([0-9a-f]{16})\.*\) is not AMD's pinned ARK-Milan/);
    const shown = /sha256 ([0-9a-f]{16})/.exec(check(r, 'chain').reason)![1]!;
    assert.ok(createHash('sha256').update(bytes(ark)).digest('hex').startsWith(shown), 'the reason names the supplied ARK by its fingerprint');
  });

  it('all three in one bundle, in reversed order (ARK, ASK, VCEK): still fails on the pin', async () => {
    failsOnChainOnly(await run(pem(ark) + pem(ask) + pem(vcek)), /not AMD's pinned ARK-Milan/);
    failsOnChainOnly(await run(pem(vcek), pem(ark) + pem(ask)), /not AMD's pinned ARK-Milan/);
  });

  it('as an IMDS THIM JSON body carrying the counterfeit chain: fails on the pin', async () => {
    const r = tcb;
    const tcbm = Buffer.from([r.ucode, r.snp, 0, 0, 0, 0, r.tee, r.bl]).toString('hex');
    const body = JSON.stringify({ vcekCert: pem(vcek), tcbm, certificateChain: pem(ask) + pem(ark), cacheControl: '86400' });
    failsOnChainOnly(await run(body), /not AMD's pinned ARK-Milan/);
  });

  it("a VCEK signed directly by the counterfeit ARK, with AMD's genuine ASK and ARK supplied: the ASK did not sign it", async () => {
    failsOnChainOnly(await run(pem(vcekByArk), fixture('amd/ask_ark_milan.pem').toString('utf8')), /VCEK is not signed by ASK "SEV-Milan"/);
    failsOnChainOnly(await run(pem(vcekByArk), pem(ark)), /not AMD's pinned ARK-Milan|VCEK is not signed by ASK "SEV-Milan"/);
  });
});
