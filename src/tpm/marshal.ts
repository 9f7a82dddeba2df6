// Big-endian TPM 2.0 marshalling: a growable writer and a bounds-checked reader. Every read failure is
// a ParseError naming the field, never a RangeError.
import { ParseError } from '../base/errors.js';

export class TpmWriter {
  private buf = new Uint8Array(64);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  u8(v: number): this {
    this.reserve(1);
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.reserve(2);
    this.buf[this.len++] = (v >>> 8) & 0xff;
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    this.reserve(4);
    for (let s = 24; s >= 0; s -= 8) this.buf[this.len++] = (v >>> s) & 0xff;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  /** A TPM2B: u16 size then the bytes. */
  tpm2b(b: Uint8Array): this {
    if (b.length > 0xffff) throw new RangeError('TPM2B larger than 65535 bytes');
    return this.u16(b.length).bytes(b);
  }

  get length(): number {
    return this.len;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export class TpmReader {
  private pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    /** What is being decoded, for error messages ("TPM2_NV_Read response"). */
    private readonly what: string,
    private readonly end = buf.length,
  ) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, field: string): number {
    if (n < 0 || this.pos + n > this.end) {
      throw new ParseError(
        'E_TPM_TRUNCATED',
        `${this.what} is truncated: ${field} needs ${n} byte(s) at offset ${this.pos}, ${Math.max(0, this.end - this.pos)} left`,
      );
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(field: string): number {
    return this.buf[this.need(1, field)]!;
  }

  u16(field: string): number {
    const at = this.need(2, field);
    return (this.buf[at]! << 8) | this.buf[at + 1]!;
  }

  u32(field: string): number {
    const at = this.need(4, field);
    return ((this.buf[at]! << 24) | (this.buf[at + 1]! << 16) | (this.buf[at + 2]! << 8) | this.buf[at + 3]!) >>> 0;
  }

  u64(field: string): bigint {
    const hi = this.u32(field);
    const lo = this.u32(field);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  bytes(n: number, field: string): Uint8Array {
    const at = this.need(n, field);
    return this.buf.slice(at, at + n);
  }

  /** A TPM2B: u16 size then that many bytes; `max` bounds the size the structure allows. */
  tpm2b(field: string, max = 0xffff): Uint8Array {
    const size = this.u16(`${field}.size`);
    if (size > max) throw new ParseError('E_TPM_FIELD', `${this.what}: ${field} is ${size} bytes, more than the ${max} allowed`);
    return this.bytes(size, field);
  }

  /** A sub-reader over the next n bytes (for sized structures); the parent skips them. */
  sub(n: number, field: string): TpmReader {
    const at = this.need(n, field);
    const r = new TpmReader(this.buf, `${this.what} ${field}`, at + n);
    r.pos = at;
    return r;
  }

  /** Asserts nothing is left, so trailing garbage is not silently accepted. */
  done(field = 'structure'): void {
    if (this.pos !== this.end) {
      throw new ParseError('E_TPM_TRAILING', `${this.what}: ${this.end - this.pos} unexpected byte(s) after ${field}`);
    }
  }
}
