// A counterfeit chain: ARK, ASK and VCEK byte-for-byte AMD's (names, serials, validity, VCEK extensions
// with the real hwID and TCB) except for keys we made and signatures by them, and a real report
// re-signed by the counterfeit VCEK. It must fail even when the whole counterfeit chain is supplied.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { verifyEvidenceSync, parseCertificateBundle } from '../../src/index.js';
import { children, readTlv, whole } from '../../src/x509/der.js';
import { check, failed, fixture, NOW } from './fixtures.js';

function tlv(tag: number, body: Uint8Array): Buffer {
  const n = body.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), body]);
}

/** The same certificate with another subject key, signed (RSASSA-PSS SHA-384 salt 48, as AMD) by `signer`. */
function forge(der: Uint8Array, newKey: KeyObject, signer: KeyObject): Buffer {
  const cert = readTlv(der, 0);
  const [tbsT, algT] = children(der, cert);
  const parts = children(der, tbsT!);
  const spkiIndex = parts.findIndex((p, i) => i > 0 && p.tag === 0x30 && children(der, p)[0]?.tag === 0x30 && children(der, p)[1]?.tag === 0x03);
  const spki = newKey.export({ type: 'spki', format: 'der' });
  const tbs = tlv(0x30, Buffer.concat(parts.map((p, i) => (i === spkiIndex ? spki : Buffer.from(whole(der, p))))));
  const sig = sign('sha384', tbs, { key: signer, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 });
  return tlv(0x30, Buffer.concat([tbs, Buffer.from(whole(der, algT!)), tlv(0x03, Buffer.concat([Buffer.from([0]), sig]))]));
}

const pem = (der: Uint8Array): string =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;

/** Re-signs a report's bytes 0..0x29F with an ECDSA P-384 key (R, S little-endian in 72-byte fields). */
function resign(report: Uint8Array, key: KeyObject): Uint8Array {
  const out = Uint8Array.from(report);
  const sig = sign('sha384', out.subarray(0, 0x2a0), { key, dsaEncoding: 'ieee-p1363' });
  out.fill(0, 0x2a0, 0x2a0 + 144);
  out.set(Uint8Array.from(sig.subarray(0, 48)).reverse(), 0x2a0);
  out.set(Uint8Array.from(sig.subarray(48, 96)).reverse(), 0x2e8);
  return out;
}

describe('counterfeit AMD chain', () => {
  const real = parseCertificateBundle(fixture('amd/ask_ark_milan.pem'));
  const realVcek = fixture('snp/milan-v3-vcek.pem');
  const realVcekDer = parseCertificateBundle(realVcek).vcek!.der;
  const ark = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ask = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const vcek = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const fakeArk = forge(real.ark!.der, ark.publicKey, ark.privateKey);
  const fakeAsk = forge(real.ask!.der, ask.publicKey, ark.privateKey);
  const fakeVcek = forge(realVcekDer, vcek.publicKey, ask.privateKey);
  const report = resign(fixture('snp/milan-v3-report.bin'), vcek.privateKey);

  it('the forgeries are well-formed and cryptographically consistent (control)', () => {
    const x = (d: Buffer) => new X509Certificate(d);
    assert.equal(x(fakeVcek).subject, x(realVcekDer as Buffer).subject);
    assert.equal(x(fakeVcek).issuer, x(realVcekDer as Buffer).issuer);
    assert.ok(x(fakeArk).verify(x(fakeArk).publicKey));
    assert.ok(x(fakeAsk).verify(x(fakeArk).publicKey));
    assert.ok(x(fakeVcek).verify(x(fakeAsk).publicKey));
    const b = parseCertificateBundle(pem(fakeVcek) + pem(fakeAsk) + pem(fakeArk));
    assert.deepEqual(b.vcek!.amd.hwId, parseCertificateBundle(realVcek).vcek!.amd.hwId);
  });

  it('counterfeit VCEK + ASK + ARK supplied: signature, TCB and chip id match, the chain fails on the pinned ARK', () => {
    const r = verifyEvidenceSync({ evidence: report, vcek: pem(fakeVcek), chain: pem(fakeAsk) + pem(fakeArk), now: NOW });
    assert.equal(r.verdict, 'fail');
    assert.deepEqual(failed(r), ['chain']);
    assert.equal(check(r, 'signature').status, 'pass');
    assert.equal(check(r, 'chip-id').status, 'pass');
    assert.match(check(r, 'chain').reason, /not AMD's pinned ARK-Milan/);
  });

  it('all three in one bundle, in any order: still fails', () => {
    const r = verifyEvidenceSync({ evidence: report, vcek: pem(fakeArk) + pem(fakeVcek) + pem(fakeAsk), now: NOW });
    assert.deepEqual(failed(r), ['chain']);
  });

  it('counterfeit ASK without an ARK: not signed by the pinned ARK', () => {
    const r = verifyEvidenceSync({ evidence: report, vcek: pem(fakeVcek), chain: pem(fakeAsk), now: NOW });
    assert.deepEqual(failed(r), ['chain']);
    assert.match(check(r, 'chain').reason, /supplied ASK is not signed by the pinned ARK-Milan/);
  });

  it("counterfeit VCEK alone: not signed by AMD's ASK", () => {
    const r = verifyEvidenceSync({ evidence: report, vcek: fakeVcek, now: NOW });
    assert.deepEqual(failed(r), ['chain']);
    assert.match(check(r, 'chain').reason, /VCEK is not signed by ASK "SEV-Milan"/);
  });

  it('counterfeit VCEK with the genuine ASK and ARK supplied: fails', () => {
    const r = verifyEvidenceSync({ evidence: report, vcek: pem(fakeVcek), chain: fixture('amd/ask_ark_milan.pem'), now: NOW });
    assert.deepEqual(failed(r), ['chain']);
  });

  it('the re-signed report with the genuine VCEK: signature fails', () => {
    const r = verifyEvidenceSync({ evidence: report, vcek: realVcek, now: NOW });
    assert.deepEqual(failed(r), ['signature']);
  });

  it('with caching off the same holds (nothing verified earlier is reused)', () => {
    for (const cache of [true, false]) {
      const r = verifyEvidenceSync({ evidence: report, vcek: pem(fakeVcek), chain: pem(fakeAsk) + pem(fakeArk), now: NOW, cache });
      assert.deepEqual(failed(r), ['chain']);
    }
  });
});
