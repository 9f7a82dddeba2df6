// Our DER reader against independent parsers on every real certificate and CRL: Node's
// X509Certificate (OpenSSL) for names, serials, validity, keys and signatures, and the openssl CLI for
// the AMD extensions and the CRLs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, X509Certificate } from 'node:crypto';
import { parseCertificate, parseCertificateBundle, parseCrl, type Certificate } from '../../src/index.js';
import { CertStore } from '../../src/x509/cert-store.js';
import { AMD_PSS } from '../../src/platform/snp/amd-certificates.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';

function allCertificates(): [string, Certificate][] {
  const out: [string, Certificate][] = [];
  for (const dir of ['amd', 'snp', 'negative', 'azure-hcl', 'azure-hcl/genoa', 'azure-hcl/milan-v2', 'azure-hcl/milan-v3-a', 'azure-hcl/milan-v3-b']) {
    for (const f of readdirSync(join(FIXTURES, dir))) {
      if (!/\.(pem|der|json)$/.test(f) || f.startsWith('crl_') || f === 'quote-akpub.pem' || f === 'pcrs.json' || f === 'runtime-data-sample.json') continue;
      const b = parseCertificateBundle(fixture(`${dir}/${f}`));
      for (const c of [b.vcek, b.vlek, b.ask, b.asvk, b.ark]) if (c) out.push([`${dir}/${f}`, c]);
    }
  }
  return out;
}

const openssl = (args: string[], input?: Buffer): string => execFileSync('openssl', args, { input, encoding: 'utf8' });

describe('DER reader vs OpenSSL', () => {
  const certs = allCertificates();
  it(`reads ${certs.length} real certificates exactly as X509Certificate does`, () => {
    assert.ok(certs.length >= 25);
    for (const [name, c] of certs) {
      const x = new X509Certificate(c.der);
      assert.equal(c.subject.text, x.subject.split('\n').join(', '), name);
      assert.equal(c.issuer.text, x.issuer.split('\n').join(', '), name);
      assert.equal(c.serialNumber, x.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''), name);
      assert.equal(c.notBefore.getTime(), Date.parse(x.validFrom), name);
      assert.equal(c.notAfter.getTime(), Date.parse(x.validTo), name);
      assert.ok(Buffer.from(c.spki).equals(x.publicKey.export({ type: 'spki', format: 'der' })), name);
      assert.equal(c.sha256, createHash('sha256').update(x.raw).digest('hex'), name);
    }
  });

  it('signature verdicts agree with X509Certificate.verify for every (subject, issuer) pair', () => {
    const store = new CertStore(false);
    const issuers = certs.filter(([, c]) => c.keyAlgorithm === '1.2.840.113549.1.1.1');
    let agreed = 0;
    for (const [, s] of certs) {
      for (const [, i] of issuers) {
        const ours = store.signedBy(s, i, AMD_PSS) === true;
        const theirs = new X509Certificate(s.der).verify(new X509Certificate(i.der).publicKey) && s.issuer.text === i.subject.text;
        assert.equal(ours, theirs, `${s.subject.cn} by ${i.subject.cn}`);
        if (ours) agreed++;
      }
    }
    assert.ok(agreed >= 20);
  });

  it('AMD extensions agree with openssl asn1parse', () => {
    for (const [name, c] of certs.filter(([, c]) => c.subject.cn === 'SEV-VCEK')) {
      const dump = openssl(['asn1parse', '-inform', 'DER'], Buffer.from(c.der));
      const ext = (oid: string): string | undefined => {
        const m = new RegExp(`:${oid.replace(/\./g, '\\.')}\\s*\\n.*\\[HEX DUMP\\]:([0-9A-F]+)`).exec(dump);
        return m?.[1];
      };
      const int = (hex: string | undefined): number | undefined => (hex ? parseInt(hex.slice(4), 16) : undefined);
      assert.equal(c.amd.bootloader, int(ext('1.3.6.1.4.1.3704.1.3.1')), name);
      assert.equal(c.amd.tee, int(ext('1.3.6.1.4.1.3704.1.3.2')), name);
      assert.equal(c.amd.snp, int(ext('1.3.6.1.4.1.3704.1.3.3')), name);
      assert.equal(c.amd.microcode, int(ext('1.3.6.1.4.1.3704.1.3.8')), name);
      const hw = ext('1.3.6.1.4.1.3704.1.4')!.toLowerCase();
      assert.ok(hw.endsWith(Buffer.from(c.amd.hwId!).toString('hex')), name);
    }
  });

  it('CRLs agree with openssl crl -text', () => {
    for (const f of ['amd/crl_milan.pem', 'amd/crl_genoa.pem']) {
      const ours = parseCrl(fixture(f));
      const text = openssl(['crl', '-noout', '-text', '-in', join(FIXTURES, f)]);
      const serials = [...text.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]!.toLowerCase().replace(/^0+(?=.)/, ''));
      assert.deepEqual([...ours.revoked].sort(), serials.sort(), f);
      const next = /Next Update: (.+)/.exec(text)![1]!;
      assert.equal(ours.nextUpdate!.getTime(), Date.parse(next), f);
      assert.match(text, new RegExp(`Issuer: .*CN = ${ours.issuer.cn}`));
    }
  });

  it('a single DER certificate parses the same alone and in a bundle', () => {
    const der = fixture('azure-hcl/milan-v3-b/vcek.der');
    assert.equal(parseCertificate(der).sha256, parseCertificateBundle(der).vcek!.sha256);
  });
});
