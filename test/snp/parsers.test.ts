// Parsers on real bytes: SNP report fields and product, HCL header and runtime data, AMD certificate
// extensions (Turin included, both hwID encodings), bundles and THIM bodies, TPM quotes, and our claims
// against the value formats of a real MAA token.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseEvidence,
  parseSnpReport,
  parseCertificate,
  parseCertificateBundle,
  productFromCertificate,
  certificateRole,
  parseTpmsAttest,
  decodeTcb,
  verifyEvidenceSync,
  ParseError,
} from '../../src/index.js';
import { checkChain } from '../../src/platform/snp/chain.js';
import { checkChipId, checkTcb } from '../../src/platform/snp/tcb-chip.js';
import { CertStore } from '../../src/x509/cert-store.js';
import type { SnpReport } from '../../src/platform/snp/report.js';
import { fixture, NOW } from '../verify/fixtures.js';

describe('SNP report', () => {
  it('v3 reports carry CPUID: Milan and Genoa', () => {
    const m = parseSnpReport(fixture('snp/milan-v3-report.bin'));
    assert.equal(m.version, 3);
    assert.equal(m.cpuid?.family, 0x19);
    assert.equal(m.product, 'Milan');
    assert.equal(parseSnpReport(fixture('snp/genoa-v3-report.bin')).product, 'Genoa');
    assert.deepEqual(m.structureIssues, []);
    assert.equal(m.signatureAlgo, 1);
    assert.equal(m.signingKey, 'vcek');
  });
  it('v2 reports have no CPUID: the product comes from the VCEK issuer', () => {
    const r = parseSnpReport(fixture('snp/milan-v2-azpolicy-report.bin'));
    assert.equal(r.version, 2);
    assert.equal(r.cpuid, undefined);
    assert.equal(r.product, undefined);
    // Azure paravisor guest policy 0x3001f: SMT allowed, ABI 0.31, no debug, no migration agent.
    assert.equal(r.policy.raw, 0x3001fn);
    assert.equal(r.policy.smt, true);
    assert.equal(r.policy.abiMinor, 0x1f);
    assert.equal(r.policy.debug, false);
    assert.equal(r.policy.migrateMa, false);
    const v = verifyEvidenceSync({ evidence: fixture('snp/milan-v2-azpolicy-report.bin'), vcek: fixture('snp/milan-v2-azpolicy-vcek.der'), now: NOW });
    assert.equal(v.product, 'Milan');
  });
  it('the debug vector has POLICY.DEBUG; the VLEK vector SIGNING_KEY 1 and VMPL 1', () => {
    assert.equal(parseSnpReport(fixture('negative/debug-enabled-report.bin')).policy.debug, true);
    const vl = parseSnpReport(fixture('negative/vmpl1-vlek-report.bin'));
    assert.equal(vl.signingKey, 'vlek');
    assert.equal(vl.vmpl, 1);
  });
  it('TCB layouts: Milan/Genoa vs Turin (FMC first)', () => {
    const raw = 0xdb18000000000004n;
    assert.deepEqual({ ...decodeTcb(raw, 'Milan') }, { raw, bootloader: 4, tee: 0, snp: 24, microcode: 0xdb });
    const t = decodeTcb(0x3b00000001030201n, 'Turin');
    assert.deepEqual([t.fmc, t.bootloader, t.tee, t.snp, t.microcode], [1, 2, 3, 1, 0x3b]);
  });
  it('v4 and v5 layouts (no such vector is published: derived from a v3 report, so unsigned)', () => {
    const b = Uint8Array.from(fixture('snp/milan-v3-report.bin'));
    const dv = new DataView(b.buffer);
    dv.setUint32(0, 4, true);
    const v4 = parseSnpReport(b);
    assert.equal(v4.version, 4);
    assert.equal(v4.product, 'Milan');
    assert.equal(v4.launchMitVector, undefined);
    dv.setUint32(0, 5, true);
    dv.setBigUint64(0x1f8, 0x11n, true);
    dv.setBigUint64(0x200, 0x13n, true);
    const v5 = parseSnpReport(b);
    assert.deepEqual([v5.launchMitVector, v5.currentMitVector], [0x11n, 0x13n]);
    assert.deepEqual(v5.structureIssues, []);
    // The same bytes as v4 are reserved there: a structure issue.
    dv.setUint32(0, 4, true);
    assert.match(parseSnpReport(b).structureIssues.join(), /reserved \(0x1f8\.\.0x29f\) must be zero/);
    dv.setUint32(0, 6, true);
    assert.throws(() => parseSnpReport(b), /unsupported SNP report version 6/);
    dv.setUint32(0, 1, true);
    assert.throws(() => parseSnpReport(b), ParseError);
  });

  it('the caller may change its buffer afterwards: the report keeps its own copy', () => {
    const b = Uint8Array.from(fixture('snp/milan-v3-report.bin'));
    const r = parseSnpReport(b);
    const m = r.measurement[0];
    b.fill(0);
    assert.equal(r.measurement[0], m);
  });
});

describe('HCL report', () => {
  it('header v1 (Milan) and v2 (Genoa), SHA-256 binding, runtime data keys by kid', () => {
    const m = parseEvidence(fixture('azure-hcl/milan-v3-a/hcl-report.bin'));
    assert.equal(m.kind, 'hcl');
    assert.equal(m.hcl?.headerVersion, 1);
    assert.equal(m.hcl?.hashType, 'sha256');
    const g = parseEvidence(fixture('azure-hcl/genoa/hcl-report.bin'));
    assert.equal(g.hcl?.headerVersion, 2);
    const keys = g.hcl?.runtimeData.json?.keys as { kid: string }[];
    assert.deepEqual(keys.map((k) => k.kid).sort(), ['HCLAkPub', 'HCLEkPub']);
    assert.equal(g.hcl?.runtimeData.raw.length, g.hcl.reportSize - 0x4d4);
  });
});

describe('AMD certificates', () => {
  it('Turin VCEK: structVersion 1, FMC SPL, 8-byte hwID; chains to the pinned Turin ARK', () => {
    const c = parseCertificate(fixture('snp/turin-vcek-no-report.der'));
    assert.equal(c.amd.structVersion, 1);
    assert.equal(c.amd.productName, 'Turin');
    assert.equal(typeof c.amd.fmc, 'number');
    assert.equal(c.amd.hwId?.length, 8);
    assert.equal(certificateRole(c), 'VCEK');
    assert.equal(productFromCertificate(c), 'Turin');
    const chain = checkChain({ bundle: { vcek: c }, signingKey: 'vcek', reportProduct: 'Turin', now: NOW, store: new CertStore(false) });
    assert.equal(chain.check.status, 'pass', chain.check.reason);
    assert.deepEqual(
      chain.certificates.map((x) => x.issuer.match(/CN=([^,]+)/)![1]),
      ['SEV-Turin', 'ARK-Turin', 'ARK-Turin'],
    );
  });

  it('Turin TCB and chip id checks use the Turin layout (no Turin report is published: a synthetic one, unsigned)', () => {
    const c = parseCertificate(fixture('snp/turin-vcek-no-report.der'));
    const a = c.amd;
    const raw = BigInt(a.fmc!) | (BigInt(a.bootloader!) << 8n) | (BigInt(a.tee!) << 16n) | (BigInt(a.snp!) << 24n) | (BigInt(a.microcode!) << 56n);
    const chipId = new Uint8Array(64);
    chipId.set(a.hwId!);
    const report = { reportedTcb: decodeTcb(raw, 'Turin'), chipId } as unknown as SnpReport;
    assert.equal(checkTcb(report, c, 'VCEK', 'Turin').status, 'pass');
    assert.equal(checkChipId(report, c, 'VCEK', 'Turin').status, 'pass');
    // Read with the Milan layout the same u64 does not match.
    assert.equal(checkTcb({ ...report, reportedTcb: decodeTcb(raw, 'Milan') }, c, 'VCEK', 'Turin').status, 'fail');
    chipId[3]! ^= 1;
    assert.equal(checkChipId(report, c, 'VCEK', 'Turin').status, 'fail');
    assert.equal(checkChipId({ ...report, chipId: new Uint8Array(64) }, c, 'VCEK', 'Turin').status, 'warn');
  });

  it('both hwID encodings of the broken trustee VCEKs decode to the same 64 bytes', () => {
    const expected = Uint8Array.from({ length: 64 }, (_, i) => i);
    for (const f of ['negative/invalid-vcek-legacy.der', 'negative/invalid-vcek-new.der']) {
      assert.equal(Buffer.from(parseCertificate(fixture(f)).amd.hwId!).toString('hex'), Buffer.from(expected).toString('hex'), f);
    }
  });

  it('THIM body: VCEK, ASK, ARK, tcbm and cacheControl', () => {
    const b = parseCertificateBundle(fixture('azure-hcl/thim-response.json'));
    assert.ok(b.vcek && b.ask && b.ark);
    assert.match(b.thim!.tcbm, /^[0-9a-f]{16}$/);
    assert.equal(b.thim!.cacheControl, '86400');
  });

  it('bundles: any order; VLEK chain roles; non-AMD or conflicting certificates are ParseErrors', () => {
    const vl = parseCertificateBundle(fixture('amd/ask_ark_genoa_vlek.pem'));
    assert.ok(vl.asvk && vl.ark && !vl.ask);
    assert.equal(certificateRole(parseCertificate(fixture('negative/vmpl1-vlek.der'))), 'VLEK');
    const pem = (p: string) => fixture(p).toString();
    assert.throws(() => parseCertificateBundle(pem('snp/milan-v3-vcek.pem') + pem('azure-hcl/genoa/vcek.pem')), /two different VCEK/);
    assert.throws(() => parseCertificateBundle('hello'), ParseError);
    assert.throws(() => parseCertificateBundle('{"vcekCert": 1}'), ParseError);
    assert.throws(() => parseCertificateBundle(JSON.stringify({ vcekCert: pem('snp/milan-v3-vcek.pem'), tcbm: 'xyz' })), /tcbm/);
  });
});

describe('TPM quote', () => {
  it('TPMS_ATTEST of the real quote: QUOTE type, nonce "challenge", 24 SHA-256 PCRs', () => {
    const q = parseTpmsAttest(fixture('azure-hcl/milan-v3-a/quote.msg'));
    assert.equal(q.magic, 0xff544347);
    assert.equal(q.type, 0x8018);
    assert.equal(Buffer.from(q.extraData).toString(), 'challenge');
    assert.equal(q.quote?.pcrSelect[0]?.hashAlg, 0x000b);
    assert.equal(q.quote?.pcrSelect[0]?.pcrs.length, 24);
    assert.equal(q.quote?.pcrDigest.length, 32);
  });
  it('a TPMT_SIGNATURE-wrapped signature (tpm2_quote default output) is accepted like the raw one', () => {
    const dir = 'azure-hcl/milan-v3-a';
    const raw = fixture(`${dir}/quote.sig`);
    const tpmt = Buffer.concat([Buffer.from([0x00, 0x14, 0x00, 0x0b, raw.length >> 8, raw.length & 0xff]), raw]);
    const r = verifyEvidenceSync({
      evidence: fixture(`${dir}/hcl-report.bin`),
      vcek: fixture(`${dir}/vcek.pem`),
      now: NOW,
      quote: { message: fixture(`${dir}/quote.msg`), signature: tpmt, nonce: Buffer.from('challenge') },
    });
    assert.equal(r.checks.find((c) => c.id === 'freshness')?.status, 'pass');
    const sha1 = Buffer.from(tpmt);
    sha1[3] = 0x04;
    const r2 = verifyEvidenceSync({
      evidence: fixture(`${dir}/hcl-report.bin`),
      vcek: fixture(`${dir}/vcek.pem`),
      now: NOW,
      quote: { message: fixture(`${dir}/quote.msg`), signature: sha1, nonce: Buffer.from('challenge') },
    });
    assert.equal(r2.checks.find((c) => c.id === 'freshness')?.status, 'fail');
  });
});

describe('claims', () => {
  it('every x-ms-sevsnpvm-* claim of a real MAA token exists with the same type and hex length', () => {
    const token = JSON.parse(fixture('maa/sampleAttestationToken.json').toString()) as { 'x-ms-isolation-tee': Record<string, unknown> };
    const maa = token['x-ms-isolation-tee'];
    const r = verifyEvidenceSync({ evidence: fixture('azure-hcl/milan-v2/hcl-report.bin'), vcek: fixture('azure-hcl/milan-v2/vcek-chain.pem'), now: NOW });
    const names = Object.keys(maa).filter((k) => k.startsWith('x-ms-sevsnpvm-'));
    assert.equal(names.length, 17);
    for (const k of names) {
      const ours = r.claims[k];
      assert.equal(typeof ours, typeof maa[k], k);
      if (typeof ours === 'string') {
        assert.equal(ours.length, (maa[k] as string).length, k);
        assert.match(ours, /^[0-9a-f]*$/, k);
      }
    }
    assert.equal(r.claims['x-ms-attestation-type'], maa['x-ms-attestation-type']);
    const rt = r.claims['x-ms-runtime'] as { keys: unknown[]; 'vm-configuration': Record<string, unknown> };
    for (const k of Object.keys(maa['x-ms-runtime'] as object)) assert.ok(k in rt, `x-ms-runtime.${k}`);
    assert.ok(Array.isArray(rt.keys));
  });
  it('our own cvm-attest-* claims', () => {
    const r = verifyEvidenceSync({ evidence: fixture('azure-hcl/genoa/hcl-report.bin'), vcek: fixture('azure-hcl/genoa/vcek.pem'), now: NOW });
    const c = r.claims;
    assert.equal(c['cvm-attest-product'], 'Genoa');
    assert.equal(c['cvm-attest-signing-key'], 'vcek');
    assert.equal(c['cvm-attest-hcl-header-version'], 2);
    assert.match(c['cvm-attest-chip-id'] as string, /^[0-9a-f]{128}$/);
    for (const k of ['reported', 'current', 'committed', 'launch'])
      assert.deepEqual(Object.keys(c[`cvm-attest-${k}-tcb`] as object).sort(), ['bootloader', 'microcode', 'raw', 'snp', 'tee']);
    assert.match(c['cvm-attest-firmware-version'] as string, /^\d+\.\d+\.\d+$/);
    assert.equal(c['cvm-attest-policy-hash'], r.policy.hash);
  });
});
