// Property-based tests of every parser: arbitrary or mutated bytes never throw anything but ParseError,
// never hang, and a 20 MB input is refused quickly.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ParseError,
  parseEvidence,
  parseSnpReport,
  parseHclReport,
  parseCertificate,
  parseCertificateBundle,
  parseCrl,
  parseTpmsAttest,
  parseRuntimeData,
  parsePolicy,
  verifyEvidence,
  verifyEvidenceSync,
} from '../../src/index.js';
import { readTlv } from '../../src/x509/der.js';
import { fixture, NOW } from '../verify/fixtures.js';
import { onlyParseError } from '../helpers/parse-error.js';

const PEM_DER = (p: string): Uint8Array => {
  const t = fixture(p).toString();
  return Uint8Array.from(
    Buffer.from(
      t
        .replace(/-----[A-Z0-9 ]+-----/g, '')
        .split('-----')[0]!
        .replace(/\s+/g, ''),
      'base64',
    ),
  );
};

const SEEDS = {
  hcl: fixture('azure-hcl/genoa/hcl-report.bin'),
  snp: fixture('snp/milan-v3-report.bin'),
  vcekDer: fixture('azure-hcl/milan-v3-b/vcek.der'),
  vcekPem: fixture('azure-hcl/genoa/vcek.pem'),
  thim: fixture('azure-hcl/thim-response.json'),
  crl: PEM_DER('amd/crl_genoa.pem'),
  quote: fixture('azure-hcl/milan-v3-a/quote.msg'),
  hex: fixture('snp/milan-v2-report.hex'),
  quoteSig: fixture('azure-hcl/milan-v3-a/quote.sig'),
};

/** A seed with random bytes overwritten, a random truncation, or random bytes appended. */
function mutated(seed: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.array(fc.tuple(fc.nat({ max: seed.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((edits) => {
      const b = Uint8Array.from(seed);
      for (const [i, v] of edits) b[i] = v;
      return b;
    }),
    fc.nat({ max: seed.length }).map((n) => seed.slice(0, n)),
    fc.uint8Array({ maxLength: 64 }).map((tail) => Uint8Array.from([...seed, ...tail])),
  );
}

const PARSERS: [string, (b: Uint8Array) => unknown, Uint8Array][] = [
  ['parseEvidence', parseEvidence, SEEDS.hcl],
  ['parseEvidence (snp)', parseEvidence, SEEDS.snp],
  ['parseEvidence (hex text)', parseEvidence, SEEDS.hex],
  ['parseSnpReport', parseSnpReport, SEEDS.snp],
  ['parseHclReport', (b) => parseHclReport(b), SEEDS.hcl],
  ['parseCertificate', parseCertificate, SEEDS.vcekDer],
  ['parseCertificateBundle (DER)', (b) => parseCertificateBundle(b), SEEDS.vcekDer],
  ['parseCertificateBundle (PEM)', (b) => parseCertificateBundle(b), SEEDS.vcekPem],
  ['parseCertificateBundle (THIM)', (b) => parseCertificateBundle(b), SEEDS.thim],
  ['parseCrl', parseCrl, SEEDS.crl],
  ['parseTpmsAttest', parseTpmsAttest, SEEDS.quote],
  ['readTlv', (b) => readTlv(b, 0), SEEDS.vcekDer],
];

describe('parsers under arbitrary and mutated input', () => {
  for (const [name, parse, seed] of PARSERS) {
    it(`${name}: arbitrary bytes -> result or ParseError`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 4096 }), (b) => onlyParseError(() => parse(b))),
        { numRuns: 300 },
      );
    });
    it(`${name}: mutated real input -> result or ParseError`, () => {
      fc.assert(
        fc.property(mutated(seed), (b) => onlyParseError(() => parse(b))),
        { numRuns: 300 },
      );
    });
    it(`${name}: a 20 MB input is refused quickly`, () => {
      const big = new Uint8Array(20 * 1024 * 1024);
      big.set(seed.subarray(0, Math.min(seed.length, big.length)));
      const t0 = performance.now();
      if (name === 'readTlv') onlyParseError(() => parse(big));
      else assert.throws(() => parse(big), ParseError);
      assert.ok(performance.now() - t0 < 2000, 'took more than 2 s');
    });
  }

  it('parseRuntimeData never throws: invalid JSON is reported, not thrown', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (b) => {
        const r = parseRuntimeData(b);
        assert.ok(r.json !== undefined || typeof r.error === 'string');
      }),
      { numRuns: 300 },
    );
  });

  it('parsePolicy: any JSON value -> a Policy or ParseError', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (j) => onlyParseError(() => parsePolicy(j))),
      { numRuns: 500 },
    );
    const keys = fc.constantFrom(
      'allowDebug',
      'maxVmpl',
      'minimumTcb',
      'allowedMeasurements',
      'crl',
      'allowedProducts',
      'minimumFirmwareVersion',
      'minimumGuestSvn',
      'typo',
    );
    fc.assert(
      fc.property(fc.dictionary(keys, fc.jsonValue()), (j) => onlyParseError(() => parsePolicy(j))),
      { numRuns: 500 },
    );
  });

  it('verifyEvidence on mutated evidence and certificates -> a result or ParseError', () => {
    const vcek = fixture('azure-hcl/genoa/vcek.pem');
    fc.assert(
      fc.property(mutated(SEEDS.hcl), (b) => onlyParseError(() => verifyEvidenceSync({ evidence: b, vcek, now: NOW }))),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(mutated(SEEDS.vcekDer), (v) =>
        onlyParseError(() => {
          const r = verifyEvidenceSync({ evidence: fixture('azure-hcl/milan-v3-b/hcl-report.bin'), vcek: v, now: NOW });
          // A mutated VCEK can only pass if the mutation left the DER-equivalent certificate intact.
          if (r.verdict === 'pass') assert.equal(Buffer.compare(Buffer.from(v), SEEDS.vcekDer), 0);
        }),
      ),
      { numRuns: 200 },
    );
  });

  it('verifyEvidence with a mutated quote message or signature -> freshness never passes', () => {
    const dir = 'azure-hcl/milan-v3-a';
    const base = { evidence: fixture(`${dir}/hcl-report.bin`), vcek: fixture(`${dir}/vcek.pem`), now: NOW };
    const nonce = Buffer.from(fixture(`${dir}/nonce.hex`).toString().trim(), 'hex');
    const pcrs = JSON.parse(fixture(`${dir}/pcrs.json`).toString()) as string[];
    const freshness = (message: Uint8Array, signature: Uint8Array) =>
      verifyEvidenceSync({ ...base, quote: { message, signature, nonce, pcrs } }).checks.find((c) => c.id === 'freshness')!.status;
    assert.equal(freshness(SEEDS.quote, SEEDS.quoteSig), 'pass');
    const changed = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) !== 0;
    fc.assert(
      fc.property(
        mutated(SEEDS.quote).filter((m) => changed(m, SEEDS.quote)),
        (m) => onlyParseError(() => assert.equal(freshness(m, SEEDS.quoteSig), 'fail')),
      ),
      { numRuns: 150 },
    );
    fc.assert(
      fc.property(
        mutated(SEEDS.quoteSig).filter((g) => changed(g, SEEDS.quoteSig)),
        (g) => onlyParseError(() => assert.equal(freshness(SEEDS.quote, g), 'fail')),
      ),
      { numRuns: 150 },
    );
  });

  it('pathological text (thousands of unterminated PEM headers, deep DER nesting) is refused quickly', () => {
    const t0 = performance.now();
    assert.throws(() => parseCertificateBundle('-----BEGIN CERTIFICATE-----AAAA'.repeat(8000)), ParseError);
    assert.throws(() => parseCrl('-----BEGIN X509 CRL-----AAAA'.repeat(8000)), ParseError);
    const nested = new Uint8Array(16000);
    for (let i = 0; i < nested.length; i += 2) {
      nested[i] = 0x30;
      nested[i + 1] = 0x80;
    }
    assert.throws(() => parseCertificate(nested), ParseError);
    assert.ok(performance.now() - t0 < 2000);
  });

  it('verifyEvidence with arbitrary option values -> a result or ParseError', async () => {
    const anything = fc.oneof(fc.anything(), fc.uint8Array({ maxLength: 64 }), fc.constant(undefined));
    const policy = fc.oneof(
      fc.constant(undefined),
      fc.anything(),
      fc.dictionary(fc.string(), fc.jsonValue()).map((j) => {
        try {
          return parsePolicy(j);
        } catch {
          return undefined;
        }
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        anything,
        anything,
        anything,
        fc.option(fc.record({ message: anything, signature: anything, nonce: anything, pcrs: anything })),
        policy,
        fc.oneof(fc.constant(undefined), fc.anything(), fc.date()),
        async (vcek, chain, crl, quote, pol, now) => {
          const o = { evidence: SEEDS.hcl, vcek, chain, crl, quote: quote ?? undefined, policy: pol, now: now ?? NOW } as unknown as Parameters<
            typeof verifyEvidenceSync
          >[0];
          onlyParseError(() => verifyEvidenceSync(o));
          try {
            await verifyEvidence(o);
          } catch (e) {
            assert.ok(e instanceof ParseError, String(e));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('verifyEvidence with a 20 MB evidence or VCEK is refused quickly', () => {
    const big = new Uint8Array(20 * 1024 * 1024);
    const t0 = performance.now();
    assert.throws(() => verifyEvidenceSync({ evidence: big }), ParseError);
    assert.throws(() => verifyEvidenceSync({ evidence: SEEDS.snp, vcek: big }), ParseError);
    assert.throws(() => verifyEvidenceSync({ evidence: SEEDS.snp, vcek: fixture('snp/milan-v3-vcek.pem'), crl: big }), ParseError);
    assert.ok(performance.now() - t0 < 2000);
  });
});
