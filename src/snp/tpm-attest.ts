// TPM 2.0 structures of a quote (big-endian): TPMS_ATTEST of type QUOTE, and TPMT_SIGNATURE when the
// signature is given in TPM form rather than raw. Pure and bounds-checked.
import { ParseError } from '../errors.js';

export const TPM_GENERATED_VALUE = 0xff544347;
export const TPM_ST_ATTEST_QUOTE = 0x8018;
export const TPM_ALG_SHA1 = 0x0004;
export const TPM_ALG_SHA256 = 0x000b;
export const TPM_ALG_SHA384 = 0x000c;
export const TPM_ALG_SHA512 = 0x000d;
export const TPM_ALG_RSASSA = 0x0014;
const MAX_ATTEST = 4096;

export interface PcrSelection {
  readonly hashAlg: number;
  /** PCR indices selected, ascending. */
  readonly pcrs: readonly number[];
}

export interface TpmsAttest {
  readonly magic: number;
  readonly type: number;
  readonly qualifiedSigner: Uint8Array;
  readonly extraData: Uint8Array;
  readonly clock: bigint;
  readonly resetCount: number;
  readonly restartCount: number;
  readonly safe: boolean;
  readonly firmwareVersion: bigint;
  /** Present when type is QUOTE. */
  readonly quote?: { readonly pcrSelect: readonly PcrSelection[]; readonly pcrDigest: Uint8Array };
}

class Reader {
  off = 0;
  constructor(private readonly b: Uint8Array, private readonly what: string) {}
  private need(n: number): void {
    if (this.off + n > this.b.length) throw new ParseError('E_TPM_TRUNCATED', `${this.what} is truncated`);
  }
  u8(): number { this.need(1); return this.b[this.off++]!; }
  u16(): number { this.need(2); const v = (this.b[this.off]! << 8) | this.b[this.off + 1]!; this.off += 2; return v; }
  u32(): number { this.need(4); const v = new DataView(this.b.buffer, this.b.byteOffset + this.off, 4).getUint32(0); this.off += 4; return v; }
  u64(): bigint { this.need(8); const v = new DataView(this.b.buffer, this.b.byteOffset + this.off, 8).getBigUint64(0); this.off += 8; return v; }
  bytes(n: number): Uint8Array { this.need(n); const v = this.b.slice(this.off, this.off + n); this.off += n; return v; }
  tpm2b(): Uint8Array { return this.bytes(this.u16()); }
  get done(): boolean { return this.off === this.b.length; }
}

export function parseTpmsAttest(b: Uint8Array): TpmsAttest {
  if (b.length > MAX_ATTEST) throw new ParseError('E_TPM_ATTEST', `TPMS_ATTEST is too large (${b.length} bytes)`);
  const r = new Reader(b, 'TPMS_ATTEST');
  const magic = r.u32();
  if (magic !== TPM_GENERATED_VALUE) throw new ParseError('E_TPM_ATTEST', `TPMS_ATTEST magic is 0x${magic.toString(16)}, not TPM_GENERATED_VALUE`);
  const type = r.u16();
  const qualifiedSigner = r.tpm2b();
  const extraData = r.tpm2b();
  const clock = r.u64();
  const resetCount = r.u32();
  const restartCount = r.u32();
  const safe = r.u8() !== 0;
  const firmwareVersion = r.u64();
  let quote: TpmsAttest['quote'];
  if (type === TPM_ST_ATTEST_QUOTE) {
    const count = r.u32();
    if (count > 16) throw new ParseError('E_TPM_ATTEST', `TPML_PCR_SELECTION count ${count} is too large`);
    const pcrSelect: PcrSelection[] = [];
    for (let i = 0; i < count; i++) {
      const hashAlg = r.u16();
      const size = r.u8();
      if (size > 8) throw new ParseError('E_TPM_ATTEST', `PCR select size ${size} is too large`);
      const bits = r.bytes(size);
      const pcrs: number[] = [];
      bits.forEach((byte, j) => { for (let k = 0; k < 8; k++) if (byte & (1 << k)) pcrs.push(j * 8 + k); });
      pcrSelect.push({ hashAlg, pcrs });
    }
    quote = { pcrSelect, pcrDigest: r.tpm2b() };
  }
  if (!r.done) throw new ParseError('E_TPM_ATTEST', 'TPMS_ATTEST has trailing bytes');
  return { magic, type, qualifiedSigner, extraData, clock, resetCount, restartCount, safe, firmwareVersion, ...(quote ? { quote } : {}) };
}

/**
 * The raw RSASSA signature bytes: `sig` as given when it is raw (its length equals the key size), or the
 * signature inside a TPMT_SIGNATURE (sigAlg RSASSA, hash SHA-256). Returns undefined when neither.
 */
export function rawQuoteSignature(sig: Uint8Array, modulusBytes: number): { sig: Uint8Array; hashAlg: number } | undefined {
  if (sig.length === modulusBytes) return { sig, hashAlg: TPM_ALG_SHA256 };
  try {
    const r = new Reader(sig, 'TPMT_SIGNATURE');
    const alg = r.u16();
    const hashAlg = r.u16();
    const s = r.tpm2b();
    if (alg !== TPM_ALG_RSASSA || !r.done) return undefined;
    return { sig: s, hashAlg };
  } catch {
    return undefined;
  }
}
