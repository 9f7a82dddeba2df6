// Every real vector in test/fixtures with its expected outcome (PROVENANCE.md), each negative one
// failing on the right check.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { verifyEvidence, verifyEvidenceSync, parsePolicy, parseTpmsAttest, ParseError, type VerificationResult } from '../../src/index.js';
import { check, failed, fixture, HCL_VECTORS, NOW, SNP_VECTORS } from './fixtures.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from './fixtures.js';

function quoteOf(dir: string, nonce?: Uint8Array) {
  const pcrsPath = join(FIXTURES, dir, 'pcrs.json');
  return {
    message: fixture(`${dir}/quote.msg`),
    signature: fixture(`${dir}/quote.sig`),
    nonce: nonce ?? Buffer.from(fixture(`${dir}/nonce.hex`).toString().trim(), 'hex'),
    ...(existsSync(pcrsPath) ? { pcrs: JSON.parse(fixture(`${dir}/pcrs.json`).toString()) as string[] } : {}),
  };
}

function assertPass(r: VerificationResult): void {
  assert.equal(
    r.verdict,
    'pass',
    `failed: ${r.checks
      .filter((c) => c.status === 'fail')
      .map((c) => `${c.id}: ${c.reason}`)
      .join(' | ')}`,
  );
}

describe('Azure HCL vectors', () => {
  for (const v of HCL_VECTORS) {
    it(`${v.dir}: every check passes`, async () => {
      const r = await verifyEvidence({ evidence: fixture(`${v.dir}/hcl-report.bin`), vcek: fixture(`${v.dir}/${v.vcek}`), now: NOW });
      assertPass(r);
      assert.equal(r.product, v.product);
      for (const id of ['structure', 'signature', 'chain', 'tcb', 'chip-id', 'runtime-data', 'policy.debug', 'policy.vmpl'])
        assert.equal(check(r, id).status, 'pass', id);
      assert.equal(check(r, 'freshness').status, 'skip');
      assert.equal(r.claims['x-ms-attestation-type'], 'sevsnpvm');
      assert.equal(r.claims['cvm-attest-evidence-kind'], 'hcl');
      const rt = r.claims['x-ms-runtime'] as { keys: { kid: string }[] };
      assert.ok(rt.keys.some((k) => k.kid === 'HCLAkPub'));
      assert.deepEqual(
        r.certificates.map((c) => c.role),
        ['VCEK', 'ASK', 'ARK'],
      );
      assert.equal(r.certificates[2]!.pinned, true);
      assert.match(r.policy.hash, /^[0-9a-f]{64}$/);
    });
  }

  for (const dir of ['azure-hcl/milan-v3-a', 'azure-hcl/milan-v3-b']) {
    it(`${dir}: the real quote is fresh (AK from runtime data, nonce, PCR digest)`, async () => {
      const v = HCL_VECTORS.find((x) => x.dir === dir)!;
      const r = await verifyEvidence({ evidence: fixture(`${dir}/hcl-report.bin`), vcek: fixture(`${dir}/${v.vcek}`), quote: quoteOf(dir), now: NOW });
      assertPass(r);
      assert.equal(check(r, 'freshness').status, 'pass');
      assert.match(check(r, 'freshness').reason, /pcrDigest matches PCRs 0,1,2/);
      assert.equal(Object.keys(r.claims['cvm-attest-pcrs'] as object).length, 24);
      // The same quote replayed from a capture is at best a warning.
      const replayed = await verifyEvidence({
        evidence: fixture(`${dir}/hcl-report.bin`),
        vcek: fixture(`${dir}/${v.vcek}`),
        quote: quoteOf(dir),
        now: NOW,
        replayed: true,
      });
      assert.equal(check(replayed, 'freshness').status, 'warn');
      assert.match(check(replayed, 'freshness').reason, /replayed/);
      // Wrong nonce, wrong PCR value: fail on freshness.
      const wrongNonce = await verifyEvidence({
        evidence: fixture(`${dir}/hcl-report.bin`),
        vcek: fixture(`${dir}/${v.vcek}`),
        quote: quoteOf(dir, Buffer.from('challengf')),
        now: NOW,
      });
      assert.deepEqual(failed(wrongNonce), ['freshness']);
      const q = quoteOf(dir);
      const pcrs = [...q.pcrs!];
      pcrs[7] = '00'.repeat(32);
      const wrongPcr = await verifyEvidence({ evidence: fixture(`${dir}/hcl-report.bin`), vcek: fixture(`${dir}/${v.vcek}`), quote: { ...q, pcrs }, now: NOW });
      assert.deepEqual(failed(wrongPcr), ['freshness']);
      assert.match(check(wrongPcr, 'freshness').reason, /pcrDigest/);
    });
  }

  it('milan-v3-a quote against the genoa report: AK not bound -> freshness fails', async () => {
    const r = await verifyEvidence({
      evidence: fixture('azure-hcl/genoa/hcl-report.bin'),
      vcek: fixture('azure-hcl/genoa/vcek.pem'),
      quote: quoteOf('azure-hcl/milan-v3-a'),
      now: NOW,
    });
    assert.deepEqual(failed(r), ['freshness']);
    assert.match(check(r, 'freshness').reason, /HCLAkPub/);
  });

  it('genoa: the quote is by its AK and covers its PCRs, but its nonce is not "challenge" (PROVENANCE says it is)', async () => {
    const dir = 'azure-hcl/genoa';
    // As published: nonce.hex is "challenge" but the quote's extraData is 48 other bytes -> freshness fails on the nonce.
    const asPublished = await verifyEvidence({ evidence: fixture(`${dir}/hcl-report.bin`), vcek: fixture(`${dir}/vcek.pem`), quote: quoteOf(dir), now: NOW });
    assert.deepEqual(failed(asPublished), ['freshness']);
    assert.match(check(asPublished, 'freshness').reason, /nonce/);
    // With the nonce the quote really carries, signature and PCR digest verify.
    const extra = parseTpmsAttest(fixture(`${dir}/quote.msg`)).extraData;
    assert.equal(extra.length, 48);
    const r = await verifyEvidence({ evidence: fixture(`${dir}/hcl-report.bin`), vcek: fixture(`${dir}/vcek.pem`), quote: quoteOf(dir, extra), now: NOW });
    assertPass(r);
    assert.equal(check(r, 'freshness').status, 'pass');
  });

  it('milan-v2: its published quote is not signed by the HCLAkPub of its report (PROVENANCE says it is) -> freshness fails', async () => {
    const dir = 'azure-hcl/milan-v2';
    const r = await verifyEvidence({ evidence: fixture(`${dir}/hcl-report.bin`), vcek: fixture(`${dir}/vcek-chain.pem`), quote: quoteOf(dir), now: NOW });
    assert.deepEqual(failed(r), ['freshness']);
    assert.match(check(r, 'freshness').reason, /does not verify with HCLAkPub/);
  });

  it('milan-v2: CURRENT_TCB != COMMITTED_TCB is reported in the claims', async () => {
    const r = await verifyEvidence({ evidence: fixture('azure-hcl/milan-v2/hcl-report.bin'), vcek: fixture('azure-hcl/milan-v2/vcek-chain.pem'), now: NOW });
    const cur = r.claims['cvm-attest-current-tcb'] as { raw: string };
    const com = r.claims['cvm-attest-committed-tcb'] as { raw: string };
    assert.notEqual(cur.raw, com.raw);
  });

  it('genoa: header v2 and new runtime-data fields', async () => {
    const r = await verifyEvidence({ evidence: fixture('azure-hcl/genoa/hcl-report.bin'), vcek: fixture('azure-hcl/genoa/vcek.pem'), now: NOW });
    assert.equal(r.claims['cvm-attest-hcl-header-version'], 2);
    const vc = (r.claims['x-ms-runtime'] as { 'vm-configuration': Record<string, unknown> })['vm-configuration'];
    assert.ok('root-cert-thumbprint' in vc && 'tpm-persisted' in vc);
  });
});

describe('bare SNP report vectors', () => {
  for (const v of SNP_VECTORS) {
    it(`${v.report}: passes (v${v.version}, ${v.product})`, async () => {
      const r = await verifyEvidence({ evidence: fixture(v.report), vcek: fixture(v.vcek), now: NOW });
      assertPass(r);
      assert.equal(r.product, v.product);
      assert.equal(r.claims['cvm-attest-report-version'], v.version);
      assert.equal(check(r, 'runtime-data').status, 'skip');
      assert.equal(r.claims['x-ms-runtime'], undefined);
    });
  }

  it('a THIM body whose tcbm differs from REPORTED_TCB: the VCEK still matches, tcb is a warning', async () => {
    const thim = JSON.parse(fixture('azure-hcl/thim-response.json').toString()) as { tcbm: string };
    const r = await verifyEvidence({ evidence: fixture('snp/aci-milan-v2-report.bin'), vcek: JSON.stringify({ ...thim, tcbm: '0000000000000001' }), now: NOW });
    assert.equal(r.verdict, 'pass');
    assert.equal(check(r, 'tcb').status, 'warn');
    assert.match(check(r, 'tcb').reason, /IMDS tcbm 0000000000000001 differs/);
  });

  it('the THIM body carries tcbm equal to REPORTED_TCB', async () => {
    const r = await verifyEvidence({ evidence: fixture('snp/aci-milan-v2-report.bin'), vcek: fixture('azure-hcl/thim-response.json'), now: NOW });
    const thim = JSON.parse(fixture('azure-hcl/thim-response.json').toString()) as { tcbm: string };
    assert.equal((r.claims['cvm-attest-reported-tcb'] as { raw: string }).raw, thim.tcbm.toLowerCase());
  });
});

describe('negative vectors', () => {
  it('debug-enabled: genuine signature and chain, fails policy.debug only', async () => {
    const r = await verifyEvidence({ evidence: fixture('negative/debug-enabled-report.bin'), vcek: fixture('negative/debug-enabled-vcek.der'), now: NOW });
    assert.equal(r.verdict, 'fail');
    assert.deepEqual(failed(r), ['policy.debug']);
    assert.equal(r.claims['x-ms-sevsnpvm-is-debuggable'], true);
    // A policy that allows debugging accepts it: the cryptography is sound.
    const ok = await verifyEvidence({
      evidence: fixture('negative/debug-enabled-report.bin'),
      vcek: fixture('negative/debug-enabled-vcek.der'),
      now: NOW,
      policy: parsePolicy({ allowDebug: true }),
    });
    assert.equal(ok.verdict, 'pass');
  });

  it('vmpl1-vlek: expired VLEK, VMPL 1, VLEK not allowed by default', async () => {
    const r = await verifyEvidence({ evidence: fixture('negative/vmpl1-vlek-report.bin'), vcek: fixture('negative/vmpl1-vlek.der'), now: NOW });
    assert.deepEqual(failed(r), ['chain', 'policy.signing-key', 'policy.vmpl']);
    assert.match(check(r, 'chain').reason, /VLEK expired 2025-12-10/);
    assert.equal(check(r, 'chip-id').status, 'skip');
    assert.deepEqual(
      r.certificates.map((c) => c.role),
      ['VLEK', 'ASVK', 'ARK'],
    );
    // Within its validity, with a policy that accepts VLEK and VMPL 1: the VLEK -> ASVK -> ARK chain and signature are genuine.
    const inValidity = await verifyEvidence({
      evidence: fixture('negative/vmpl1-vlek-report.bin'),
      vcek: fixture('negative/vmpl1-vlek.der'),
      now: new Date('2025-06-01T00:00:00Z'),
      policy: parsePolicy({ allowVlek: true, maxVmpl: 1 }),
    });
    assert.equal(inValidity.verdict, 'pass', failed(inValidity).join());
    assert.equal(inValidity.claims['cvm-attest-signing-key'], 'vlek');
  });

  it('foreign VCEK: the runtime-data hash is right, the signature and chip id are not', async () => {
    const r = await verifyEvidence({
      evidence: fixture('negative/hcl-report-foreign-vcek.bin'),
      vcek: fixture('negative/hcl-report-foreign-vcek-chain.pem'),
      now: NOW,
    });
    assert.deepEqual(failed(r), ['chip-id', 'signature']);
    assert.equal(check(r, 'runtime-data').status, 'pass');
    assert.equal(check(r, 'chain').status, 'pass');
  });

  for (const f of ['negative/invalid-vcek-legacy.der', 'negative/invalid-vcek-new.der']) {
    it(`${f}: a deliberately broken VCEK never passes`, async () => {
      const r = await verifyEvidence({ evidence: fixture('snp/milan-v3-report.bin'), vcek: fixture(f), now: NOW });
      assert.equal(r.verdict, 'fail');
      assert.ok(failed(r).includes('signature'));
      assert.ok(failed(r).includes('chip-id'));
    });
  }

  it('a VCEK of another product fails the chain', async () => {
    const r = await verifyEvidence({ evidence: fixture('snp/genoa-v3-report.bin'), vcek: fixture('snp/milan-v3-vcek.pem'), now: NOW });
    assert.ok(failed(r).includes('chain'));
    assert.match(check(r, 'chain').reason, /Genoa CPU but the VCEK is issued for Milan/);
  });

  it('a Genoa ARK supplied for Milan evidence is refused (not the pinned ARK-Milan)', async () => {
    const r = await verifyEvidence({
      evidence: fixture('snp/milan-v3-report.bin'),
      vcek: fixture('snp/milan-v3-vcek.pem'),
      chain: fixture('amd/ask_ark_genoa.pem'),
      now: NOW,
    });
    assert.ok(failed(r).includes('chain'));
    assert.match(check(r, 'chain').reason, /not AMD's pinned ARK-Milan/);
  });

  it('the genuine chain supplied explicitly (either order) passes', async () => {
    const pem = fixture('amd/ask_ark_milan.pem').toString();
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
    for (const chain of [pem, `${blocks[1]}\n${blocks[0]}\n`]) {
      const r = await verifyEvidence({ evidence: fixture('snp/milan-v3-report.bin'), vcek: fixture('snp/milan-v3-vcek.pem'), chain, now: NOW });
      assertPass(r);
    }
  });

  it('a VCEK for a VLEK-signed report (and the reverse) fails closed', async () => {
    const r = await verifyEvidence({
      evidence: fixture('negative/vmpl1-vlek-report.bin'),
      vcek: fixture('snp/milan-v3-vcek.pem'),
      now: NOW,
      policy: parsePolicy({ allowVlek: true, maxVmpl: 1 }),
    });
    assert.deepEqual(failed(r), ['chain', 'signature', 'tcb']);
    assert.match(check(r, 'chain').reason, /signed by a VLEK but a VCEK was given/);
    const r2 = await verifyEvidence({ evidence: fixture('snp/milan-v3-report.bin'), vcek: fixture('negative/vmpl1-vlek.der'), now: NOW });
    assert.deepEqual(failed(r2), ['chain', 'chip-id', 'signature', 'tcb']);
    assert.match(check(r2, 'chain').reason, /signed by a VCEK but a VLEK was given/);
  });

  it('no VCEK: fails closed on signature, chain, tcb and chip id', async () => {
    const r = await verifyEvidence({ evidence: fixture('snp/milan-v3-report.bin'), now: NOW });
    assert.deepEqual(failed(r), ['chain', 'chip-id', 'signature', 'tcb']);
  });

  it('a VCEK valid only later / already expired fails the chain at that time', async () => {
    const early = await verifyEvidence({
      evidence: fixture('snp/milan-v3-report.bin'),
      vcek: fixture('snp/milan-v3-vcek.pem'),
      now: new Date('2025-01-01T00:00:00Z'),
    });
    assert.deepEqual(failed(early), ['chain']);
    assert.match(check(early, 'chain').reason, /VCEK is not valid before/);
    const late = await verifyEvidence({
      evidence: fixture('snp/milan-v3-report.bin'),
      vcek: fixture('snp/milan-v3-vcek.pem'),
      now: new Date('2040-01-01T00:00:00Z'),
    });
    assert.match(check(late, 'chain').reason, /VCEK expired/);
  });

  it('unusable bytes throw ParseError, never another error', async () => {
    await assert.rejects(verifyEvidence({ evidence: fixture('amd/crl_milan.pem'), vcek: fixture('snp/milan-v3-vcek.pem') }), ParseError);
    await assert.rejects(verifyEvidence({ evidence: fixture('snp/milan-v3-report.bin'), vcek: fixture('amd/crl_milan.pem') }), ParseError);
    await assert.rejects(
      verifyEvidence({ evidence: fixture('snp/milan-v3-report.bin'), vcek: fixture('snp/milan-v3-vcek.pem'), crl: fixture('snp/milan-v3-vcek.pem') }),
      ParseError,
    );
  });
});

describe('API variants', () => {
  it('verifyEvidence, verifyEvidenceSync and cache: false give the same result', async () => {
    for (const v of HCL_VECTORS) {
      const o = { evidence: fixture(`${v.dir}/hcl-report.bin`), vcek: fixture(`${v.dir}/${v.vcek}`), now: NOW };
      const a = await verifyEvidence(o);
      assert.deepEqual(verifyEvidenceSync(o), a);
      assert.deepEqual(await verifyEvidence({ ...o, cache: false }), a);
      assert.deepEqual(verifyEvidenceSync({ ...o, cache: false }), a);
    }
  });
  it('a ParseError says which option it is about', async () => {
    const cases: [object, string][] = [
      [{ evidence: fixture('amd/crl_milan.pem') }, 'evidence'],
      [{ evidence: fixture('snp/milan-v3-report.bin'), vcek: 'junk' }, 'vcek'],
      [{ evidence: fixture('snp/milan-v3-report.bin'), chain: 'junk' }, 'chain'],
      [{ evidence: fixture('snp/milan-v3-report.bin'), crl: 'junk' }, 'crl'],
    ];
    for (const [o, input] of cases) {
      await assert.rejects(verifyEvidence(o as Parameters<typeof verifyEvidence>[0]), (e: unknown) => e instanceof ParseError && e.input === input);
    }
  });
});

describe('CRL', () => {
  const milan = { evidence: fixture('snp/milan-v3-report.bin'), vcek: fixture('snp/milan-v3-vcek.pem'), now: NOW };
  it('the real Milan CRL verifies, revokes nothing of the chain, and is stale: warn by default', async () => {
    const r = await verifyEvidence({ ...milan, crl: fixture('amd/crl_milan.pem') });
    assert.equal(r.verdict, 'pass');
    assert.equal(check(r, 'crl').status, 'warn');
    assert.match(check(r, 'crl').reason, /stale \(nextUpdate 2026-05-12/);
    assert.ok(r.warnings.some((w) => w.startsWith('crl:')));
  });
  it('before its nextUpdate the same CRL passes', async () => {
    const r = await verifyEvidence({ ...milan, now: new Date('2026-03-01T00:00:00Z'), crl: fixture('amd/crl_milan.pem') });
    assert.equal(check(r, 'crl').status, 'pass');
  });
  it('crl enforce: a stale CRL fails, a missing one fails; crl off ignores it', async () => {
    const enforce = parsePolicy({ crl: 'enforce' });
    assert.equal(check(await verifyEvidence({ ...milan, crl: fixture('amd/crl_milan.pem'), policy: enforce }), 'crl').status, 'fail');
    assert.equal(check(await verifyEvidence({ ...milan, policy: enforce }), 'crl').status, 'fail');
    assert.equal(check(await verifyEvidence({ ...milan, crl: fixture('amd/crl_milan.pem'), policy: parsePolicy({ crl: 'off' }) }), 'crl').status, 'skip');
  });
  it('crls by product (as serve gives them): the CRL of the product the chain establishes is checked, as if given alone; crl wins over crls', async () => {
    const genoa = { evidence: fixture('azure-hcl/genoa/hcl-report.bin'), vcek: fixture('azure-hcl/genoa/vcek.pem'), now: NOW };
    const crls = { Milan: fixture('amd/crl_milan.pem'), Genoa: fixture('amd/crl_genoa.pem').toString('latin1') };
    for (const [o, crl] of [
      [milan, crls.Milan],
      [genoa, crls.Genoa],
    ] as const) {
      const picked = await verifyEvidence({ ...o, crls });
      assert.deepEqual(picked, await verifyEvidence({ ...o, crl }));
      assert.notEqual(check(picked, 'crl').reason, 'no CRL given');
    }
    // None for this product: as without a CRL (and under enforce, a fail).
    assert.deepEqual(check(await verifyEvidence({ ...milan, crls: { Genoa: crls.Genoa } }), 'crl'), check(await verifyEvidence(milan), 'crl'));
    assert.equal(check(await verifyEvidence({ ...milan, crls: { Genoa: crls.Genoa }, policy: parsePolicy({ crl: 'enforce' }) }), 'crl').status, 'fail');
    assert.match(check(await verifyEvidence({ ...milan, crl: crls.Genoa, crls }), 'crl').reason, /ARK-Genoa/);
    await assert.rejects(verifyEvidence({ ...milan, crls: { Milan: 'junk' } }), (e: unknown) => e instanceof ParseError && e.input === 'crl');
    await assert.rejects(verifyEvidence({ ...milan, crls: 'junk' } as unknown as Parameters<typeof verifyEvidence>[0]), { code: 'E_OPTIONS' });
  });
  it("another product's CRL fails", async () => {
    const r = await verifyEvidence({ ...milan, crl: fixture('amd/crl_genoa.pem') });
    assert.equal(check(r, 'crl').status, 'fail');
    assert.match(check(r, 'crl').reason, /ARK-Genoa/);
  });
  it('the Genoa CRL verifies for Genoa evidence (its revoked ASK 0x020001 is not ours, 0x020002)', async () => {
    const r = await verifyEvidence({
      evidence: fixture('azure-hcl/genoa/hcl-report.bin'),
      vcek: fixture('azure-hcl/genoa/vcek.pem'),
      now: NOW,
      crl: fixture('amd/crl_genoa.pem'),
    });
    assert.equal(check(r, 'crl').status, 'warn');
    assert.equal(r.certificates[1]!.serialNumber, '20002');
  });
  it('a certificate whose serial the real Genoa CRL revokes (0x020001, an old Genoa ASK) fails, even with the CRL stale', async () => {
    const { checkCrl } = await import('../../src/platform/snp/crl-check.js');
    const { parseCrl } = await import('../../src/index.js');
    const { CertStore } = await import('../../src/x509/cert-store.js');
    const { pinnedArk } = await import('../../src/platform/snp/amd-certificates.js');
    const good = await verifyEvidence({ evidence: fixture('azure-hcl/genoa/hcl-report.bin'), vcek: fixture('azure-hcl/genoa/vcek.pem'), now: NOW });
    const certs = good.certificates.map((c) => (c.role === 'ASK' ? { ...c, serialNumber: '020001' } : c));
    const crl = parseCrl(fixture('amd/crl_genoa.pem'));
    for (const mode of ['warn', 'enforce'] as const) {
      const r = checkCrl(crl, mode, pinnedArk('Genoa'), certs, new CertStore(true), NOW);
      assert.equal(r.status, 'fail');
      assert.match(r.reason, /revoked by ARK-Genoa's CRL: ASK serial 0x020001/);
    }
    assert.equal(checkCrl(crl, 'warn', pinnedArk('Genoa'), good.certificates, new CertStore(true), NOW).status, 'warn');
  });

  it('a CRL with a flipped signature bit fails', async () => {
    const pem = fixture('amd/crl_milan.pem').toString();
    const der = Buffer.from(pem.replace(/-----[A-Z0-9 ]+-----/g, '').replace(/\s+/g, ''), 'base64');
    der[der.length - 10]! ^= 1;
    const r = await verifyEvidence({ ...milan, crl: der });
    assert.equal(check(r, 'crl').status, 'fail');
    assert.match(check(r, 'crl').reason, /signature/);
  });
});
