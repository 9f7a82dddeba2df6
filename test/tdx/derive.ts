// Derives TDX evidence whose runtime data is changed: the runtime-data JSON is rewritten, the HCL
// lengths updated and the TD report's REPORTDATA (in the HCL report) re-bound to the new JSON's hash;
// with `rebindQuote` the TD quote body's REPORTDATA is set to the same value, so the quote is again
// about this TD report, and its signature then fails (as it must): tests judge the guest checks apart.
import { parseTdQuote } from '../../src/platform/tdx/quote.js';
import { rebindRuntime } from '../verify/derive-report.js';

const TD_REPORTDATA = 0x20 + 128; // REPORTMACSTRUCT.REPORTDATA in the HCL report area

export interface DerivedTdx {
  readonly hcl: Buffer;
  readonly tdQuote: Buffer;
}

export function withTdxRuntime(hcl: Uint8Array, tdQuote: Uint8Array, mutate: (json: Record<string, unknown>) => void, rebindQuote = true): DerivedTdx {
  const { head, runtime, reportData } = rebindRuntime(hcl, mutate, TD_REPORTDATA);
  const q = Buffer.from(tdQuote);
  if (rebindQuote) {
    const old = Buffer.from(parseTdQuote(q).body.reportData);
    const at = q.indexOf(old);
    if (at < 0 || q.indexOf(old, at + 1) >= 0) throw new Error('the quote body REPORTDATA is not found exactly once');
    reportData.copy(q, at);
  }
  return { hcl: Buffer.concat([head, runtime]), tdQuote: q };
}

export const withTdxUserData = (hcl: Uint8Array, tdQuote: Uint8Array, userData: Uint8Array, rebindQuote = true): DerivedTdx =>
  withTdxRuntime(
    hcl,
    tdQuote,
    (j) => {
      j['user-data'] = Buffer.from(userData).toString('hex').toUpperCase();
    },
    rebindQuote,
  );

export const withTdxAkPub = (hcl: Uint8Array, tdQuote: Uint8Array, jwk: { n: string; e: string }): DerivedTdx =>
  withTdxRuntime(hcl, tdQuote, (j) => {
    const ak = (j.keys as Record<string, unknown>[]).find((k) => k.kid === 'HCLAkPub')!;
    ak.n = jwk.n;
    ak.e = jwk.e;
  });
