// TPM 2.0 structures we decode or build: PCR selections, TPMS_ATTEST (quote), TPMT_PUBLIC (RSA/ECC keys),
// TPMT_SIGNATURE. Pure and bounds-checked; shared by the collector and the verifier.
import { ParseError } from '../base/errors.js';
import { PCR_COUNT, TPM_ALG, TPM_GENERATED_VALUE, TPM_ST } from './constants.js';
import { TpmReader, TpmWriter } from './marshal.js';

/** Validates a PCR list (0-23, no duplicates) and returns it sorted. */
export function normalizePcrList(pcrs: readonly number[]): number[] {
  const out = [...new Set(pcrs)].sort((a, b) => a - b);
  if (out.length === 0) throw new ParseError('E_TPM_PCRS', 'the PCR selection is empty');
  for (const p of out) {
    if (!Number.isInteger(p) || p < 0 || p >= PCR_COUNT) throw new ParseError('E_TPM_PCRS', `PCR ${p} is not one of 0-${PCR_COUNT - 1}`);
  }
  return out;
}

/** TPML_PCR_SELECTION with one SHA-256 bank (sizeofSelect 3). */
export function writePcrSelection(w: TpmWriter, pcrs: readonly number[], hashAlg: number = TPM_ALG.SHA256): void {
  const bits = new Uint8Array(3);
  for (const p of pcrs) bits[p >> 3]! |= 1 << (p & 7);
  w.u32(1).u16(hashAlg).u8(3).bytes(bits);
}

export interface PcrSelection {
  readonly hashAlg: number;
  readonly pcrs: number[];
}

/** Reads a TPML_PCR_SELECTION (any number of banks, select bitmaps of at most 32 bytes). */
export function readPcrSelection(r: TpmReader, field = 'pcrSelection'): PcrSelection[] {
  const count = r.u32(`${field}.count`);
  if (count > 16) throw new ParseError('E_TPM_FIELD', `${field} lists ${count} banks, more than the 16 allowed`);
  const out: PcrSelection[] = [];
  for (let i = 0; i < count; i++) {
    const hashAlg = r.u16(`${field}[${i}].hash`);
    const size = r.u8(`${field}[${i}].sizeofSelect`);
    if (size > 32) throw new ParseError('E_TPM_FIELD', `${field}[${i}].sizeofSelect is ${size}, more than 32`);
    const bits = r.bytes(size, `${field}[${i}].pcrSelect`);
    const pcrs: number[] = [];
    for (let b = 0; b < size * 8; b++) if (bits[b >> 3]! & (1 << (b & 7))) pcrs.push(b);
    out.push({ hashAlg, pcrs });
  }
  return out;
}

/** Bound checked before decoding: a quote is a few hundred bytes, no TPM response exceeds 4096. */
const MAX_ATTEST = 4096;

/** TPMS_QUOTE_INFO: the PCRs a quote covers and the digest of their values. */
export interface TpmsQuoteInfo {
  readonly pcrSelect: PcrSelection[];
  readonly pcrDigest: Uint8Array;
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
  /** Present when type is TPM_ST_ATTEST_QUOTE. */
  readonly quote?: TpmsQuoteInfo;
}

/** A TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE. */
export type TpmsAttestQuote = TpmsAttest & { readonly quote: TpmsQuoteInfo };

function decodeAttest(bytes: Uint8Array, quoteOnly: boolean): TpmsAttest {
  if (bytes.length > MAX_ATTEST) throw new ParseError('E_TPM_ATTEST', `TPMS_ATTEST is too large (${bytes.length} bytes, at most ${MAX_ATTEST})`);
  const r = new TpmReader(bytes, 'TPMS_ATTEST');
  const magic = r.u32('magic');
  if (magic !== TPM_GENERATED_VALUE)
    throw new ParseError('E_TPM_ATTEST_MAGIC', `TPMS_ATTEST magic is 0x${magic.toString(16)}, not 0xff544347: not TPM-generated`);
  const type = r.u16('type');
  const isQuote = type === TPM_ST.ATTEST_QUOTE;
  if (quoteOnly && !isQuote) throw new ParseError('E_TPM_ATTEST_TYPE', `TPMS_ATTEST type is 0x${type.toString(16)}, not 0x8018 (quote)`);
  const qualifiedSigner = r.tpm2b('qualifiedSigner', 68);
  const extraData = r.tpm2b('extraData', 64);
  const clock = r.u64('clockInfo.clock');
  const resetCount = r.u32('clockInfo.resetCount');
  const restartCount = r.u32('clockInfo.restartCount');
  const safe = r.u8('clockInfo.safe') !== 0;
  const firmwareVersion = r.u64('firmwareVersion');
  const header = { magic, type, qualifiedSigner, extraData, clock, resetCount, restartCount, safe, firmwareVersion };
  if (!isQuote) {
    // Only the quote's attested union is decoded; for other types nothing may follow.
    r.done('firmwareVersion');
    return header;
  }
  const pcrSelect = readPcrSelection(r, 'attested.pcrSelect');
  const pcrDigest = r.tpm2b('attested.pcrDigest', 64);
  r.done('TPMS_QUOTE_INFO');
  return { ...header, quote: { pcrSelect, pcrDigest } };
}

/** Decodes a TPMS_ATTEST (the bytes a TPM signs); the attested part only for quotes. */
export function parseTpmsAttest(bytes: Uint8Array): TpmsAttest {
  return decodeAttest(bytes, false);
}

const isQuoteAttest = (a: TpmsAttest): a is TpmsAttestQuote => a.quote !== undefined;

/** Decodes a TPMS_ATTEST that must be of type TPM_ST_ATTEST_QUOTE (E_TPM_ATTEST_TYPE otherwise). */
export function parseQuoteAttest(bytes: Uint8Array): TpmsAttestQuote {
  const a = decodeAttest(bytes, true);
  if (!isQuoteAttest(a)) throw new ParseError('E_TPM_ATTEST_TYPE', 'TPMS_ATTEST carries no TPMS_QUOTE_INFO');
  return a;
}

export interface TpmSignature {
  /** TPM_ALG_ID of the scheme: RSASSA 0x14, RSAPSS 0x16, ECDSA 0x18. */
  readonly sigAlg: number;
  readonly hashAlg: number;
  /** RSA: the raw signature; ECDSA: r || s (IEEE-P1363). */
  readonly signature: Uint8Array;
}

/** Decodes a TPMT_SIGNATURE (RSA and ECDSA schemes; others are refused). */
export function readSignature(r: TpmReader): TpmSignature {
  const sigAlg = r.u16('signature.sigAlg');
  if (sigAlg === TPM_ALG.RSASSA || sigAlg === TPM_ALG.RSAPSS) {
    const hashAlg = r.u16('signature.hash');
    return { sigAlg, hashAlg, signature: r.tpm2b('signature.sig', 512) };
  }
  if (sigAlg === TPM_ALG.ECDSA) {
    const hashAlg = r.u16('signature.hash');
    const sr = r.tpm2b('signature.signatureR', 66);
    const ss = r.tpm2b('signature.signatureS', 66);
    const n = Math.max(sr.length, ss.length);
    const sig = new Uint8Array(2 * n);
    sig.set(sr, n - sr.length);
    sig.set(ss, 2 * n - ss.length);
    return { sigAlg, hashAlg, signature: sig };
  }
  throw new ParseError('E_TPM_SIG_SCHEME', `signature algorithm 0x${sigAlg.toString(16)} is not supported (RSASSA, RSAPSS, ECDSA)`);
}

/**
 * The RSASSA signature bytes of a quote: `sig` as given when it is raw (its length equals the key's
 * modulus, hash SHA-256 as Azure's AK uses), or the signature inside a TPMT_SIGNATURE of scheme RSASSA.
 * Undefined when neither.
 */
export function rawQuoteSignature(sig: Uint8Array, modulusBytes: number): { sig: Uint8Array; hashAlg: number } | undefined {
  if (sig.length === modulusBytes) return { sig, hashAlg: TPM_ALG.SHA256 };
  try {
    const r = new TpmReader(sig, 'TPMT_SIGNATURE');
    const s = readSignature(r);
    r.done('signature');
    return s.sigAlg === TPM_ALG.RSASSA ? { sig: s.signature, hashAlg: s.hashAlg } : undefined;
  } catch (e) {
    if (e instanceof ParseError) return undefined;
    throw e;
  }
}

export type TpmPublicKey =
  | {
      readonly type: 'rsa';
      readonly nameAlg: number;
      readonly attributes: number;
      readonly scheme: number;
      readonly schemeHash?: number;
      readonly bits: number;
      readonly exponent: number;
      readonly modulus: Uint8Array;
    }
  | {
      readonly type: 'ecc';
      readonly nameAlg: number;
      readonly attributes: number;
      readonly scheme: number;
      readonly schemeHash?: number;
      readonly curve: number;
      readonly x: Uint8Array;
      readonly y: Uint8Array;
    };

function readScheme(r: TpmReader, field: string): { scheme: number; schemeHash?: number } {
  const scheme = r.u16(`${field}.scheme`);
  if (scheme === TPM_ALG.NULL) return { scheme };
  return { scheme, schemeHash: r.u16(`${field}.details.hashAlg`) };
}

/** Decodes a TPMT_PUBLIC for RSA and ECC keys (what an AK or EK is). */
export function parsePublicArea(bytes: Uint8Array): TpmPublicKey {
  const r = new TpmReader(bytes, 'TPMT_PUBLIC');
  const type = r.u16('type');
  const nameAlg = r.u16('nameAlg');
  const attributes = r.u32('objectAttributes');
  r.tpm2b('authPolicy', 64);
  const symAlg = r.u16('parameters.symmetric.algorithm');
  if (symAlg !== TPM_ALG.NULL) {
    r.u16('parameters.symmetric.keyBits');
    r.u16('parameters.symmetric.mode');
  }
  const { scheme, schemeHash } = readScheme(r, 'parameters.scheme');
  if (type === TPM_ALG.RSA) {
    const bits = r.u16('parameters.keyBits');
    const exponent = r.u32('parameters.exponent');
    const modulus = r.tpm2b('unique.rsa', 512);
    r.done('TPMT_PUBLIC');
    return {
      type: 'rsa',
      nameAlg,
      attributes,
      scheme,
      ...(schemeHash !== undefined ? { schemeHash } : {}),
      bits,
      exponent: exponent === 0 ? 65537 : exponent,
      modulus,
    };
  }
  if (type === TPM_ALG.ECC) {
    const curve = r.u16('parameters.curveID');
    readScheme(r, 'parameters.kdf');
    const x = r.tpm2b('unique.ecc.x', 66);
    const y = r.tpm2b('unique.ecc.y', 66);
    r.done('TPMT_PUBLIC');
    return { type: 'ecc', nameAlg, attributes, scheme, ...(schemeHash !== undefined ? { schemeHash } : {}), curve, x, y };
  }
  throw new ParseError('E_TPM_KEY_TYPE', `public area type 0x${type.toString(16)} is not RSA or ECC`);
}

const B64URL = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const CURVES: Record<number, string> = { 0x0003: 'P-256', 0x0004: 'P-384', 0x0005: 'P-521' };

/** The key as a JWK (public only), for node:crypto.createPublicKey({ key, format: 'jwk' }). */
export function publicKeyToJwk(k: TpmPublicKey): Record<string, string> {
  if (k.type === 'rsa') {
    let e = k.exponent;
    const eb: number[] = [];
    while (e > 0) {
      eb.unshift(e & 0xff);
      e = Math.floor(e / 256);
    }
    return { kty: 'RSA', n: B64URL(k.modulus), e: B64URL(Uint8Array.from(eb)) };
  }
  const crv = CURVES[k.curve];
  if (!crv) throw new ParseError('E_TPM_KEY_TYPE', `ECC curve 0x${k.curve.toString(16)} is not supported`);
  return { kty: 'EC', crv, x: B64URL(k.x), y: B64URL(k.y) };
}
