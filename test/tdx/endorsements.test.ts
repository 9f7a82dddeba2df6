// The endorsement memo (src/platform/tdx/endorsements.ts) remembers the PCK chain, CRL and collateral
// outcome for the time window in which it cannot change. Proof that it never changes a verdict: at
// every date of the real inputs (and 1 ms either side), and at random times over the years around
// them, a cached verification equals one with caching off, check for check, reason for reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyEvidenceSync } from '../../src/verify/verify-evidence.js';
import { parsePolicy } from '../../src/policy/policy.js';
import { parseCollateral } from '../../src/platform/tdx/collateral.js';
import { parseTdQuote } from '../../src/platform/tdx/quote.js';
import { parseCertificate } from '../../src/x509/certificate.js';
import type { VerificationResult } from '../../src/result/result.js';
import { collateral, tdQuote, tdxHcl, TDX_NOW } from './helpers.js';

const view = (r: VerificationResult): unknown => ({
  verdict: r.verdict,
  checks: r.checks.map((c) => `${c.id} ${c.status} ${c.reason}`),
  tdx: r.tdx,
  certificates: r.certificates,
  claims: r.claims,
});

/** Every date the memo's window is made of, from the real quote and collateral. */
function inputDates(): number[] {
  const col = parseCollateral(collateral());
  const chain = parseTdQuote(tdQuote()).pckChainDer.map((d) => parseCertificate(d));
  const dates = [
    ...chain.flatMap((c) => [c.notBefore, c.notAfter]),
    ...col.certificates.flatMap((c) => [c.notBefore, c.notAfter]),
    ...[...col.tcbInfos, ...col.qeIdentities].flatMap((d) => [d.issueDate, d.nextUpdate]),
    ...col.crls.flatMap((c) => (c.nextUpdate ? [c.thisUpdate, c.nextUpdate] : [c.thisUpdate])),
  ];
  return [...new Set(dates.map((d) => d.getTime()))].sort((a, b) => a - b);
}

for (const mode of ['warn', 'enforce'] as const) {
  test(`cached TDX verification equals uncached at every input date +-1 ms and at random times (collateral: ${mode})`, () => {
    const policy = parsePolicy({ collateral: mode });
    const opts = { evidence: tdxHcl(), tdQuote: tdQuote(), collateral: collateral(), policy };
    const dates = inputDates();
    assert.ok(dates.length >= 10, `the real inputs have ${dates.length} dates`);
    const times = dates.flatMap((t) => [t - 1, t, t + 1, t + 2]);
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const lo = dates[0]! - 86400e3 * 365;
    const hi = dates[dates.length - 1]! + 86400e3 * 365;
    for (let i = 0; i < 60; i++) times.push(Math.floor(lo + rnd() * (hi - lo)));
    // Visit the times out of order too, so an entry made at one time is probed from the other side.
    const order = [...times, ...[...times].reverse()];
    const verdicts = new Set<string>();
    for (const t of order) {
      const now = new Date(t);
      const cached = verifyEvidenceSync({ ...opts, now });
      const fresh = verifyEvidenceSync({ ...opts, now, cache: false });
      assert.deepEqual(view(cached), view(fresh), `at ${now.toISOString()}`);
      verdicts.add(`${cached.verdict} ${cached.checks.find((c) => c.id === 'collateral.freshness')?.status ?? '-'}`);
    }
    // The dates cross from valid to stale and expired: both verdicts were exercised, not one.
    assert.ok(verdicts.has('pass pass'), [...verdicts].join(', '));
    assert.ok(
      [...verdicts].some((v) => v.startsWith('fail')),
      [...verdicts].join(', '),
    );
  });
}

test('a remembered outcome is handed out as copies: changing one result does not change the next', () => {
  const opts = { evidence: tdxHcl(), tdQuote: tdQuote(), collateral: collateral(), now: TDX_NOW };
  const a = verifyEvidenceSync(opts);
  const chain = a.checks.find((c) => c.id === 'chain')!;
  (chain as { reason: string }).reason = 'changed';
  (a.tdx!.collateral as { what: string }[])[0]!.what = 'changed';
  const b = verifyEvidenceSync(opts);
  assert.match(b.checks.find((c) => c.id === 'chain')!.reason, /pinned Intel SGX Root CA, valid at 2025-03-01T00:00:00.000Z/);
  assert.match(b.tdx!.collateral[0]!.what, /^TCB info/);
  // The chain check names the time of each verification, not that of the remembered one.
  const later = verifyEvidenceSync({ ...opts, now: new Date('2025-03-02T00:00:00Z') });
  assert.match(later.checks.find((c) => c.id === 'chain')!.reason, /valid at 2025-03-02T00:00:00.000Z/);
});

test('the same collateral bytes in new buffers reuse the memo; one changed byte is parsed and judged anew', () => {
  const opts = { evidence: tdxHcl(), tdQuote: tdQuote(), now: TDX_NOW };
  assert.equal(verifyEvidenceSync({ ...opts, collateral: collateral() }).verdict, 'pass');
  const files = collateral();
  const tcb = files.find((f) => f.name.startsWith('tcbinfo'))!;
  const text = Buffer.from(tcb.bytes).toString('utf8');
  // Change one digit of the signed body (the last digit of the issue date's seconds): the signature no longer verifies.
  const i = text.indexOf('"issueDate":"') + '"issueDate":"2025-02-13T03:50:4'.length;
  const changed = Buffer.from(text.slice(0, i) + (text[i] === '1' ? '2' : '1') + text.slice(i + 1));
  const r = verifyEvidenceSync({ ...opts, collateral: files.map((f) => (f === tcb ? { ...f, bytes: changed } : f)) });
  assert.equal(r.verdict, 'fail');
  assert.match(r.checks.find((c) => c.id === 'collateral')!.reason, /not signed/);
});
