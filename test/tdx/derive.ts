// Derives TDX evidence whose runtime data is changed: the runtime-data JSON is rewritten, the HCL
// lengths updated and the TD report's REPORTDATA (in the HCL report) re-bound to the new JSON's hash;
// with `rebindQuote` the TD quote body's REPORTDATA is set to the same value, so the quote is again
// about this TD report, and its signature then fails (as it must): tests judge the guest checks apart.
import { createHash } from 'node:crypto';
import { parseTdQuote } from '../../src/platform/tdx/quote.js';

const REQ = 0x20 + 1184;
const TD_REPORTDATA = 0x20 + 128; // REPORTMACSTRUCT.REPORTDATA in the HCL report area

export interface DerivedTdx {
  readonly hcl: Buffer;
  readonly tdQuote: Buffer;
}

export function withTdxRuntime(hcl: Uint8Array, tdQuote: Uint8Array, mutate: (json: Record<string, unknown>) => void, rebindQuote = true): DerivedTdx {
  const b = Buffer.from(hcl);
  const varSize = b.readUInt32LE(REQ + 16);
  const json = JSON.parse(b.subarray(REQ + 20, REQ + 20 + varSize).toString('utf8')) as Record<string, unknown>;
  mutate(json);
  const rd = Buffer.from(JSON.stringify(json));
  const head = Buffer.from(b.subarray(0, REQ + 20));
  head.writeUInt32LE(REQ + 20 + rd.length, 8); // report_size
  head.writeUInt32LE(20 + rd.length, REQ); // data_size
  head.writeUInt32LE(rd.length, REQ + 16); // variable_data_size
  const reportData = Buffer.alloc(64);
  createHash('sha256').update(rd).digest().copy(reportData);
  reportData.copy(head, TD_REPORTDATA);
  const q = Buffer.from(tdQuote);
  if (rebindQuote) {
    const old = Buffer.from(parseTdQuote(q).body.reportData);
    const at = q.indexOf(old);
    if (at < 0 || q.indexOf(old, at + 1) >= 0) throw new Error('the quote body REPORTDATA is not found exactly once');
    reportData.copy(q, at);
  }
  return { hcl: Buffer.concat([head, rd]), tdQuote: q };
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
