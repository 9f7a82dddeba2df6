// Intel's signed JSON collateral ({"tcbInfo":{...},"signature":"hex"} and {"enclaveIdentity":...}):
// the signature covers the exact bytes of the member's value as served, so the value's raw text is
// cut out of the document here, never re-serialised.
import { isUtf8 } from 'node:buffer';
import { ParseError, type ErrorCode } from '../../base/errors.js';
import { TCB_STATUSES, type TcbStatus } from '../../result/tdx-tcb-status.js';

/** Intel's are a few KiB. */
export const MAX_COLLATERAL_JSON = 1024 * 1024;

export interface SignedJson {
  /** The parsed member value. */
  readonly value: unknown;
  /** Its exact UTF-8 bytes in the document. */
  readonly raw: Uint8Array;
  /** The signature: 64 bytes r || s. */
  readonly signature: Uint8Array;
}

const bad = (code: ErrorCode, what: string, msg: string): never => {
  throw new ParseError(code, `${what}: ${msg}`);
};

/** Spans [start, end) of each top-level member value of a JSON object text (already known to be valid JSON). */
function memberSpans(text: string): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  };
  const skipString = (): void => {
    i++; // opening quote
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
  };
  const skipValue = (): void => {
    const c = text[i];
    if (c === '"') return skipString();
    if (c === '{' || c === '[') {
      let depth = 0;
      do {
        const d = text[i];
        if (d === '"') {
          skipString();
          continue;
        }
        if (d === '{' || d === '[') depth++;
        else if (d === '}' || d === ']') depth--;
        i++;
      } while (depth > 0 && i < text.length);
      return;
    }
    while (i < text.length && !',}] \t\r\n'.includes(text[i]!)) i++;
  };
  ws();
  i++; // {
  for (;;) {
    ws();
    if (text[i] !== '"') break;
    const ks = i;
    skipString();
    const key = JSON.parse(text.slice(ks, i)) as string;
    ws();
    i++; // :
    ws();
    const vs = i;
    skipValue();
    out.set(key, [vs, i]);
    ws();
    if (text[i] === ',') i++;
    else break;
  }
  return out;
}

/** Parses `{"<member>": {...}, "signature": "<128 hex>"}` keeping the member's raw bytes. */
export function parseSignedJson(input: Uint8Array | string, member: string, code: ErrorCode, what: string): SignedJson {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) bad(code, what, 'must be bytes or text');
  if (input.length > MAX_COLLATERAL_JSON) bad(code, what, `too large (${input.length} bytes)`);
  if (typeof input !== 'string' && !isUtf8(input)) bad(code, what, 'not UTF-8');
  const text = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    bad(code, what, 'not JSON');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) bad(code, what, 'not a JSON object');
  const o = doc as Record<string, unknown>;
  if (o[member] === null || typeof o[member] !== 'object' || Array.isArray(o[member])) bad(code, what, `no "${member}" object`);
  const sig = o.signature;
  if (typeof sig !== 'string' || !/^[0-9a-fA-F]{128}$/.test(sig)) bad(code, what, 'signature must be 128 hex digits (ECDSA P-256 r || s)');
  const span = memberSpans(text).get(member);
  if (!span) bad(code, what, `cannot locate "${member}" in the text`);
  const raw = new Uint8Array(Buffer.from(text.slice(span![0], span![1]), 'utf8'));
  // The cut-out text must be the same value (guards the scanner): duplicate keys or odd layout fail here.
  try {
    if (JSON.stringify(JSON.parse(Buffer.from(raw).toString('utf8'))) !== JSON.stringify(o[member]))
      bad(code, what, `"${member}" is ambiguous (duplicate keys?)`);
  } catch (e) {
    if (e instanceof ParseError) throw e;
    bad(code, what, `cannot locate "${member}" in the text`);
  }
  return { value: o[member], raw, signature: new Uint8Array(Buffer.from(sig as string, 'hex')) };
}

// Field readers shared by the TCB info and QE identity parsers.
export class Fields {
  constructor(
    readonly code: ErrorCode,
    readonly what: string,
  ) {}
  fail(msg: string): never {
    throw new ParseError(this.code, `${this.what}: ${msg}`);
  }
  obj(v: unknown, path: string): Record<string, unknown> {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(`${path} must be an object`);
    return v as Record<string, unknown>;
  }
  arr(v: unknown, path: string, max = 1024): unknown[] {
    if (!Array.isArray(v) || v.length > max) this.fail(`${path} must be an array (at most ${max})`);
    return v as unknown[];
  }
  uint(v: unknown, path: string, max = 0xffffffff): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) this.fail(`${path} must be an integer 0..${max}`);
    return v;
  }
  str(v: unknown, path: string, max = 256): string {
    if (typeof v !== 'string' || v.length > max) this.fail(`${path} must be a string`);
    return v;
  }
  hex(v: unknown, path: string, bytes: number): Uint8Array {
    if (typeof v !== 'string' || v.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(v)) this.fail(`${path} must be ${bytes * 2} hex digits`);
    return new Uint8Array(Buffer.from(v, 'hex'));
  }
  date(v: unknown, path: string): Date {
    const s = this.str(v, path, 64);
    const d = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(s) ? new Date(s) : new Date(NaN);
    if (Number.isNaN(d.getTime())) this.fail(`${path} must be an ISO 8601 UTC time`);
    return d;
  }
}

export { TCB_STATUSES, type TcbStatus } from '../../result/tdx-tcb-status.js';

export function tcbStatus(f: Fields, v: unknown, path: string): TcbStatus {
  if (!(TCB_STATUSES as readonly unknown[]).includes(v)) f.fail(`${path} must be one of ${TCB_STATUSES.join(', ')}`);
  return v as TcbStatus;
}

export function advisoryIds(f: Fields, v: unknown, path: string): string[] {
  if (v === undefined) return [];
  return f.arr(v, path, 256).map((x, i) => {
    const s = f.str(x, `${path}[${i}]`, 64);
    if (!/^[A-Za-z0-9._-]+$/.test(s)) f.fail(`${path}[${i}] is not an advisory id`);
    return s;
  });
}
