// Tamper matrix on real reports: one bit flipped in every byte of the SNP report (each field, the
// signature, the unused bytes of R/S and the reserved area after it), HCL header fields, runtime data
// changed, sizes and lengths lied about. Never a pass; always the right check or a clean ParseError.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { verifyEvidenceSync, ParseError, type VerificationResult } from '../../src/index.js';
import { check, failed, fixture, NOW } from './fixtures.js';

type Outcome = { error: ParseError } | { result: VerificationResult };

function run(evidence: Uint8Array, vcek: Uint8Array, extra: object = {}): Outcome {
  try {
    return { result: verifyEvidenceSync({ evidence, vcek, now: NOW, ...extra }) };
  } catch (e) {
    assert.ok(e instanceof ParseError, `unexpected ${String(e)}`);
    return { error: e };
  }
}

/** SNP report fields: [offset, size, name]. */
const FIELDS: [number, number, string][] = [
  [0x000, 4, 'VERSION'],
  [0x004, 4, 'GUEST_SVN'],
  [0x008, 8, 'POLICY'],
  [0x010, 16, 'FAMILY_ID'],
  [0x020, 16, 'IMAGE_ID'],
  [0x030, 4, 'VMPL'],
  [0x034, 4, 'SIGNATURE_ALGO'],
  [0x038, 8, 'CURRENT_TCB'],
  [0x040, 8, 'PLATFORM_INFO'],
  [0x048, 4, 'KEY_INFO'],
  [0x04c, 4, 'reserved'],
  [0x050, 64, 'REPORT_DATA'],
  [0x090, 48, 'MEASUREMENT'],
  [0x0c0, 32, 'HOST_DATA'],
  [0x0e0, 48, 'ID_KEY_DIGEST'],
  [0x110, 48, 'AUTHOR_KEY_DIGEST'],
  [0x140, 32, 'REPORT_ID'],
  [0x160, 32, 'REPORT_ID_MA'],
  [0x180, 8, 'REPORTED_TCB'],
  [0x188, 24, 'CPUID/reserved'],
  [0x1a0, 64, 'CHIP_ID'],
  [0x1e0, 8, 'COMMITTED_TCB'],
  [0x1e8, 4, 'CURRENT version'],
  [0x1ec, 4, 'COMMITTED version'],
  [0x1f0, 8, 'LAUNCH_TCB'],
  [0x1f8, 168, 'reserved (v<5)'],
  [0x2a0, 48, 'SIGNATURE.R'],
  [0x2d0, 24, 'SIGNATURE.R unused'],
  [0x2e8, 48, 'SIGNATURE.S'],
  [0x318, 24, 'SIGNATURE.S unused'],
  [0x330, 368, 'SIGNATURE reserved'],
];

function expectRejected(o: Outcome, off: number, what: string): void {
  if ('error' in o) return;
  const r = o.result;
  assert.equal(r.verdict, 'fail', `${what}: passed`);
  const f = failed(r);
  if (off < 0x2a0) assert.ok(f.includes('signature'), `${what}: signature did not fail (${f.join()})`);
  else if ((off >= 0x2a0 && off < 0x2d0) || (off >= 0x2e8 && off < 0x318)) assert.ok(f.includes('signature'), `${what}: ${f.join()}`);
  else assert.ok(f.includes('structure'), `${what}: structure did not fail (${f.join()})`);
}

const REPORTS: [string, string, number][] = [
  ['snp/milan-v3-report.bin', 'snp/milan-v3-vcek.pem', 0],
  ['snp/aci-milan-v2-report.bin', 'azure-hcl/thim-response.json', 0],
  ['azure-hcl/genoa/hcl-report.bin', 'azure-hcl/genoa/vcek.pem', 0x20],
];

describe('tamper matrix: SNP report', () => {
  for (const [file, vcekFile, base] of REPORTS) {
    const orig = fixture(file);
    const vcek = fixture(vcekFile);
    it(`${file}: untouched passes (control)`, () => {
      const o = run(orig, vcek);
      assert.ok('result' in o && o.result.verdict === 'pass');
    });
    it(`${file}: one bit flipped in every byte of the 1184-byte report is rejected`, () => {
      for (let i = 0; i < 1184; i++) {
        const b = Uint8Array.from(orig);
        b[base + i]! ^= 1 << (i % 8);
        const field = FIELDS.findLast(([o]) => o <= i)!;
        expectRejected(run(b, vcek), i, `byte 0x${i.toString(16)} (${field[2]})`);
      }
    });
    it(`${file}: each field names the right check`, () => {
      const flip = (off: number, bit = 0): Outcome => {
        const b = Uint8Array.from(orig);
        b[base + off]! ^= 1 << bit;
        return run(b, vcek);
      };
      const fails = (o: Outcome): string[] => ('result' in o ? failed(o.result) : ['ParseError']);
      // Version 2<->3 still parses; 0 or 6 and beyond are refused.
      assert.ok(fails(flip(0x000, 2)).includes('ParseError'));
      assert.ok(fails(flip(0x034)).includes('structure'), 'SIGNATURE_ALGO');
      assert.ok(fails(flip(0x00a, 1)).includes('structure'), 'POLICY bit 17');
      assert.ok(fails(flip(0x04c)).includes('structure'), 'reserved 0x4c');
      assert.ok(fails(flip(0x2d0)).includes('structure'), 'R unused');
      assert.ok(fails(flip(0x318)).includes('structure'), 'S unused');
      assert.ok(fails(flip(0x400)).includes('structure'), 'signature reserved');
      // Debug bit flipped on: the signature fails and so does the policy.
      const dbg = fails(flip(0x00a, 3));
      assert.ok(dbg.includes('signature') && dbg.includes('policy.debug'), dbg.join());
      // CHIP_ID flipped: signature and chip id.
      const chip = fails(flip(0x1a0));
      assert.ok(chip.includes('signature') && chip.includes('chip-id'), chip.join());
      // REPORTED_TCB flipped: signature and the VCEK TCB comparison.
      const tcb = fails(flip(0x180));
      assert.ok(tcb.includes('signature') && tcb.includes('tcb'), tcb.join());
      if (base) {
        // REPORT_DATA in an HCL report: signature and runtime-data binding.
        const rd = fails(flip(0x050));
        assert.ok(rd.includes('signature') && rd.includes('runtime-data'), rd.join());
      }
    });
  }
});

describe('tamper matrix: HCL report', () => {
  const dir = 'azure-hcl/milan-v3-a';
  const orig = fixture(`${dir}/hcl-report.bin`);
  const vcek = fixture(`${dir}/vcek.pem`);
  const quote = {
    message: fixture(`${dir}/quote.msg`),
    signature: fixture(`${dir}/quote.sig`),
    nonce: Buffer.from('challenge'),
    pcrs: JSON.parse(fixture(`${dir}/pcrs.json`).toString()) as string[],
  };
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const varSize = dv(orig).getUint32(0x4d0, true);
  const end = 0x4d4 + varSize;

  it('control: passes with its quote', () => {
    const o = run(orig, vcek, { quote });
    assert.ok('result' in o && o.result.verdict === 'pass');
  });

  it('every bit of every header field (0x00-0x1f, 0x4c0-0x4d3) is rejected', () => {
    for (const [start, stop] of [
      [0x00, 0x20],
      [0x4c0, 0x4d4],
    ] as const) {
      for (let i = start; i < stop; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const b = Uint8Array.from(orig);
          b[i]! ^= 1 << bit;
          const o = run(b, vcek, { quote });
          if ('error' in o) continue;
          // Only the hash type can change to another valid value (SHA-256 -> SHA-512): the binding fails.
          assert.ok(i >= 0x4cc && i < 0x4d0, `byte 0x${i.toString(16)} bit ${bit} was accepted`);
          assert.deepEqual(failed(o.result), ['freshness', 'runtime-data']);
        }
      }
    }
  });

  it('one bit flipped in each runtime-data byte: runtime-data fails (and freshness, whose AK is no longer bound)', () => {
    for (let i = 0x4d4; i < end; i += 7) {
      const b = Uint8Array.from(orig);
      b[i]! ^= 0x01;
      const o = run(b, vcek, { quote });
      assert.ok('result' in o);
      assert.deepEqual(failed(o.result), ['freshness', 'runtime-data'], `byte 0x${i.toString(16)}`);
    }
  });

  it('runtime data swapped for another (lengths made consistent): runtime-data fails, no x-ms-runtime claim', () => {
    const other = fixture('azure-hcl/runtime-data-sample.json');
    const b = new Uint8Array(0x4d4 + other.length);
    b.set(orig.subarray(0, 0x4d4));
    b.set(other, 0x4d4);
    dv(b).setUint32(0x4d0, other.length, true);
    dv(b).setUint32(0x4c0, 20 + other.length, true);
    dv(b).setUint32(0x08, 0x4c0 + 20 + other.length, true);
    const o = run(b, vcek);
    assert.ok('result' in o);
    assert.deepEqual(failed(o.result), ['runtime-data']);
    assert.equal(o.result.claims['x-ms-runtime'], undefined);
  });

  it('lengths lied about: inconsistent sizes are ParseErrors; consistent lies fail the binding', () => {
    for (const [off, delta] of [
      [0x08, 1],
      [0x08, -1],
      [0x4c0, 1],
      [0x4c0, -1],
      [0x4d0, 1],
      [0x4d0, -1],
      [0x08, 0x10000],
      [0x4d0, 0x7fffffff],
    ] as const) {
      const b = Uint8Array.from(orig);
      dv(b).setUint32(off, (dv(b).getUint32(off, true) + delta) >>> 0, true);
      assert.ok('error' in run(b, vcek), `offset 0x${off.toString(16)} ${delta}`);
    }
    for (const delta of [1, -1, -100]) {
      const b = Uint8Array.from(orig);
      for (const off of [0x08, 0x4c0, 0x4d0]) dv(b).setUint32(off, dv(b).getUint32(off, true) + delta, true);
      const o = run(b, vcek);
      assert.ok('result' in o, `delta ${delta}`);
      assert.ok(failed(o.result).includes('runtime-data'));
      assert.equal(o.result.verdict, 'fail');
    }
  });

  it('trailing NV padding is ignored (0x00 or 0xFF, any length); truncation is a ParseError', () => {
    for (const fill of [0x00, 0xff]) {
      const b = new Uint8Array(end + 300).fill(fill);
      b.set(orig.subarray(0, end));
      const o = run(b, vcek);
      assert.ok('result' in o && o.result.verdict === 'pass');
    }
    const exact = orig.subarray(0, end);
    assert.ok('result' in run(exact, vcek));
    for (const n of [end - 1, 0x4d4, 0x4c0 + 4, 0x20, 4, 0]) assert.ok('error' in run(orig.subarray(0, n), vcek), `truncated to ${n}`);
  });

  it('a bare report of the wrong size is a ParseError', () => {
    const r = fixture('snp/milan-v3-report.bin');
    const vc = fixture('snp/milan-v3-vcek.pem');
    assert.ok('error' in run(r.subarray(0, 1183), vc));
    assert.ok('error' in run(Buffer.concat([r, Buffer.from([0])]), vc));
  });

  it('a TDX HCL report is refused with a clear message', () => {
    const b = Uint8Array.from(orig);
    dv(b).setUint32(0x4c8, 4, true);
    const o = run(b, vcek);
    assert.ok('error' in o);
    assert.match(o.error.message, /TDX/);
  });

  it('the hex text of a report verifies like the bytes', () => {
    const r = fixture('snp/milan-v3-report.bin');
    const hex = Buffer.from(r.toString('hex').replace(/(.{64})/g, '$1\n'));
    const o = run(hex, fixture('snp/milan-v3-vcek.pem'));
    assert.ok('result' in o && o.result.verdict === 'pass');
    assert.equal(check(o.result, 'signature').status, 'pass');
  });
});
