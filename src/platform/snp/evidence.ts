// Evidence detection: an HCL report (NV dump), a bare 1184-byte SNP report, or either as hex text.
import { ParseError } from '../../base/errors.js';
import { utf8 } from '../../base/bytes.js';
import { isHclReport, MAX_HCL_REPORT_SIZE, parseHclReport, type HclReport } from './hcl.js';
import { parseSnpReport, SNP_REPORT_SIZE, type SnpReport } from './report.js';

export interface ParsedEvidence {
  readonly kind: 'hcl' | 'snp';
  readonly report: SnpReport;
  readonly hcl?: HclReport;
}

/** Hex text of the largest evidence we accept (plus whitespace). */
const MAX_HEX_TEXT = MAX_HCL_REPORT_SIZE * 2 + 8192;

/** Where hex digits start: after leading whitespace and an optional `0x`/`0X` prefix. */
function hexStart(b: Uint8Array): number {
  let i = 0;
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
  return b[i] === 0x30 && (b[i + 1] === 0x78 || b[i + 1] === 0x58) ? i + 2 : 0;
}

function isHexText(b: Uint8Array): boolean {
  let digits = 0;
  for (let i = hexStart(b); i < b.length; i++) {
    const c = b[i]!;
    const hex = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
    if (hex) digits++;
    else if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return false;
  }
  return digits > 0 && digits % 2 === 0;
}

function hexTextToBytes(b: Uint8Array): Uint8Array {
  const text = utf8.decode(b.subarray(hexStart(b))).replace(/\s+/g, '');
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

/** Detects and parses evidence bytes. Throws ParseError for anything unusable. */
export function parseEvidence(input: Uint8Array): ParsedEvidence {
  if (!(input instanceof Uint8Array)) throw new ParseError('E_EVIDENCE', 'evidence must be bytes');
  if (input.length > MAX_HEX_TEXT) throw new ParseError('E_EVIDENCE_SIZE', `evidence is too large (${input.length} bytes)`);
  if (input.length === 0) throw new ParseError('E_EVIDENCE_EMPTY', 'evidence is empty');
  let b = input;
  if (!isHclReport(b) && b.length !== SNP_REPORT_SIZE && isHexText(b)) b = hexTextToBytes(b);
  if (isHclReport(b)) {
    const { hcl, report } = parseHclReport(b);
    return { kind: 'hcl', report, hcl };
  }
  if (b.length === SNP_REPORT_SIZE) return { kind: 'snp', report: parseSnpReport(b) };
  throw new ParseError('E_EVIDENCE_FORMAT', `evidence is neither an HCL report ("HCLA") nor a ${SNP_REPORT_SIZE}-byte SNP report (got ${b.length} bytes)`);
}
