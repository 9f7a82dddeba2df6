// Fuzzing the issue-11 parsers of hostile bytes: the AK certificate reader, the collector's user-data
// reader, and the whole guest checks: a ParseError or a failing check, never another throw.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ParseError } from '../../src/base/errors.js';
import { akCertificateDer, checkAkCertificate } from '../../src/guest/ak-certificate.js';
import { reportUserData } from '../../src/collect/tpm/report-user-data.js';
import { checkReportUserData } from '../../src/guest/fresh-by.js';
import { parseRuntimeData } from '../../src/hcl/runtime-data.js';
import { fixture } from '../helpers/fixtures.js';

const txt = fixture('azure-vtpm/azure_ak_certificates.txt').toString('utf8');
const der = Buffer.from(akCertificateDer(Buffer.from(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(txt)![0])));
const hcl = fixture('azure-hcl/genoa/hcl-report.bin');
const mutate = (seed: Uint8Array): fc.Arbitrary<Uint8Array> =>
  fc.array(fc.tuple(fc.nat({ max: seed.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((edits) => {
    const b = Uint8Array.from(seed);
    for (const [i, v] of edits) b[i] = v;
    return b;
  });

describe('guest parsers under fuzzing', () => {
  it('akCertificateDer: ParseError only; checkAkCertificate: a result, never a throw', () => {
    const only = (b: Uint8Array): boolean => {
      try {
        akCertificateDer(b);
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
      }
      const r = checkAkCertificate({ certificate: b, bindingOk: true, now: new Date('2026-06-01T00:00:00Z'), cache: false });
      assert.ok(['pass', 'fail'].includes(r.check.status));
      return true;
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), only), { numRuns: 200 });
    fc.assert(fc.property(mutate(der), only), { numRuns: 200 });
    fc.assert(
      fc.property(fc.nat({ max: der.length }), (n) => only(der.subarray(0, n))),
      { numRuns: 100 },
    );
  });

  it('reportUserData and checkReportUserData never throw on mutated HCL reports and runtime data', () => {
    fc.assert(
      fc.property(mutate(hcl), (b) => {
        const u = reportUserData(b);
        assert.ok(u === undefined || typeof u === 'string');
        return true;
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.uint8Array({ minLength: 1, maxLength: 64 }), (s, n) => {
        const r = checkReportUserData(parseRuntimeData(Buffer.from(s)), n, true);
        assert.equal(typeof r.ok, 'boolean');
        return true;
      }),
      { numRuns: 300 },
    );
  });
});
