// TDX checks 4, 5 and 8 together: the PCK chain, the CRLs and the collateral. Their outcome depends on
// the quote's PCK chain, the collateral set, the policy's `collateral` mode and the time only, and a
// verifier sees the same platform with the same collateral for hours. So, when caching, the outcome is
// remembered per (chain, collateral set, mode) together with the time window in which it cannot
// change: between the nearest dates of those inputs (validity of every certificate, issue and next
// update of every collateral document and CRL) on either side of `now`. A verification inside that
// window reuses it; any other time computes it again. Only the two signatures that change with every
// quote (quote, QE report) are then left to check.
import type { CertStore } from '../../x509/cert-store.js';
import type { CheckResult, TdxDetails } from '../../result/result.js';
import type { TdxCollateral } from './collateral.js';
import type { TdQuote } from './quote.js';
import { checkCollateral, type CollateralOutcome } from './collateral-check.js';
import { checkTdxCrls, type CrlOutcome } from './crls.js';
import { chainPassReason, checkPckChain, type PckChainOutcome } from './pck-chain.js';
import { pinnedIntelRoot } from './ecdsa.js';

export interface Endorsements {
  readonly chain: PckChainOutcome;
  readonly collateral: CollateralOutcome;
  readonly crl: CrlOutcome;
  /** The collateral documents used, with their dates (the report's `tdx.collateral`). */
  readonly dates: TdxDetails['collateral'];
}

interface Remembered {
  readonly enforce: boolean;
  /** The outcome holds for times in [from, until) (ms since the epoch). */
  readonly from: number;
  readonly until: number;
  readonly value: Endorsements;
}

const MAX_PER_PAIR = 8;
/** Keyed by the objects the parsers' own memos return for identical bytes (a quote's PCK chain, a collateral set). */
const memo = new WeakMap<readonly Uint8Array[], WeakMap<TdxCollateral, Remembered[]>>();

function compute(quote: TdQuote, collateral: TdxCollateral, store: CertStore, now: Date, enforce: boolean, cache: boolean): Endorsements {
  const chain = checkPckChain(quote, store, now, cache);
  const col = checkCollateral(collateral, chain.extensions?.fmspc, chain.extensions?.pceId, store, now, enforce, cache);
  const crl = checkTdxCrls(collateral.crls, chain.pck, chain.pckCa, col.tcbSigning, store, now, enforce, cache);
  const dates: TdxDetails['collateral'] = [
    ...(col.tcbInfo
      ? [
          {
            what: `TCB info (FMSPC ${col.tcbInfo.fmspc}, evaluation data ${col.tcbInfo.tcbEvaluationDataNumber})`,
            issueDate: col.tcbInfo.issueDate.toISOString(),
            nextUpdate: col.tcbInfo.nextUpdate.toISOString(),
          },
        ]
      : []),
    ...(col.qeIdentity
      ? [{ what: 'TD QE identity', issueDate: col.qeIdentity.issueDate.toISOString(), nextUpdate: col.qeIdentity.nextUpdate.toISOString() }]
      : []),
    ...crl.dates.map((d) => ({ what: `CRL of ${d.issuer}`, issueDate: d.thisUpdate, ...(d.nextUpdate ? { nextUpdate: d.nextUpdate } : {}) })),
  ];
  return { chain, collateral: col, crl, dates };
}

/**
 * The window around `now` in which no comparison of `now` with any date of the inputs changes: a
 * comparison with date d (<, <=, > or >=) can change only at d or d + 1 ms.
 */
function window(quote: TdQuote, collateral: TdxCollateral, store: CertStore, now: number): { from: number; until: number } {
  let from = -Infinity;
  let until = Infinity;
  const at = (d: Date | undefined): void => {
    if (!d) return;
    for (const t of [d.getTime(), d.getTime() + 1]) {
      if (t <= now) from = Math.max(from, t);
      else until = Math.min(until, t);
    }
  };
  const root = pinnedIntelRoot();
  for (const c of [root, ...quote.pckChainDer.map((der) => store.parse(der)), ...collateral.certificates]) {
    at(c.notBefore);
    at(c.notAfter);
  }
  for (const d of [...collateral.tcbInfos, ...collateral.qeIdentities]) {
    at(d.issueDate);
    at(d.nextUpdate);
  }
  for (const c of collateral.crls) {
    at(c.thisUpdate);
    at(c.nextUpdate);
  }
  return { from, until };
}

/** A fresh copy of a remembered outcome, with the time it was verified at in its reasons. */
function reuse(e: Endorsements, nowIso: string): Endorsements {
  const copy = (c: CheckResult): CheckResult => ({ ...c });
  const chainCheck =
    e.chain.check.status === 'pass' && e.chain.extensions && e.chain.pckCa
      ? { ...e.chain.check, reason: chainPassReason(e.chain.extensions, e.chain.pckCa, nowIso) }
      : copy(e.chain.check);
  return {
    chain: { ...e.chain, check: chainCheck, certificates: [...e.chain.certificates] },
    collateral: { ...e.collateral, checks: e.collateral.checks.map(copy), certificates: [...e.collateral.certificates] },
    crl: { check: copy(e.crl.check), dates: [...e.crl.dates] },
    dates: e.dates.map((d) => ({ ...d })),
  };
}

/** `nowIso` is now.toISOString() when the caller has it already (Date#toISOString costs microseconds). */
export function checkEndorsements(
  quote: TdQuote,
  collateral: TdxCollateral,
  store: CertStore,
  now: Date,
  enforce: boolean,
  cache: boolean,
  nowIso: string = now.toISOString(),
): Endorsements {
  if (!cache) return compute(quote, collateral, store, now, enforce, cache);
  const t = now.getTime();
  let byCollateral = memo.get(quote.pckChainDer);
  const list = byCollateral?.get(collateral);
  const hit = list?.find((r) => r.enforce === enforce && r.from <= t && t < r.until);
  if (hit) return reuse(hit.value, nowIso);
  const value = compute(quote, collateral, store, now, enforce, cache);
  let w: { from: number; until: number };
  try {
    w = window(quote, collateral, store, t);
  } catch {
    return value; // a chain certificate that does not parse: the chain check already failed; nothing to remember
  }
  if (!byCollateral) {
    byCollateral = new WeakMap();
    memo.set(quote.pckChainDer, byCollateral);
  }
  const entries = byCollateral.get(collateral) ?? [];
  if (entries.length >= MAX_PER_PAIR) entries.shift();
  entries.push({ enforce, ...w, value });
  byCollateral.set(collateral, entries);
  return reuse(value, nowIso);
}
