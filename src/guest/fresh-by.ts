// The freshness check (8): the evidence is fresh when the HCL report itself carries the verifier's
// nonce as its runtime data's `user-data` (written by the guest to NV 0x01400002, put there by the
// paravisor and bound into the hardware-signed report data) or when a vTPM quote over the nonce verifies
// (freshness.ts), or both: the check says which. Platform-independent: it looks only at the runtime
// data, whether that is bound to the signed report, and the quote.
import { bytesEqual, isAllZero, toHex } from '../base/bytes.js';
import type { HclEnvelope } from '../hcl/header.js';
import type { RuntimeData } from '../hcl/runtime-data.js';
import { checkFreshness, type FreshnessOutcome, type QuoteInput } from './freshness.js';

export type FreshBy = 'report' | 'quote' | 'report+quote';
export const USER_DATA_BYTES = 64;

export interface FreshByInput {
  readonly quote?: QuoteInput;
  /** The verifier's nonce for the report's user data (default: the quote's nonce). */
  readonly nonce?: Uint8Array;
  readonly hcl?: HclEnvelope;
  readonly bindingOk: boolean;
  readonly replayed: boolean;
}

export interface FreshByOutcome extends FreshnessOutcome {
  /** How freshness was shown (absent when it was not). */
  readonly freshBy?: FreshBy;
}

/** The nonce as the 64 user-data bytes the guest writes: zero-padded on the right. */
export function paddedNonce(nonce: Uint8Array): Uint8Array {
  const out = new Uint8Array(USER_DATA_BYTES);
  out.set(nonce.subarray(0, USER_DATA_BYTES));
  return out;
}

export interface ReportFreshness {
  readonly ok: boolean;
  readonly reason: string;
  /** The report carries no user data at all (absent or zero): it was made before any challenge, which is normal. */
  readonly predates?: boolean;
}

/** Does the runtime data's `user-data` equal the zero-padded nonce (and is it bound to the signed report)? */
export function checkReportUserData(rd: RuntimeData | undefined, nonce: Uint8Array, bindingOk: boolean): ReportFreshness {
  if (!rd) return { ok: false, reason: 'no HCL runtime data to carry the nonce' };
  const want = paddedNonce(nonce);
  if (isAllZero(want)) return { ok: false, reason: 'the nonce is all zeros: it would match a report whose user data was never written' };
  const u = rd.json?.['user-data'];
  if (typeof u !== 'string') return { ok: false, reason: 'the runtime data has no user-data', predates: true };
  if (!/^[0-9a-fA-F]{128}$/.test(u)) return { ok: false, reason: `the runtime data's user-data is not 64 bytes of hex` };
  const got = Buffer.from(u, 'hex');
  if (!bytesEqual(got, want)) {
    const zero = isAllZero(got);
    return {
      ok: false,
      predates: zero,
      reason: zero
        ? "the report's user-data is zero (the guest wrote no nonce to NV 0x01400002 before this report)"
        : `the report's user-data ${toHex(got).slice(0, 32)}... is not the nonce ${toHex(want).slice(0, 32)}...`,
    };
  }
  if (!bindingOk) return { ok: false, reason: "the report's user-data is the nonce, but the runtime data is not bound to the signed report" };
  return { ok: true, reason: "the signed report's runtime data carries the nonce as user-data" };
}

const base = { id: 'freshness', group: 'freshness' } as const;

export function checkFreshnessBy(i: FreshByInput): FreshByOutcome {
  const nonce = i.nonce ?? i.quote?.nonce;
  const report = nonce ? checkReportUserData(i.hcl?.runtimeData, nonce, i.bindingOk) : undefined;
  const quote = i.quote ? checkFreshness(i.quote, i.hcl, i.bindingOk, false) : undefined;
  if (!report && !quote) return checkFreshness(undefined, i.hcl, i.bindingOk, i.replayed);
  const quoteOk = quote?.check.status === 'pass';
  // A quote that was given and does not verify is never normal (forged, foreign or replayed): fail,
  // whatever the report says. A report without the nonce is normal (written before the nonce).
  if (quote && !quoteOk)
    return {
      check: {
        id: base.id,
        group: base.group,
        status: 'fail',
        reason: `${quote.check.reason}${report?.ok ? ' (the report does carry the nonce, but a bad quote is not accepted)' : ''}`,
      },
    };
  const freshBy: FreshBy | undefined = report?.ok && quoteOk ? 'report+quote' : report?.ok ? 'report' : quoteOk ? 'quote' : undefined;
  // No quote, and the report was made before any challenge (no user data): not fresh, which is normal
  // (policy requireFreshness decides, as without a nonce). User data that is something else fails.
  if (!freshBy)
    return {
      check: { id: base.id, group: base.group, status: report!.predates ? 'skip' : 'fail', reason: `not fresh: ${report!.reason}, and no quote was given` },
    };
  const parts = [
    report?.ok ? report.reason : undefined,
    quoteOk ? quote.check.reason : undefined,
    !report?.ok && report ? `not fresh by report: ${report.reason}` : undefined,
  ].filter(Boolean);
  const reason = `fresh by ${freshBy}: ${parts.join('; ')}`;
  const check = {
    id: base.id,
    group: base.group,
    status: i.replayed ? 'warn' : 'pass',
    reason: i.replayed ? `evidence replayed from a capture: ${reason} (fresh when captured, not now)` : reason,
  } as const;
  return { check, freshBy, ...(quote?.attestedPcrs ? { attestedPcrs: quote.attestedPcrs } : {}) };
}
