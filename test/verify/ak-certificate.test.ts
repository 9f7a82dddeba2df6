// The vTPM AK certificate (NV 0x01C101D0): real Azure AK certificates (test/fixtures/azure-vtpm) chain
// through the shipped "Global Virtual TPM CA - 03" to the pinned Azure Virtual TPM root; a counterfeit
// CA of the same name, an expired certificate, a tampered signature or another vTPM's key fail.
import { before, describe, it } from 'node:test';
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { parsePolicy } from '../../src/policy/policy.js';
import { akCertificateDer, checkAkCertificate } from '../../src/guest/ak-certificate.js';
import { AZURE_VTPM_INTERMEDIATES, AZURE_VTPM_ROOT_2023 } from '../../src/guest/azure-vtpm-roots.js';
import { parseCertificate } from '../../src/x509/certificate.js';
import { chainExtensions } from '../../src/x509/extensions.js';
import { verifyEvidenceSync } from '../../src/verify/verify-evidence.js';
import { parseRuntimeData } from '../../src/hcl/runtime-data.js';
import { check, fixture } from './fixtures.js';
import { withAkPub } from './derive-report.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** The PEM members of the txtar of real AK certificates. */
function akCertificates(): { name: string; pem: string }[] {
  const t = fixture('azure-vtpm/azure_ak_certificates.txt').toString('utf8');
  return [...t.matchAll(/^-- (\S+) --\n(-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----)/gm)].map((m) => ({ name: m[1]!, pem: m[2]! }));
}

const pemToDer = (pem: string): Buffer => Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
const WHILE_VALID = new Date('2026-06-01T00:00:00Z'); // both real leaves and CA - 03 are valid then
const dir = 'azure-hcl/genoa';
const hcl = fixture(`${dir}/hcl-report.bin`);
const vcek = fixture(`${dir}/vcek.pem`);

describe('vTPM AK certificate', () => {
  const certs = akCertificates();
  it('the txtar holds two real AK certificates, one as a padded NV dump', () => {
    assert.equal(certs.length, 2);
    const raw = pemToDer(certs[1]!.pem);
    assert.ok(raw.length > 1009 && raw.subarray(1009).every((b) => b === 0), 'zero padding after the 1009-byte DER');
    assert.equal(akCertificateDer(raw).length, 1009);
  });

  for (const c of certs) {
    // The second one is a real NV dump: the DER followed by the index's zero padding.
    const der = Buffer.from(akCertificateDer(pemToDer(c.pem)));
    const leaf = new X509Certificate(der);
    const jwk = leaf.publicKey.export({ format: 'jwk' }) as { n: string; e: string };
    const own = parseRuntimeData(Buffer.from(JSON.stringify({ keys: [{ kid: 'HCLAkPub', kty: 'RSA', ...jwk }] })));

    it(`${c.name}: what the check reports equals what node's X509Certificate (OpenSSL) reads from it`, () => {
      const r = checkAkCertificate({ certificate: der, runtimeData: own, bindingOk: true, now: WHILE_VALID, cache: false });
      assert.equal(r.check.status, 'pass', r.check.reason);
      assert.deepEqual(r.info, {
        subject: leaf.subject.replace(/\n/g, ', '),
        issuer: leaf.issuer.replace(/\n/g, ', '),
        serialNumber: leaf.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
        notBefore: new Date(leaf.validFrom).toISOString(),
        notAfter: new Date(leaf.validTo).toISOString(),
        sha256: leaf.fingerprint256.replace(/:/g, '').toLowerCase(),
      });
      const ours = chainExtensions(parseCertificate(der));
      assert.equal(ours.ca, leaf.ca);
      assert.deepEqual(ours.extendedKeyUsage, leaf.keyUsage);
      // The shipped intermediates and the root, read both ways.
      for (const pem of [AZURE_VTPM_ROOT_2023, ...AZURE_VTPM_INTERMEDIATES]) {
        const x = new X509Certificate(pem);
        const c2 = parseCertificate(new Uint8Array(x.raw));
        assert.equal(chainExtensions(c2).ca, x.ca);
        assert.equal(c2.subject.text, x.subject.replace(/\n/g, ', '));
      }
    });

    it(`${c.name}: NV contents with trailing padding give the DER by its own length`, () => {
      const nv = Buffer.concat([der, Buffer.alloc(4096 - der.length, 0xff)]);
      assert.deepEqual(Buffer.from(akCertificateDer(nv)), der);
      assert.deepEqual(Buffer.from(akCertificateDer(Buffer.from(c.pem))), der, 'PEM too');
    });

    it(`${c.name}: chains to the pinned root through CA - 03 and is for its AK (runtime data naming that key)`, () => {
      const r = checkAkCertificate({ certificate: der, runtimeData: own, bindingOk: true, now: WHILE_VALID });
      assert.equal(r.check.status, 'pass', r.check.reason);
      assert.match(r.check.reason, /ConfidentialVM\.Azure\.windows\.net -> Global Virtual TPM CA - 03 -> pinned Azure Virtual TPM Root CA 2023/);
      assert.match(r.info!.subject, /^CN=[0-9a-f]{12}\.ConfidentialVM\.Azure\.windows\.net$/);
      assert.equal(r.info!.notAfter, new Date(leaf.validTo).toISOString());
    });

    it(`${c.name}: expired at a later date; not yet valid before`, () => {
      const later = checkAkCertificate({ certificate: der, runtimeData: own, bindingOk: true, now: new Date('2026-12-01T00:00:00Z') });
      assert.equal(later.check.status, 'fail');
      assert.match(later.check.reason, /AK certificate is not valid at 2026-12-01/);
      const early = checkAkCertificate({ certificate: der, runtimeData: own, bindingOk: true, now: new Date('2025-01-01T00:00:00Z') });
      assert.equal(early.check.status, 'fail');
    });

    it(`${c.name}: a real report's HCLAkPub is another key: fails`, () => {
      const r = verifyEvidenceSync({ evidence: hcl, vcek, akCertificate: der, now: WHILE_VALID });
      assert.equal(check(r, 'ak-certificate').status, 'fail');
      assert.match(check(r, 'ak-certificate').reason, /not the HCLAkPub/);
    });

    it(`${c.name}: in verifyEvidence with a report naming its key: pass, claims and requireAkCertificate`, () => {
      const r = verifyEvidenceSync({
        evidence: withAkPub(hcl, jwk),
        vcek,
        akCertificate: der,
        policy: parsePolicy({ requireAkCertificate: true }),
        now: WHILE_VALID,
      });
      assert.equal(check(r, 'ak-certificate').status, 'pass');
      assert.equal(check(r, 'policy.ak-certificate').status, 'pass');
      const claim = r.claims['cvm-attest-ak-certificate'] as Record<string, string>;
      assert.equal(claim.status, 'pass');
      assert.equal(claim.issuer, 'CN=Global Virtual TPM CA - 03');
      assert.equal(check(r, 'signature').status, 'fail', 'the derived report fails its AMD signature, apart');
    });

    it(`${c.name}: one flipped signature bit fails`, () => {
      const bad = Buffer.from(der);
      bad[bad.length - 5]! ^= 1;
      const r = checkAkCertificate({ certificate: bad, runtimeData: own, bindingOk: true, now: WHILE_VALID });
      assert.equal(r.check.status, 'fail');
      assert.match(r.check.reason, /does not verify/);
    });

    it(`${c.name}: the runtime data must be bound to the report`, () => {
      const r = checkAkCertificate({ certificate: der, runtimeData: own, bindingOk: false, now: WHILE_VALID });
      assert.equal(r.check.status, 'fail');
      assert.match(r.check.reason, /not bound/);
    });
  }

  it('absent: skip; requireAkCertificate then fails', () => {
    const r = verifyEvidenceSync({ evidence: hcl, vcek, policy: parsePolicy({ requireAkCertificate: true }), now: WHILE_VALID });
    assert.equal(check(r, 'ak-certificate').status, 'skip');
    assert.equal(check(r, 'policy.ak-certificate').status, 'fail');
    assert.equal(r.claims['cvm-attest-ak-certificate'], null);
  });

  it('malformed bytes: a failing check, not a crash', () => {
    for (const b of [Buffer.from([0x30, 0x82, 0xff, 0xff, 1, 2]), Buffer.from('not a cert'), Buffer.alloc(20000, 0x30)]) {
      const r = checkAkCertificate({ certificate: b, bindingOk: true, now: WHILE_VALID });
      assert.equal(r.check.status, 'fail');
      assert.match(r.check.reason, /malformed/);
    }
  });

  describe('a counterfeit "Global Virtual TPM CA - 03" (generated, not Azure\'s)', () => {
    let fakeCa: x509.X509Certificate;
    let leafDer: Buffer;
    let jwk: { n: string; e: string };
    before(async () => {
      const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
      const caKeys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
      const akKeys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
      fakeCa = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: '01',
        name: 'CN=Global Virtual TPM CA - 03',
        notBefore: new Date('2025-01-01'),
        notAfter: new Date('2030-01-01'),
        keys: caKeys,
        signingAlgorithm: alg,
        extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
      });
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: '02',
        subject: 'CN=000000000000.ConfidentialVM.Azure.windows.net',
        issuer: fakeCa.subjectName,
        notBefore: new Date('2025-01-01'),
        notAfter: new Date('2030-01-01'),
        publicKey: akKeys.publicKey,
        signingKey: caKeys.privateKey,
        signingAlgorithm: alg,
        extensions: [new x509.ExtendedKeyUsageExtension(['2.23.133.8.3'])],
      });
      leafDer = Buffer.from(leaf.rawData);
      jwk = (await webcrypto.subtle.exportKey('jwk', akKeys.publicKey)) as { n: string; e: string };
    });

    it('its leaf fails even with the counterfeit CA supplied as an intermediate', () => {
      const rd = parseRuntimeData(Buffer.from(JSON.stringify({ keys: [{ kid: 'HCLAkPub', kty: 'RSA', n: jwk.n, e: jwk.e }] })));
      const alone = checkAkCertificate({ certificate: leafDer, runtimeData: rd, bindingOk: true, now: WHILE_VALID });
      assert.equal(alone.check.status, 'fail');
      const supplied = verifyEvidenceSync({
        evidence: withAkPub(hcl, jwk),
        vcek,
        akCertificate: leafDer,
        akIntermediates: fakeCa.toString('pem'),
        now: WHILE_VALID,
      });
      assert.equal(check(supplied, 'ak-certificate').status, 'fail');
      assert.match(check(supplied, 'ak-certificate').reason, /does not verify/);
    });

    it('a genuine intermediate supplied by the user is accepted (the root signed it)', () => {
      const der = Buffer.from(akCertificateDer(pemToDer(certs[0]!.pem)));
      const key = new X509Certificate(der).publicKey.export({ format: 'jwk' }) as { n: string; e: string };
      const r = verifyEvidenceSync({
        evidence: withAkPub(hcl, key),
        vcek,
        akCertificate: der,
        akIntermediates: fixture('azure-vtpm/azure_tpm_intermediate_01.pem'),
        now: WHILE_VALID,
      });
      assert.equal(check(r, 'ak-certificate').status, 'pass');
    });
  });
});
