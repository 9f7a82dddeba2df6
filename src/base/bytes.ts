// Small byte helpers shared by the pure parsers: hex conversion and bounds-checked little-endian reads.
import { ParseError } from './errors.js';

/** Lowercase hex of the bytes (MAA's claim format). */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Shared decoder (constructing one per call costs more than decoding a few KiB). */
export const utf8 = new TextDecoder();

export function isAllZero(b: Uint8Array, start = 0, end = b.length): boolean {
  for (let i = start; i < end; i++) if (b[i] !== 0) return false;
  return true;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  // Measurements (48-64 bytes) compare faster in a loop than through a Buffer view made for the call.
  if (a.length <= 256) {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** A DataView over `b` for little-endian reads; callers check lengths before reading. */
export function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Copy of `len` bytes at `off`; throws ParseError (never RangeError) when out of bounds. */
export function take(b: Uint8Array, off: number, len: number, what: string): Uint8Array {
  if (off < 0 || len < 0 || off + len > b.length) throw new ParseError('E_TRUNCATED', `${what} is truncated`);
  return b.slice(off, off + len);
}

/** Reverses a little-endian integer's bytes into big-endian order. */
export function reversed(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = b[b.length - 1 - i]!;
  return out;
}
