// The VCEK's hwID (AMD extension 1.3.6.1.4.1.3704.1.4) is read once, by x509/certificate.ts: the
// collector's cache check (vcekChipMismatch) and the verifier's chip-id check must agree on it.
// On AMD's real certificates the extnValue OCTET STRING holds the raw CHIP_ID bytes (64 for Milan and
// Genoa, 8 for Turin), not a nested OCTET STRING; some tools (the trustee test VCEKs) wrap it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { vcekChipMismatch } from '../../src/collect/vcek-match.js';
import { parseCertificate } from '../../src/x509/certificate.js';
import { pemDers } from '../../src/x509/pem.js';
import { checkChipId } from '../../src/platform/snp/tcb-chip.js';
import { parseSnpReport, type SnpReport } from '../../src/platform/snp/report.js';
import type { Product } from '../../src/result/result.js';

const fx = (p: string): Buffer => readFileSync(new URL(`../fixtures/${p}`, import.meta.url));
const der = (p: string): Uint8Array =>
  p.endsWith('.pem') ? pemDers(fx(p).toString('utf8'), 'CERTIFICATE', { what: p, code: 'E_CERT_INPUT' })[0]! : Uint8Array.from(fx(p));
const pem = (d: Uint8Array): string =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(d)
    .toString('base64')
    .replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;

/** The extension's extnValue content, found by its encoded OID (independent of the DER walker). */
function rawHwIdExtension(d: Uint8Array): Uint8Array {
  const oid = Buffer.from('06092b060104019c780104', 'hex');
  const at = Buffer.from(d).indexOf(oid);
  assert.ok(at > 0, 'hwID extension present');
  const v = at + oid.length;
  assert.equal(d[v], 0x04, 'extnValue is an OCTET STRING');
  return d.subarray(v + 2, v + 2 + d[v + 1]!);
}

const REAL: ReadonlyArray<[string, Product, number]> = [
  ['snp/milan-v2-vcek.der', 'Milan', 64],
  ['snp/milan-v2-azpolicy-vcek.der', 'Milan', 64],
  ['snp/milan-v3-vcek.pem', 'Milan', 64],
  ['azure-hcl/milan-v3-a/vcek.pem', 'Milan', 64],
  ['azure-hcl/milan-v3-b/vcek.der', 'Milan', 64],
  ['snp/genoa-v3-vcek.pem', 'Genoa', 64],
  ['azure-hcl/genoa/vcek.pem', 'Genoa', 64],
  ['negative/debug-enabled-vcek.der', 'Milan', 64],
  ['snp/turin-vcek-no-report.der', 'Turin', 8],
];

describe('VCEK hwID: one reading for the collector and the verifier', () => {
  for (const [file, product, n] of REAL) {
    it(`${file}: AMD's raw ${n}-byte encoding, matched alike by both checks`, () => {
      const d = der(file);
      const raw = rawHwIdExtension(d);
      assert.equal(raw.length, n, 'raw CHIP_ID bytes, no inner OCTET STRING');
      const cert = parseCertificate(d);
      assert.deepEqual(cert.amd.hwId, Uint8Array.from(raw));
      const chipId = new Uint8Array(64);
      chipId.set(raw);
      const report = { chipId } as SnpReport;
      assert.equal(vcekChipMismatch(pem(d), chipId), undefined);
      assert.equal(checkChipId(report, cert, 'VCEK', product).status, 'pass');
      chipId[n - 1]! ^= 1;
      assert.match(vcekChipMismatch(pem(d), chipId) ?? '', /another chip/);
      assert.equal(checkChipId(report, cert, 'VCEK', product).status, 'fail');
    });
  }

  it('real report and VCEK pairs: both checks pass', () => {
    for (const [r, v, product] of [
      ['snp/milan-v3-report.bin', 'snp/milan-v3-vcek.pem', 'Milan'],
      ['snp/genoa-v3-report.bin', 'snp/genoa-v3-vcek.pem', 'Genoa'],
    ] as const) {
      const report = parseSnpReport(fx(r));
      const d = der(v);
      assert.equal(vcekChipMismatch(pem(d), report.chipId), undefined, v);
      assert.equal(checkChipId(report, parseCertificate(d), 'VCEK', product).status, 'pass', v);
    }
  });

  it('a wrapped hwID (04 40 + 64 bytes, the trustee test VCEK) is unwrapped for both', () => {
    const d = der('negative/invalid-vcek-new.der');
    assert.equal(rawHwIdExtension(d).length, 66);
    const chipId = Uint8Array.from({ length: 64 }, (_, i) => i);
    assert.equal(vcekChipMismatch(pem(d), chipId), undefined);
    assert.equal(checkChipId({ chipId } as SnpReport, parseCertificate(d), 'VCEK', 'Milan').status, 'pass');
  });
});
