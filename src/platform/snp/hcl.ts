// The Azure HCL report written by the paravisor into vTPM NV index 0x01400001: a 32-byte header, the SNP
// report, then an IGVM request-data block whose variable part is the runtime-data JSON bound into the
// report's REPORT_DATA. Every length comes from the header; bytes after it (NV padding) are ignored.
import { ParseError } from '../../base/errors.js';
import { view } from '../../base/bytes.js';
import {
  HCL_AK_CERT_REQUEST,
  HCL_HASH_TYPES,
  HCL_HEADER_SIZE,
  HCL_REPORT_TYPE_SNP,
  HCL_REPORT_TYPE_TDX,
  HCL_REQ_HEADER_SIZE,
  HCL_REQ_OFFSET,
  HCL_RUNTIME_OFFSET,
  HCL_SIGNATURE,
  MAX_HCL_REPORT_SIZE,
  type HclEnvelope,
} from '../../hcl/header.js';
import { parseSnpReport, type SnpReport } from './report.js';
import { parseRuntimeData } from '../../hcl/runtime-data.js';

const REQ_OFFSET = HCL_REQ_OFFSET;
const RUNTIME_OFFSET = HCL_RUNTIME_OFFSET;
const REQ_HEADER_SIZE = HCL_REQ_HEADER_SIZE;
const AK_CERT_REQUEST = HCL_AK_CERT_REQUEST;
const REPORT_TYPE_SNP = HCL_REPORT_TYPE_SNP;
const REPORT_TYPE_TDX = HCL_REPORT_TYPE_TDX;
const TDX_REPORT_SIZE = 1024;
export { HCL_HEADER_SIZE, HCL_SIGNATURE, MAX_HCL_REPORT_SIZE, isHclReport, type HclHashType } from '../../hcl/header.js';
const HASH_TYPES = HCL_HASH_TYPES;

export interface HclReport extends HclEnvelope {
  /** The embedded SNP report bytes (1184). */
  readonly snpReportBytes: Uint8Array;
}

/** Parses an HCL report (header v1 or v2). Throws ParseError on any inconsistent header or length. */
export function parseHclReport(input: Uint8Array): { hcl: HclReport; report: SnpReport } {
  if (input.length > MAX_HCL_REPORT_SIZE) throw new ParseError('E_HCL_SIZE', `HCL report is too large (${input.length} bytes, at most ${MAX_HCL_REPORT_SIZE})`);
  if (input.length < HCL_HEADER_SIZE) throw new ParseError('E_HCL_TRUNCATED', `HCL report is truncated (${input.length} bytes)`);
  const dv = view(input);
  const u32 = (o: number): number => dv.getUint32(o, true);
  if (u32(0) !== HCL_SIGNATURE) throw new ParseError('E_HCL_SIGNATURE', 'not an HCL report (no "HCLA" signature)');
  const headerVersion = u32(4);
  if (headerVersion !== 1 && headerVersion !== 2)
    throw new ParseError('E_HCL_VERSION', `unsupported HCL report header version ${headerVersion} (supported: 1, 2)`);
  const reportSize = u32(8);
  const requestType = u32(12);
  // TDX: a 1024-byte TDREPORT takes the place of the SNP report, so the report type sits earlier.
  if (
    input.length >= HCL_HEADER_SIZE + TDX_REPORT_SIZE + 12 &&
    u32(HCL_HEADER_SIZE + TDX_REPORT_SIZE + 8) === REPORT_TYPE_TDX &&
    (input.length < REQ_OFFSET + 12 || u32(REQ_OFFSET + 8) !== REPORT_TYPE_SNP)
  ) {
    throw new ParseError('E_HCL_TDX', 'this is an Intel TDX HCL report; only AMD SEV-SNP reports are supported');
  }
  if (requestType !== AK_CERT_REQUEST)
    throw new ParseError('E_HCL_REQUEST_TYPE', `HCL report request type is ${requestType}, expected ${AK_CERT_REQUEST} (AK certificate request)`);
  for (let i = 0x10; i < 0x20; i++) {
    if (input[i] !== 0) throw new ParseError('E_HCL_STATUS', 'HCL report header status/reserved bytes are not zero');
  }
  if (input.length < RUNTIME_OFFSET) throw new ParseError('E_HCL_TRUNCATED', `HCL report is truncated (${input.length} bytes, header needs ${RUNTIME_OFFSET})`);
  const dataSize = u32(REQ_OFFSET);
  const reqVersion = u32(REQ_OFFSET + 4);
  const reportType = u32(REQ_OFFSET + 8);
  const hashTypeCode = u32(REQ_OFFSET + 12);
  const varSize = u32(REQ_OFFSET + 16);
  if (reportType === REPORT_TYPE_TDX) throw new ParseError('E_HCL_TDX', 'this is an Intel TDX HCL report; only AMD SEV-SNP reports are supported');
  if (reportType !== REPORT_TYPE_SNP) throw new ParseError('E_HCL_REPORT_TYPE', `HCL report type ${reportType} is not supported (2 = SEV-SNP)`);
  if (reqVersion !== 1) throw new ParseError('E_HCL_VERSION', `HCL request data version ${reqVersion} is not supported (1)`);
  const hashType = HASH_TYPES[hashTypeCode];
  if (hashType === undefined) throw new ParseError('E_HCL_HASH_TYPE', `HCL report data hash type ${hashTypeCode} is unknown (1 SHA-256, 2 SHA-384, 3 SHA-512)`);
  if (dataSize !== REQ_HEADER_SIZE + varSize)
    throw new ParseError('E_HCL_LENGTH', `HCL data size ${dataSize} does not match runtime data size ${varSize} + ${REQ_HEADER_SIZE}`);
  if (reportSize !== REQ_OFFSET + dataSize)
    throw new ParseError('E_HCL_LENGTH', `HCL report size ${reportSize} does not match ${REQ_OFFSET} + data size ${dataSize}`);
  if (reportSize > input.length) throw new ParseError('E_HCL_TRUNCATED', `HCL report says ${reportSize} bytes but only ${input.length} were given`);
  const report = parseSnpReport(input.subarray(HCL_HEADER_SIZE, REQ_OFFSET));
  const snpReportBytes = report.bytes;
  const runtimeData = parseRuntimeData(input.subarray(RUNTIME_OFFSET, RUNTIME_OFFSET + varSize)); // it copies
  return { hcl: { headerVersion, reportSize, requestType, hashType, runtimeData, snpReportBytes }, report };
}
