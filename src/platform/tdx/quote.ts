// The Intel DCAP TD quote, version 4 and 5 (TDX DCAP Quoting Library API, appendix A.3). Every length
// comes from the bytes and must add up: the signature data must end exactly where its own length says,
// and only zero padding may follow it (IMDS returns quotes padded that way).
import { ParseError } from '../../base/errors.js';
import { bytesEqual, isAllZero, utf8, view } from '../../base/bytes.js';
import { ENCLAVE_REPORT_SIZE, parseEnclaveReport, type EnclaveReport } from './enclave-report.js';
import type { TdMeasurements } from './td-report.js';
import { readPem } from '../../x509/pem.js';

/** Real quotes are ~5 KB (8 KB padded); a PCK chain never needs more. */
export const MAX_QUOTE_SIZE = 64 * 1024;
export const QUOTE_HEADER_SIZE = 48;
export const TEE_TYPE_TDX = 0x81;
export const ATT_KEY_ECDSA_P256 = 2;
export const INTEL_QE_VENDOR_ID = '939a7233f79c4ca9940a0db3957f0607';
const BODY_TDX10 = 584;
const BODY_TDX15 = 648;
/** Certification data types (A.3.9). */
export const CERT_PCK_CHAIN = 5;
export const CERT_QE_REPORT = 6;

export interface QuoteHeader {
  readonly version: number;
  readonly attestationKeyType: number;
  readonly teeType: number;
  readonly qeSvn: number;
  readonly pceSvn: number;
  readonly qeVendorId: Uint8Array;
  readonly userData: Uint8Array;
}

export interface TdQuoteBody extends TdMeasurements {
  /** TDX 1.5 bodies (v5 type 3) only. */
  readonly teeTcbSvn2?: Uint8Array;
  readonly mrServiceTd?: Uint8Array;
}

export interface TdQuote {
  readonly bytes: Uint8Array;
  readonly header: QuoteHeader;
  /** v5: body descriptor type (2 = TDX 1.0, 3 = TDX 1.5); v4: 2. */
  readonly bodyType: number;
  readonly body: TdQuoteBody;
  /** Header (+ v5 descriptor) + body: the bytes the attestation key signed. */
  readonly signedBytes: Uint8Array;
  /** ECDSA P-256 r || s (big-endian), 64 bytes. */
  readonly signature: Uint8Array;
  /** P-256 public key x || y, 64 bytes. */
  readonly attestationKey: Uint8Array;
  readonly qeReport: EnclaveReport;
  readonly qeReportSignature: Uint8Array;
  readonly qeAuthData: Uint8Array;
  /** Certification data type inside the QE report certification data (5 = PCK chain PEM). */
  readonly certDataType: number;
  readonly certData: Uint8Array;
  /** The PEM certificates of the PCK chain (type 5), in quote order. */
  readonly pckChainPem: readonly string[];
  /** The same certificates as DER, decoded once here (verification parses these, not the PEM again). */
  readonly pckChainDer: readonly Uint8Array[];
  /** Zero bytes after the signature data. */
  readonly padding: number;
}

const bad = (msg: string): never => {
  throw new ParseError('E_TDX_QUOTE', `TD quote: ${msg}`);
};

class Reader {
  off: number;
  constructor(
    readonly b: Uint8Array,
    off: number,
    readonly end: number,
  ) {
    this.off = off;
  }
  need(n: number, what: string): void {
    if (n < 0 || this.off + n > this.end) bad(`${what} runs past the end (${n} bytes at ${this.off}, limit ${this.end})`);
  }
  /** A view of the next `n` bytes (of the parser's private copy of the quote). */
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = view(this.b).getUint16(this.off, true);
    this.off += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = view(this.b).getUint32(this.off, true);
    this.off += 4;
    return v;
  }
}

function parseBody(r: Reader, size: number): TdQuoteBody {
  const f = (n: number, what: string): Uint8Array => r.bytes(n, `quote body ${what}`);
  const body: TdQuoteBody = {
    teeTcbSvn: f(16, 'TEE_TCB_SVN'),
    mrSeam: f(48, 'MRSEAM'),
    mrSignerSeam: f(48, 'MRSIGNERSEAM'),
    seamAttributes: f(8, 'SEAMATTRIBUTES'),
    tdAttributes: f(8, 'TDATTRIBUTES'),
    xfam: f(8, 'XFAM'),
    mrTd: f(48, 'MRTD'),
    mrConfigId: f(48, 'MRCONFIGID'),
    mrOwner: f(48, 'MROWNER'),
    mrOwnerConfig: f(48, 'MROWNERCONFIG'),
    rtmr: [f(48, 'RTMR0'), f(48, 'RTMR1'), f(48, 'RTMR2'), f(48, 'RTMR3')],
    reportData: f(64, 'REPORTDATA'),
  };
  if (size === BODY_TDX15) return { ...body, teeTcbSvn2: f(16, 'TEE_TCB_SVN2'), mrServiceTd: f(48, 'MRSERVICETD') };
  return body;
}

/** Splits the PEM certificates out of type-5 certification data (a NUL terminator may follow). */
export function splitPemChain(data: Uint8Array): string[] {
  return splitChain(data).map((b) => b.pem);
}

function splitChain(data: Uint8Array): readonly { readonly pem: string; readonly der: Uint8Array }[] {
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) end--;
  const text = utf8.decode(data.subarray(0, end));
  const pem = readPem(text, { what: 'the PCK certificate chain', code: 'E_TDX_QUOTE', maxBlocks: 9 });
  if (pem.outside !== '' || pem.blocks.some((b) => b.label !== 'CERTIFICATE')) bad('the PCK certificate chain holds something other than PEM certificates');
  if (pem.blocks.length === 0 || pem.blocks.length > 8) bad(`the PCK certificate chain has ${pem.blocks.length} certificates`);
  return pem.blocks;
}

interface SplitChain {
  readonly data: Uint8Array;
  readonly pem: readonly string[];
  readonly der: readonly Uint8Array[];
}
/**
 * Split chains by their exact certification-data bytes (bounded): a verifier sees the same few
 * platforms over and over, and the PEM decoding is a tenth of a cached verification. The same bytes
 * give the same (frozen) arrays, which the endorsement memo is keyed by.
 */
const chains: SplitChain[] = [];
const MAX_CHAINS = 16;

function chainOf(data: Uint8Array, cache: boolean): SplitChain {
  if (cache) for (const c of chains) if (bytesEqual(c.data, data)) return c;
  const blocks = splitChain(data);
  const c: SplitChain = { data: data.slice(), pem: Object.freeze(blocks.map((b) => b.pem)), der: Object.freeze(blocks.map((b) => b.der)) };
  if (!cache) return c;
  if (chains.length >= MAX_CHAINS) chains.shift();
  chains.push(c);
  return c;
}

export interface ParseTdQuoteOptions {
  /** Reuse the PCK chain split from an earlier quote with the same certification data (default true). */
  readonly cache?: boolean;
}

/** Parses a DCAP v4 or v5 TD quote. Throws ParseError (E_TDX_QUOTE) on anything that does not add up. */
export function parseTdQuote(input: Uint8Array, options: ParseTdQuoteOptions = {}): TdQuote {
  if (!(input instanceof Uint8Array)) bad('must be bytes');
  if (input.length > MAX_QUOTE_SIZE) bad(`too large (${input.length} bytes, at most ${MAX_QUOTE_SIZE})`);
  const b = input.slice();
  const r = new Reader(b, 0, b.length);
  const version = r.u16('version');
  const attestationKeyType = r.u16('attestation key type');
  const teeType = r.u32('TEE type');
  const qeSvn = r.u16('QE SVN');
  const pceSvn = r.u16('PCE SVN');
  const qeVendorId = r.bytes(16, 'QE vendor id');
  const userData = r.bytes(20, 'user data');
  const header: QuoteHeader = { version, attestationKeyType, teeType, qeSvn, pceSvn, qeVendorId, userData };
  if (version !== 4 && version !== 5) bad(`version ${version} is not supported (4, 5)`);
  if (teeType !== TEE_TYPE_TDX) bad(`TEE type 0x${teeType.toString(16)} is not TDX (0x81)`);
  if (attestationKeyType !== ATT_KEY_ECDSA_P256) bad(`attestation key type ${attestationKeyType} is not ECDSA-256-with-P-256 (2)`);
  let bodyType = 2;
  let bodySize = BODY_TDX10;
  if (version === 5) {
    bodyType = r.u16('body type');
    bodySize = r.u32('body size');
    if (!((bodyType === 2 && bodySize === BODY_TDX10) || (bodyType === 3 && bodySize === BODY_TDX15)))
      bad(`v5 body type ${bodyType} of ${bodySize} bytes is not a TDX 1.0 (2, ${BODY_TDX10}) or TDX 1.5 (3, ${BODY_TDX15}) body`);
  }
  const body = parseBody(r, bodySize);
  const signedBytes = b.subarray(0, r.off);
  const sigLen = r.u32('signature data length');
  r.need(sigLen, 'signature data');
  const sigEnd = r.off + sigLen;
  const s = new Reader(b, r.off, sigEnd);
  const signature = s.bytes(64, 'quote signature');
  const attestationKey = s.bytes(64, 'attestation key');
  const outerType = s.u16('certification data type');
  const outerSize = s.u32('certification data size');
  if (outerType !== CERT_QE_REPORT) bad(`certification data type ${outerType} is not QE report certification data (6)`);
  if (s.off + outerSize !== sigEnd) bad(`certification data size ${outerSize} does not end where the signature data does`);
  const qeReport = parseEnclaveReport(s.bytes(ENCLAVE_REPORT_SIZE, 'QE report'));
  const qeReportSignature = s.bytes(64, 'QE report signature');
  const authLen = s.u16('QE authentication data size');
  const qeAuthData = s.bytes(authLen, 'QE authentication data');
  const certDataType = s.u16('PCK certification data type');
  const certSize = s.u32('PCK certification data size');
  const certData = s.bytes(certSize, 'PCK certification data');
  if (s.off !== sigEnd) bad(`${sigEnd - s.off} unexplained bytes at the end of the signature data`);
  if (certDataType !== CERT_PCK_CHAIN) bad(`PCK certification data type ${certDataType} is not a PEM PCK chain (5)`);
  const { pem: pckChainPem, der: pckChainDer } = chainOf(certData, options.cache !== false);
  if (!isAllZero(b, sigEnd)) bad(`non-zero bytes after the signature data (offset ${sigEnd})`);
  return {
    bytes: b,
    header,
    bodyType,
    body,
    signedBytes,
    signature,
    attestationKey,
    qeReport,
    qeReportSignature,
    qeAuthData,
    certDataType,
    certData,
    pckChainPem,
    pckChainDer,
    padding: b.length - sigEnd,
  };
}
