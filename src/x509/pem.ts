// The one PEM reader (RFC 7468 armour) for certificates and CRLs: users' files, IMDS bodies, TDX
// collateral and quote chains, AK certificates. Linear scan (no backtracking regex), bounded, and
// strict: base64 with padding only at the end, BEGIN and END labels alike, no unterminated block.
// Which labels and what text outside the blocks are acceptable is the caller's to decide. Pure.
import { ParseError, type ErrorCode } from '../base/errors.js';

export interface PemBlock {
  /** The armour label, e.g. CERTIFICATE or X509 CRL. */
  readonly label: string;
  readonly der: Uint8Array;
  /** The block's text, BEGIN line to END line. */
  readonly pem: string;
}

export interface PemText {
  readonly blocks: PemBlock[];
  /** Everything outside the blocks, trimmed ('' when the text is only PEM). */
  readonly outside: string;
}

export interface PemOptions {
  /** Names the input in errors. */
  readonly what: string;
  /** The error code users see for this input. */
  readonly code: ErrorCode;
  /** At most this many blocks (default 64). */
  readonly maxBlocks?: number;
}

/** Far above any certificate bundle or collateral file, so a scan stays cheap. */
export const PEM_MAX_TEXT = 4 * 1024 * 1024;
const BEGIN = '-----BEGIN ';
const DASHES = '-----';

/** Every PEM block in `text`, in order. Throws ParseError on a malformed or unterminated block. */
export function readPem(text: string, o: PemOptions): PemText {
  const code = o.code;
  const maxBlocks = o.maxBlocks ?? 64;
  if (text.length > PEM_MAX_TEXT) throw new ParseError(code, `${o.what} is too large for PEM (${text.length} characters, at most ${PEM_MAX_TEXT})`);
  const blocks: PemBlock[] = [];
  let outside = '';
  let pos = 0;
  for (;;) {
    const start = text.indexOf(BEGIN, pos);
    if (start < 0) break;
    outside += text.slice(pos, start);
    const labelEnd = text.indexOf(DASHES, start + BEGIN.length);
    const label = labelEnd < 0 ? '' : text.slice(start + BEGIN.length, labelEnd);
    if (!/^[A-Z0-9]+(?: [A-Z0-9]+)*$/.test(label) || label.length > 40) throw new ParseError(code, `${o.what}: a PEM BEGIN line has no valid label`);
    const endLine = `-----END ${label}-----`;
    const bodyStart = labelEnd + DASHES.length;
    const end = text.indexOf(endLine, bodyStart);
    if (end < 0) throw new ParseError(code, `${o.what}: the PEM ${label} block has no END line (truncated?)`);
    const b64 = text.slice(bodyStart, end).replace(/[ \t\r\n]+/g, '');
    // Strict base64 by round trip (native, so a quote's chain costs microseconds, not a regex scan):
    // anything Buffer would skip or repair (other characters, inner padding, stray bits) re-encodes differently.
    const bytes = Buffer.from(b64, 'base64');
    if (b64 === '' || bytes.toString('base64') !== b64) throw new ParseError(code, `${o.what}: the PEM ${label} block is not valid base64`);
    if (blocks.length === maxBlocks) throw new ParseError(code, `${o.what} holds more than ${maxBlocks} PEM blocks`);
    pos = end + endLine.length;
    blocks.push({ label, der: new Uint8Array(bytes), pem: text.slice(start, pos) });
  }
  outside += text.slice(pos);
  return { blocks, outside: outside.trim() };
}

/** The DER of each block labelled `label` (others are skipped). */
export function pemDers(text: string, label: string, o: PemOptions): Uint8Array[] {
  return readPem(text, o).blocks.flatMap((b) => (b.label === label ? [b.der] : []));
}

/** The DER of a text that is exactly one PEM block labelled `label` (e.g. one certificate). */
export function pemDer(text: string, label: string, o: PemOptions): Uint8Array {
  const r = readPem(text, { ...o, maxBlocks: 1 });
  const b = r.blocks[0];
  if (!b || b.label !== label || r.outside !== '') throw new ParseError(o.code, `${o.what} is not one PEM ${label} block`);
  return b.der;
}
