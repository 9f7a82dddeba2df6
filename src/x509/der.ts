// A minimal, bounds-checked DER reader: enough of X.509 and CRLs to read AMD's certificates without a
// heavy ASN.1 library on the start-up path. Single-byte tags and definite lengths only (DER).
import { ParseError } from '../base/errors.js';

export interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset just past the content. */
  readonly end: number;
}

export const Tag = {
  Boolean: 0x01,
  Integer: 0x02,
  BitString: 0x03,
  OctetString: 0x04,
  Null: 0x05,
  Oid: 0x06,
  Utf8String: 0x0c,
  PrintableString: 0x13,
  Ia5String: 0x16,
  UtcTime: 0x17,
  GeneralizedTime: 0x18,
  Sequence: 0x30,
  Set: 0x31,
} as const;

/** Reads the TLV at `off`, which must end at or before `limit`. */
export function readTlv(b: Uint8Array, off: number, limit: number = b.length, what = 'DER'): Tlv {
  if (off + 2 > limit) throw new ParseError('E_DER', `${what}: truncated`);
  const tag = b[off]!;
  if ((tag & 0x1f) === 0x1f) throw new ParseError('E_DER', `${what}: multi-byte tags are not supported`);
  let len = b[off + 1]!;
  let p = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new ParseError('E_DER', `${what}: unsupported length encoding`);
    if (p + n > limit) throw new ParseError('E_DER', `${what}: truncated length`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p + i]!;
    p += n;
  }
  if (p + len > limit) throw new ParseError('E_DER', `${what}: length ${len} runs past the end`);
  return { tag, start: off, contentStart: p, end: p + len };
}

/** The TLVs directly inside a constructed TLV. */
export function children(b: Uint8Array, parent: Tlv, what = 'DER'): Tlv[] {
  const out: Tlv[] = [];
  let off = parent.contentStart;
  while (off < parent.end) {
    const t = readTlv(b, off, parent.end, what);
    out.push(t);
    off = t.end;
  }
  return out;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw new ParseError('E_DER', `${what}: expected tag 0x${tag.toString(16)}${t ? `, got 0x${t.tag.toString(16)}` : ', missing'}`);
  return t;
}

export function content(b: Uint8Array, t: Tlv): Uint8Array {
  return b.subarray(t.contentStart, t.end);
}

export function whole(b: Uint8Array, t: Tlv): Uint8Array {
  return b.subarray(t.start, t.end);
}

/** Small memo tables: certificates repeat the same OIDs and names (bounded, cleared when full). */
const MEMO_MAX = 512;
const oidMemo = new Map<string, string>();
const nameMemo = new Map<string, DistinguishedName>();
const latin1 = (c: Uint8Array): string => Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString('latin1');
function remember<V>(m: Map<string, V>, k: string, v: V): V {
  if (m.size >= MEMO_MAX) m.clear();
  m.set(k, v);
  return v;
}

export function decodeOid(b: Uint8Array, t: Tlv): string {
  const c = content(b, t);
  if (c.length === 0 || c.length > 64) throw new ParseError('E_DER', 'bad OBJECT IDENTIFIER');
  const key = latin1(c);
  return oidMemo.get(key) ?? remember(oidMemo, key, decodeOidUncached(c));
}

function decodeOidUncached(c: Uint8Array): string {
  const parts: number[] = [];
  let v = 0;
  for (let i = 0; i < c.length; i++) {
    v = v * 128 + (c[i]! & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 256) throw new ParseError('E_DER', 'OBJECT IDENTIFIER arc too large');
    if ((c[i]! & 0x80) === 0) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    } else if (i === c.length - 1) throw new ParseError('E_DER', 'truncated OBJECT IDENTIFIER');
  }
  return parts.join('.');
}

/** A non-negative INTEGER as a number (small values: SPLs, versions, salt lengths). */
export function decodeSmallUint(b: Uint8Array, t: Tlv, what: string): number {
  const c = content(b, t);
  if (t.tag !== Tag.Integer || c.length === 0 || c.length > 6 || (c[0]! & 0x80) !== 0)
    throw new ParseError('E_DER', `${what}: not a small non-negative INTEGER`);
  let v = 0;
  for (const x of c) v = v * 256 + x;
  return v;
}

/** An INTEGER's magnitude as lowercase hex without leading zero bytes ("0" for zero): serial numbers. */
export function integerHex(b: Uint8Array, t: Tlv): string {
  const c = content(b, t);
  if (t.tag !== Tag.Integer || c.length === 0) throw new ParseError('E_DER', 'bad INTEGER');
  let i = 0;
  while (i < c.length - 1 && c[i] === 0) i++;
  return (
    Buffer.from(c.subarray(i))
      .toString('hex')
      .replace(/^0(?=.)/, '') || '0'
  );
}

export function decodeTime(b: Uint8Array, t: Tlv, what: string): Date {
  const s = Buffer.from(content(b, t)).toString('latin1');
  let m: RegExpMatchArray | null;
  let year: number;
  if (t.tag === Tag.UtcTime && (m = s.match(/^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/))) {
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (t.tag === Tag.GeneralizedTime && (m = s.match(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/))) {
    year = Number(m[1]);
  } else {
    throw new ParseError('E_DER', `${what}: bad time`);
  }
  const d = new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  if (Number.isNaN(d.getTime())) throw new ParseError('E_DER', `${what}: bad time`);
  return d;
}

const NAME_ATTRS: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
};

export interface DistinguishedName {
  /** e.g. "OU=Engineering, C=US, ..., CN=SEV-VCEK" in the certificate's order. */
  readonly text: string;
  readonly cn: string | undefined;
  /** The DER bytes, for exact issuer/subject comparison. */
  readonly der: Uint8Array;
}

export function decodeName(b: Uint8Array, t: Tlv, what: string): DistinguishedName {
  expectTag(t, Tag.Sequence, what);
  const key = latin1(whole(b, t));
  return nameMemo.get(key) ?? remember(nameMemo, key, decodeNameUncached(b, t, what));
}

function decodeNameUncached(b: Uint8Array, t: Tlv, what: string): DistinguishedName {
  const parts: string[] = [];
  let cn: string | undefined;
  for (const rdn of children(b, t, what)) {
    expectTag(rdn, Tag.Set, what);
    for (const atv of children(b, rdn, what)) {
      const [oidT, valT] = children(b, expectTag(atv, Tag.Sequence, what), what);
      const oid = decodeOid(b, expectTag(oidT, Tag.Oid, what));
      if (!valT) throw new ParseError('E_DER', `${what}: attribute without value`);
      const value = Buffer.from(content(b, valT)).toString(valT.tag === Tag.Utf8String ? 'utf8' : 'latin1');
      const key = NAME_ATTRS[oid] ?? oid;
      if (key === 'CN') cn = value;
      parts.push(`${key}=${value}`);
    }
  }
  return { text: parts.join(', '), cn, der: whole(b, t).slice() };
}

/** True when `b` is exactly one DER SEQUENCE (its length field spans the whole input). */
export function isDerSequence(b: Uint8Array): boolean {
  if (b.length < 2 || b[0] !== 0x30) return false;
  const l = b[1]!;
  if (l < 0x80) return 2 + l === b.length;
  const n = l & 0x7f;
  if (n === 0 || n > 4 || b.length < 2 + n) return false;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + b[2 + i]!;
  return 2 + n + len === b.length;
}
