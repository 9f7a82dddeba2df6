// Our DER reader against @peculiar/x509 (and its ASN.1 layer, @peculiar/asn1-schema) on every real
// certificate and CRL in test/fixtures: a second, independently written and maintained X.509 stack.
// It is used here only: the verify path keeps its own reader for start-up speed.
import 'reflect-metadata';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, webcrypto } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { AsnConvert, AsnProp, AsnPropTypes, AsnType, AsnTypeTypes } from '@peculiar/asn1-schema';
import { Certificate as AsnCertificate, AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { RsaSaPssParams } from '@peculiar/asn1-rsa';
import { parseCertificateBundle, parseCrl, type Certificate } from '../../src/index.js';
import { checkCrl } from '../../src/platform/snp/crl-check.js';
import { CertStore } from '../../src/x509/cert-store.js';
import { AMD_PSS } from '../../src/platform/snp/amd-certificates.js';
import { FIXTURES, fixture, NOW } from '../verify/fixtures.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

// A bare INTEGER / IA5String / OCTET STRING as @peculiar/asn1-schema types (one-alternative CHOICEs).
function primitive<T>(type: AsnPropTypes, initial: T): new () => { value: T } {
  class P {
    value = initial;
  }
  AsnType({ type: AsnTypeTypes.Choice })(P);
  AsnProp({ type })(P.prototype, 'value');
  return P;
}
const AsnInt = primitive(AsnPropTypes.Integer, 0);
const AsnIa5 = primitive(AsnPropTypes.IA5String, '');
const AsnOctets = primitive<ArrayBuffer>(AsnPropTypes.OctetString, new ArrayBuffer(0));

/** Decodes with asn1-schema and insists the value re-encodes to exactly the same bytes (DER, no trailing data). */
function decodeExact<T>(bytes: ArrayBuffer, type: new () => { value: T }, what: string): T {
  const v = AsnConvert.parse(bytes, type);
  assert.ok(Buffer.from(AsnConvert.serialize(v)).equals(Buffer.from(bytes)), `${what}: not DER-exact`);
  return v.value;
}

const AMD = '1.3.6.1.4.1.3704.1';
const HASHES: Record<string, string> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '1.3.14.3.2.26': 'sha1',
};
const hex = (b: ArrayBuffer | Uint8Array): string => Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString('hex');
const sha256 = (b: ArrayBuffer | Uint8Array): string =>
  createHash('sha256')
    .update(b instanceof Uint8Array ? b : new Uint8Array(b))
    .digest('hex');
const noLeadingZeros = (s: string): string => s.toLowerCase().replace(/^0+(?=.)/, '');

/** Every certificate in every fixture file, read by each side on its own: [file, ours, theirs]. */
function allPairs(): [string, Certificate, x509.X509Certificate][] {
  const out: [string, Certificate, x509.X509Certificate][] = [];
  const dirs = ['amd', 'snp', 'negative', 'azure-hcl', ...['genoa', 'milan-v2', 'milan-v3-a', 'milan-v3-b'].map((d) => `azure-hcl/${d}`)];
  for (const dir of dirs) {
    for (const f of readdirSync(join(FIXTURES, dir))) {
      const file = `${dir}/${f}`;
      if (!/\.(pem|der|json)$/.test(f) || f.startsWith('crl_') || ['quote-akpub.pem', 'pcrs.json', 'runtime-data-sample.json'].includes(f)) continue;
      const raw = fixture(file);
      let ders: ArrayBuffer[];
      if (f.endsWith('.der')) ders = [new Uint8Array(raw).buffer];
      else if (f.endsWith('.json')) {
        const j = JSON.parse(raw.toString('utf8')) as { vcekCert: string; certificateChain: string };
        ders = [...x509.PemConverter.decode(j.vcekCert), ...x509.PemConverter.decode(j.certificateChain)];
      } else ders = x509.PemConverter.decode(raw.toString('utf8'));
      const theirs = ders.map((d) => new x509.X509Certificate(d));
      const b = parseCertificateBundle(raw);
      const ours = [b.vcek, b.vlek, b.ask, b.asvk, b.ark].filter((c): c is Certificate => c !== undefined);
      assert.deepEqual(ours.map((c) => c.sha256).sort(), theirs.map((t) => sha256(t.rawData)).sort(), `${file}: both find the same certificates`);
      for (const t of theirs) out.push([file, ours.find((c) => c.sha256 === sha256(t.rawData))!, t]);
    }
  }
  return out;
}

describe('DER reader vs @peculiar/x509', () => {
  const pairs = allPairs();

  it(`names, serial, validity, key and signature agree on ${pairs.length} real certificates`, () => {
    assert.ok(pairs.length >= 25, `${pairs.length} certificates`);
    assert.ok(
      pairs.some(([f]) => f === 'snp/turin-vcek-no-report.der') &&
        pairs.some(([f]) => f.startsWith('negative/invalid-vcek')) &&
        pairs.some(([f]) => f.endsWith('thim-response.json')),
    );
    for (const [f, c, t] of pairs) {
      const name = `${f} ${c.subject.cn}`;
      assert.equal(c.subject.cn, t.subjectName.getField('CN')[0], name);
      assert.equal(c.issuer.cn, t.issuerName.getField('CN')[0], name);
      assert.equal(c.subject.text, t.subject, name);
      assert.equal(c.issuer.text, t.issuer, name);
      assert.equal(hex(c.subject.der), hex(t.subjectName.toArrayBuffer()), name);
      assert.equal(hex(c.issuer.der), hex(t.issuerName.toArrayBuffer()), name);
      assert.equal(c.serialNumber, noLeadingZeros(t.serialNumber), name);
      assert.equal(c.notBefore.getTime(), t.notBefore.getTime(), name);
      assert.equal(c.notAfter.getTime(), t.notAfter.getTime(), name);
      assert.equal(sha256(c.spki), sha256(t.publicKey.rawData), name);
      const alg = t.publicKey.algorithm as { name: string; namedCurve?: string };
      if (c.keyCurve) assert.deepEqual([alg.name, alg.namedCurve], ['ECDSA', c.keyCurve === '1.3.132.0.34' ? 'P-384' : c.keyCurve], name);
      else assert.equal(alg.name, 'RSASSA-PKCS1-v1_5', name);
      assert.equal(hex(c.tbs), hex(AsnConvert.serialize(AsnConvert.parse(t.rawData, AsnCertificate).tbsCertificate)), name);
      assert.equal(hex(c.signature), hex(t.signature), name);
    }
  });

  it('RSASSA-PSS parameters (hash, MGF1 hash, salt) agree, read through @peculiar/asn1-rsa', () => {
    let pss = 0;
    for (const [f, c, t] of pairs) {
      const asn = AsnConvert.parse(t.rawData, AsnCertificate);
      assert.equal(c.signatureAlgorithm.oid, asn.signatureAlgorithm.algorithm, f);
      if (asn.signatureAlgorithm.algorithm !== '1.2.840.113549.1.1.10') {
        assert.equal(c.signatureAlgorithm.pss, undefined, f);
        continue;
      }
      pss++;
      const p = AsnConvert.parse(asn.signatureAlgorithm.parameters!, RsaSaPssParams);
      const mgfHash = AsnConvert.parse(p.maskGenAlgorithm.parameters!, AlgorithmIdentifier).algorithm;
      assert.equal(p.maskGenAlgorithm.algorithm, '1.2.840.113549.1.1.8', f);
      assert.equal(p.trailerField, 1, f);
      assert.deepEqual(c.signatureAlgorithm.pss, { hash: HASHES[p.hashAlgorithm.algorithm], mgfHash: HASHES[mgfHash], saltLength: p.saltLength }, f);
      // @peculiar/x509's WebCrypto view of the same parameters.
      const w = t.signatureAlgorithm as { name: string; hash: { name: string }; saltLength: number };
      assert.deepEqual(
        [w.name, w.hash.name.replace('-', '').toLowerCase(), w.saltLength],
        ['RSA-PSS', c.signatureAlgorithm.pss.hash, c.signatureAlgorithm.pss.saltLength],
        f,
      );
    }
    assert.equal(pss, pairs.length, 'AMD signs every certificate RSASSA-PSS');
  });

  it('AMD extensions decoded from @peculiar/x509 Extension.value with asn1-schema equal ours', () => {
    const leaves = pairs.filter(([, c]) => c.subject.cn === 'SEV-VCEK' || c.subject.cn === 'SEV-VLEK');
    assert.ok(leaves.length >= 12, `${leaves.length} VCEK/VLEK`);
    const seen = new Set<string>();
    for (const [f, c, t] of leaves) {
      const name = `${f} ${c.subject.cn}`;
      const theirs: Record<string, unknown> = {};
      for (const e of t.extensions.filter((x) => x.type.startsWith(`${AMD}.`))) {
        const arc = e.type.slice(AMD.length + 1);
        seen.add(arc);
        if (arc === '1' || arc.startsWith('3.')) theirs[arc] = decodeExact(e.value, AsnInt, `${name} ${e.type}`);
        else if (arc === '2' || arc === '5') theirs[arc] = decodeExact(e.value, AsnIa5, `${name} ${e.type}`);
        else if (arc === '4') {
          // KDS puts the raw 64 (Turin: 8) bytes in the extension; some tools wrap them in an OCTET STRING.
          theirs[arc] = e.value.byteLength === 64 || e.value.byteLength === 8 ? hex(e.value) : hex(decodeExact(e.value, AsnOctets, `${name} hwID`));
        }
      }
      const a = c.amd;
      const ours: Record<string, unknown> = {
        '1': a.structVersion,
        '2': a.productName,
        '3.1': a.bootloader,
        '3.2': a.tee,
        '3.3': a.snp,
        '3.8': a.microcode,
        '3.9': a.fmc,
        '4': a.hwId && hex(a.hwId),
        '5': a.cspId,
      };
      for (const [k, v] of Object.entries(ours)) assert.equal(v, theirs[k], `${name} ${AMD}.${k}`);
      assert.ok(theirs['4'] !== undefined || c.subject.cn === 'SEV-VLEK', `${name}: a VCEK has a hwID`);
    }
    for (const arc of ['1', '2', '3.1', '3.2', '3.3', '3.8', '3.9', '4', '5']) assert.ok(seen.has(arc), `the fixtures exercise ${AMD}.${arc}`);
  });

  it('signature verdicts agree with X509Certificate.verify for every (subject, issuer) pair', async () => {
    const store = new CertStore(false);
    const issuers = pairs.filter(([, c]) => c.keyAlgorithm === '1.2.840.113549.1.1.1');
    let agreed = 0;
    for (const [, s, st] of pairs) {
      for (const [, i, it] of issuers) {
        const ours = store.signedBy(s, i, AMD_PSS) === true;
        const theirs = (await st.verify({ publicKey: it, signatureOnly: true })) && st.issuer === it.subject;
        assert.equal(ours, theirs, `${s.subject.cn} (${s.sha256.slice(0, 8)}) by ${i.subject.cn} (${i.sha256.slice(0, 8)})`);
        if (ours) agreed++;
      }
    }
    assert.ok(agreed >= 20, `${agreed} signatures`);
  });
});

describe('CRL reader vs @peculiar/x509 X509Crl', () => {
  const arks = new Map(
    ['milan', 'genoa'].map((p) => {
      const b = parseCertificateBundle(fixture(`amd/ask_ark_${p}.pem`));
      return [p, { ours: b.ark!, theirs: new x509.X509Certificate(b.ark!.der) }] as const;
    }),
  );
  const oursAccepts = (crlBytes: Uint8Array, ark: Certificate): boolean => {
    const r = checkCrl(parseCrl(crlBytes), 'warn', ark, [], new CertStore(false), NOW);
    assert.notEqual(r.status, 'skip');
    return r.status !== 'fail';
  };

  for (const p of ['milan', 'genoa']) {
    it(`crl_${p}.pem: issuer, dates, revoked serials and the ARK signature verdict agree`, async () => {
      const pemText = fixture(`amd/crl_${p}.pem`).toString('utf8');
      const ours = parseCrl(pemText);
      const theirs = new x509.X509Crl(pemText);
      assert.equal(ours.issuer.text, theirs.issuer);
      assert.equal(hex(ours.issuer.der), hex(theirs.issuerName.toArrayBuffer()));
      assert.equal(ours.thisUpdate.getTime(), theirs.thisUpdate.getTime());
      assert.equal(ours.nextUpdate?.getTime(), theirs.nextUpdate?.getTime());
      assert.deepEqual([...ours.revoked].sort(), theirs.entries.map((e) => noLeadingZeros(e.serialNumber)).sort());
      assert.equal(hex(ours.signature), hex(theirs.signature));
      assert.deepEqual(ours.signatureAlgorithm.pss, { hash: 'sha384', mgfHash: 'sha384', saltLength: 48 });

      const der = new Uint8Array(ours.der);
      for (const [q, ark] of arks) {
        const theirVerdict = await theirs.verify({ publicKey: ark.theirs });
        assert.equal(oursAccepts(der, ark.ours), theirVerdict, `${p} CRL with the ${q} ARK`);
        assert.equal(theirVerdict, q === p, `${p} CRL is signed by the ${p} ARK only`);
      }
      // One bit flipped in the signature, and in the signed thisUpdate's seconds digit: both reject.
      const ark = arks.get(p)!;
      const sigFlip = Uint8Array.from(der);
      sigFlip[der.length - 1]! ^= 0x01;
      const tbsStart = Buffer.from(der).indexOf(Buffer.from(ours.tbs));
      const timeAt = Buffer.from(der).indexOf(Buffer.from(`${String(ours.thisUpdate.getUTCSeconds()).padStart(2, '0')}Z`, 'latin1'), tbsStart);
      const tbsFlip = Uint8Array.from(der);
      tbsFlip[timeAt]! ^= 0x01; // '0'<->'1', '2'<->'3', ...: still a valid time
      for (const [what, bad] of [
        ['signature', sigFlip],
        ['thisUpdate', tbsFlip],
      ] as const) {
        const theirVerdict = await new x509.X509Crl(bad).verify({ publicKey: ark.theirs });
        assert.equal(theirVerdict, false, `@peculiar/x509 rejects a flipped bit in the ${what}`);
        assert.equal(oursAccepts(bad, ark.ours), false, `ours rejects a flipped bit in the ${what}`);
      }
    });
  }
});
