// The TD quote from IMDS: `POST /acc/tdquote` with `{"report": "<base64url TD report>"}`, answered
// `{"quote": "<base64url>"}`. IMDS is untrusted transport: the answer is size-capped and shape-checked
// here, and the quote itself is verified (signatures, binding to this TD report) by the verifier.
import { imdsPostJson, type ImdsOptions } from './imds.js';
import { ImdsResponseError, parseImdsJson } from '../input/thim.js';
import { MAX_QUOTE_SIZE, parseTdQuote } from '../platform/tdx/quote.js';
import { CvmAttestError } from '../base/errors.js';

export const TDQUOTE_PATH = '/acc/tdquote';
/** base64 of the largest quote accepted, plus the JSON around it. */
const TDQUOTE_MAX_BYTES = Math.ceil((MAX_QUOTE_SIZE * 4) / 3) + 1024;

export function parseTdQuoteResponse(body: Buffer | string): Uint8Array {
  const j = parseImdsJson(body, 'IMDS /acc/tdquote response', TDQUOTE_MAX_BYTES);
  const q = j !== null && typeof j === 'object' && !Array.isArray(j) ? (j as Record<string, unknown>).quote : undefined;
  if (typeof q !== 'string' || !/^[A-Za-z0-9_-]+={0,2}$/.test(q)) throw new ImdsResponseError('IMDS /acc/tdquote response has no base64url "quote" string');
  const bytes = new Uint8Array(Buffer.from(q, 'base64url'));
  try {
    parseTdQuote(bytes);
  } catch (e) {
    throw new ImdsResponseError(`IMDS /acc/tdquote answered something that is not a TD quote: ${e instanceof CvmAttestError ? e.message : String(e)}`, {
      cause: e,
    });
  }
  return bytes;
}

/** Asks IMDS to have the host's Quoting Enclave sign `tdReport` (1024 bytes). */
export async function fetchTdQuote(tdReport: Uint8Array, options: ImdsOptions = {}): Promise<Uint8Array> {
  const body = await imdsPostJson(TDQUOTE_PATH, { report: Buffer.from(tdReport).toString('base64url') }, TDQUOTE_MAX_BYTES, options);
  return parseTdQuoteResponse(body);
}
