// The TDX format parsers on the real vectors, cross-checked field by field against an independent
// implementation (@phala/dcap-qvl 0.3.9 from npm, pure JavaScript), and fuzzed: arbitrary or mutated
// bytes never throw anything but ParseError.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { ParseError } from '../../src/base/errors.js';
import { parseTdQuote } from '../../src/platform/tdx/quote.js';
import { parseTdReport } from '../../src/platform/tdx/td-report.js';
import { parseTdxHclReport, isTdxHclReport } from '../../src/platform/tdx/hcl.js';
import { parsePckExtensions } from '../../src/platform/tdx/pck-extensions.js';
import { parseTcbInfo } from '../../src/platform/tdx/tcb-info.js';
import { parseQeIdentity } from '../../src/platform/tdx/qe-identity.js';
import { parseCollateral } from '../../src/platform/tdx/collateral.js';
import { fixture } from '../helpers/fixtures.js';
import { collateral, intelQuote, tdQuote, tdxHcl } from './helpers.js';
import { onlyParseError } from '../helpers/parse-error.js';

const require = createRequire(import.meta.url);

const phala = require('@phala/dcap-qvl') as {
  Quote: { parse(b: Uint8Array): any };
  verify(q: Uint8Array, c: unknown, now: number): { status: string; advisory_ids: string[] };
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const pemDer = (p: string): Uint8Array => new Uint8Array(Buffer.from(p.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64'));

describe('TD quote parser', () => {
  for (const [name, bytes] of [
    ['Azure DCesv5', tdQuote()],
    ['non-Azure host', intelQuote()],
  ] as const) {
    it(`${name}: every field equals @phala/dcap-qvl's`, () => {
      const ours = parseTdQuote(bytes);
      const theirs = phala.Quote.parse(bytes);
      assert.equal(ours.header.version, theirs.header.version);
      assert.equal(ours.header.attestationKeyType, theirs.header.attestationKeyType);
      assert.equal(ours.header.teeType, theirs.header.teeType);
      assert.equal(ours.header.qeSvn, theirs.header.qeSvn);
      assert.equal(ours.header.pceSvn, theirs.header.pceSvn);
      assert.equal(hex(ours.header.qeVendorId), hex(theirs.header.qeVendorId));
      assert.equal(hex(ours.header.userData), hex(theirs.header.userData));
      const td = theirs.report.asTd10();
      const pairs: [Uint8Array, Uint8Array][] = [
        [ours.body.teeTcbSvn, td.teeTcbSvn],
        [ours.body.mrSeam, td.mrSeam],
        [ours.body.mrSignerSeam, td.mrSignerSeam],
        [ours.body.seamAttributes, td.seamAttributes],
        [ours.body.tdAttributes, td.tdAttributes],
        [ours.body.xfam, td.xfam],
        [ours.body.mrTd, td.mrTd],
        [ours.body.mrConfigId, td.mrConfigId],
        [ours.body.mrOwner, td.mrOwner],
        [ours.body.mrOwnerConfig, td.mrOwnerConfig],
        [ours.body.rtmr[0], td.rtMr0],
        [ours.body.rtmr[1], td.rtMr1],
        [ours.body.rtmr[2], td.rtMr2],
        [ours.body.rtmr[3], td.rtMr3],
        [ours.body.reportData, td.reportData],
      ];
      for (const [a, b] of pairs) assert.equal(hex(a), hex(b));
      const auth = theirs.authData.intoV3();
      assert.equal(hex(ours.signature), hex(auth.ecdsaSignature));
      assert.equal(hex(ours.attestationKey), hex(auth.ecdsaAttestationKey));
      assert.equal(hex(ours.qeReport.bytes), hex(auth.qeReport));
      assert.equal(hex(ours.qeReportSignature), hex(auth.qeReportSignature));
      assert.equal(hex(ours.qeAuthData), hex(auth.qeAuthData));
      assert.equal(ours.certDataType, auth.certificationData.certType);
      assert.equal(hex(ours.certData), hex(auth.certificationData.body));
      assert.equal(ours.signedBytes.length, theirs.signedLength());
      assert.equal(ours.pckChainPem.length, 3);
    });
  }

  it('the v5 layout (body descriptor, TDX 1.0 and 1.5 bodies) parses to the same fields', () => {
    const v4 = tdQuote();
    const sig = v4.subarray(632);
    for (const [type, extra] of [
      [2, 0],
      [3, 64],
    ] as const) {
      const head = Buffer.from(v4.subarray(0, 48));
      head.writeUInt16LE(5, 0);
      const desc = Buffer.alloc(6);
      desc.writeUInt16LE(type, 0);
      desc.writeUInt32LE(584 + extra, 2);
      const v5 = Buffer.concat([head, desc, v4.subarray(48, 632), Buffer.alloc(extra, 0xab), sig]);
      const q = parseTdQuote(v5);
      assert.equal(q.header.version, 5);
      assert.equal(q.bodyType, type);
      assert.equal(hex(q.body.mrTd), hex(parseTdQuote(v4).body.mrTd));
      assert.equal(q.signedBytes.length, 48 + 6 + 584 + extra);
      if (type === 3) assert.equal(hex(q.body.mrServiceTd!), 'ab'.repeat(48));
    }
  });

  it('refuses what does not add up, with E_TDX_QUOTE', () => {
    const q = tdQuote();
    const bad = (f: (b: Buffer) => Buffer, re: RegExp): void =>
      assert.throws(
        () => parseTdQuote(f(Buffer.from(q))),
        (e: unknown) => e instanceof ParseError && e.code === 'E_TDX_QUOTE' && re.test(e.message),
      );
    bad((b) => (b.writeUInt16LE(3, 0), b), /version 3/);
    bad((b) => (b.writeUInt32LE(0, 4), b), /TEE type 0x0 is not TDX/);
    bad((b) => (b.writeUInt16LE(3, 2), b), /attestation key type 3/);
    bad((b) => (b.writeUInt32LE(4301, 632), b), /does not end|runs past|unexplained|non-zero/);
    bad((b) => (b.writeUInt32LE(0xffffffff, 632), b), /runs past the end/);
    bad((b) => b.subarray(0, 4000), /runs past the end/);
    bad((b) => ((b[b.length - 1] = 1), b), /non-zero bytes after/);
    bad((b) => (b.writeUInt16LE(7, 764), b), /type 7 is not QE report/);
  });
});

describe('TD report, HCL report and PCK extensions', () => {
  it('the HCL report holds a TD report whose fields the quote repeats', () => {
    const b = tdxHcl();
    assert.ok(isTdxHclReport(b));
    const h = parseTdxHclReport(b);
    const q = parseTdQuote(tdQuote());
    assert.equal(h.headerVersion, 2);
    assert.equal(h.runtimeData.raw.length, 1201);
    assert.equal(hex(h.tdReport.mrTd), hex(q.body.mrTd));
    assert.equal(hex(h.tdReport.reportData), hex(q.body.reportData));
    assert.equal(hex(h.tdReport.rtmr[3]), hex(q.body.rtmr[3]));
    assert.equal(hex(h.tdReport.mrSeam), hex(q.body.mrSeam));
    const other = parseTdxHclReport(fixture('azure-tdx/hcl-report-tdx-noquote.bin'));
    assert.equal(other.runtimeData.raw.length, 1202);
    assert.throws(() => parseTdReport(new Uint8Array(1024)), /type 0x0 is not TDX/);
  });

  it('PCK SGX extensions: FMSPC, PCE-ID and the TCB as Intel encodes them', () => {
    const q = parseTdQuote(tdQuote());
    const e = parsePckExtensions(pemDer(q.pckChainPem[0]!));
    assert.equal(e.fmspc, '00806f050000');
    assert.equal(e.pceId, '0000');
    assert.deepEqual(e.tcbComponents, [6, 6, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(e.pceSvn, 11);
    assert.equal(e.ppid.length, 16);
    // The PCK CA has no SGX extensions.
    assert.throws(
      () => parsePckExtensions(pemDer(q.pckChainPem[1]!)),
      (x: unknown) => x instanceof ParseError && x.code === 'E_PCK_EXT',
    );
  });
});

describe('collateral', () => {
  it('recognises each file by content and keeps the signed bytes exactly as served', () => {
    const c = parseCollateral(collateral().reverse());
    assert.equal(c.tcbInfos.length, 1);
    assert.equal(c.qeIdentities.length, 1);
    assert.equal(c.crls.length, 2);
    assert.deepEqual(
      c.certificates.map((x) => x.subject.cn),
      ['Intel SGX TCB Signing', 'Intel SGX Root CA'],
    );
    const text = fixture('intel/tcbinfov3_00806f050000.json').toString('utf8');
    const raw = Buffer.from(c.tcbInfos[0]!.raw).toString('utf8');
    assert.ok(text.includes(`"tcbInfo":${raw}`));
    assert.equal(c.tcbInfos[0]!.tcbLevels.length > 3, true);
    const qe = parseQeIdentity(fixture('intel/qeidentityv2_apiv4.json'));
    assert.equal(qe.isvProdId, 2);
    assert.equal(hex(qe.mrsigner), 'dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5');
  });

  it('refuses an SGX TCB info, an SGX QE identity, and unknown files, naming the file', () => {
    const t = fixture('intel/tcbinfov3_00806f050000.json').toString('utf8');
    assert.throws(() => parseTcbInfo(t.replace('"id":"TDX"', '"id":"SGX"')), /expected "TDX"/);
    assert.throws(() => parseQeIdentity(fixture('intel/qeidentityv2_apiv4.json').toString().replace('TD_QE', 'QE')), /expected "TD_QE"/);
    assert.throws(() => parseCollateral([{ name: 'notes.txt', bytes: Buffer.from('hello') }]), /collateral file notes.txt: not a TCB info/);
    assert.throws(() => parseTcbInfo('{"tcbInfo":{"id":"TDX"},"signature":"00"}'), /signature must be 128 hex/);
    // Two top-level members: the signed bytes are always those of the value that is used (the last, as JSON.parse).
    const twice = t.replace('{"tcbInfo":', '{"tcbInfo":{"id":"SGX"},"tcbInfo":');
    assert.equal(Buffer.from(parseTcbInfo(twice).raw).toString('utf8'), Buffer.from(parseTcbInfo(t).raw).toString('utf8'));
  });
});

describe('fuzzing the TDX parsers', () => {
  const seeds = {
    quote: tdQuote(),
    hcl: tdxHcl(),
    pck: pemDer(parseTdQuote(tdQuote()).pckChainPem[0]!),
    tcb: fixture('intel/tcbinfov3_00806f050000.json'),
    qe: fixture('intel/qeidentityv2_apiv4.json'),
  };
  const mutate = (seed: Uint8Array) =>
    fc.array(fc.tuple(fc.nat(seed.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((edits) => {
      const b = Buffer.from(seed);
      for (const [i, v] of edits) b[i] = v;
      return b;
    });
  const parsers: Record<keyof typeof seeds, (b: Uint8Array) => unknown> = {
    quote: parseTdQuote,
    hcl: parseTdxHclReport,
    pck: parsePckExtensions,
    tcb: parseTcbInfo,
    qe: parseQeIdentity,
  };
  for (const k of Object.keys(seeds) as (keyof typeof seeds)[]) {
    it(`${k}: mutated and truncated bytes throw only ParseError`, () => {
      fc.assert(
        fc.property(mutate(seeds[k]), fc.nat(seeds[k].length), (b, cut) => {
          onlyParseError(() => parsers[k](b));
          onlyParseError(() => parsers[k](b.subarray(0, cut)));
        }),
        { numRuns: 300 },
      );
    });
  }
  it('arbitrary bytes and collateral files throw only ParseError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 6000 }), (b) => {
        onlyParseError(() => parseTdQuote(b));
        onlyParseError(() => parseCollateral([{ name: 'x', bytes: b }]));
        onlyParseError(() => parsePckExtensions(b));
      }),
      { numRuns: 300 },
    );
  });
  it('a huge quote is refused before any work', () => {
    assert.throws(() => parseTdQuote(new Uint8Array(20 * 1024 * 1024)), /too large/);
  });
});

describe('cross-check of the verdict', () => {
  // @phala/dcap-qvl 0.3.9 compares all 16 tdxtcbcomponents; Intel's current QVL (TcbLevelCheck
  // isTdxTcbHigherOrEqual) skips components 0 and 1 when TEE_TCB_SVN[1] (the module major version) is
  // not 0, leaving them to tdxModuleIdentities. On the non-Azure quote (TEE_TCB_SVN 04 01 07) both
  // readings give the same level; on the Azure one (02 01 06) only Intel's finds one. We follow Intel.
  const col = () => {
    const c = Object.fromEntries(collateral().map((f) => [f.name, f.bytes]));
    const tcb = parseTcbInfo(c['tcbinfov3_00806f050000.json']!);
    const qe = parseQeIdentity(c['qeidentityv2_apiv4.json']!);
    const chain = Buffer.from(c['tcb_signing_cert.pem']!).toString('utf8') + fixture('intel/Intel_SGX_Provisioning_Certification_RootCA.pem').toString('utf8');
    return {
      pck_crl_issuer_chain: parseTdQuote(tdQuote()).pckChainPem.slice(1).join('\n'),
      root_ca_crl: hex(c['intel_root_ca_crl.der']!),
      pck_crl: hex(c['pck_platform_crl.der']!),
      tcb_info_issuer_chain: chain,
      tcb_info: Buffer.from(tcb.raw).toString('utf8'),
      tcb_info_signature: hex(tcb.signature),
      qe_identity_issuer_chain: chain,
      qe_identity: Buffer.from(qe.raw).toString('utf8'),
      qe_identity_signature: hex(qe.signature),
    };
  };
  const now = Date.parse('2025-03-01T00:00:00Z') / 1000;
  it('non-Azure quote: @phala/dcap-qvl and cvm-attest agree (OutOfDate, same advisories)', async () => {
    const theirs = phala.verify(intelQuote(), col(), now);
    assert.equal(theirs.status, 'OutOfDate');
    const { matchTdxTcb, converge } = await import('../../src/platform/tdx/tcb-status.js');
    const q = parseTdQuote(intelQuote());
    const m = matchTdxTcb(parseTcbInfo(fixture('intel/tcbinfov3_00806f050000.json')), parsePckExtensions(pemDer(q.pckChainPem[0]!)), q.body);
    assert.equal(converge(m.level!.tcbStatus, m.moduleLevel!.tcbStatus), 'OutOfDate');
    assert.deepEqual([...new Set([...m.level!.advisoryIds, ...m.moduleLevel!.advisoryIds])].sort(), [...theirs.advisory_ids].sort());
  });
  it("Azure quote: @phala/dcap-qvl finds no level (components 0-1 compared), Intel's rule finds OutOfDate", () => {
    assert.throws(() => phala.verify(tdQuote(), col(), now), /No matching TCB level/);
  });
});
