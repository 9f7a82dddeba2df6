// The Azure HCL report written by the paravisor into vTPM NV index 0x01400001: a 32-byte header, the SNP
// report, then an IGVM request-data block whose variable part is the runtime-data JSON bound into the
// report's REPORT_DATA. Every length comes from the header; bytes after it (NV padding) are ignored.
import { ParseError } from '../errors.js';
import { view } from './bytes.js';
import { parseSnpReport, SNP_REPORT_SIZE, type SnpReport } from './report.js';
import { parseRuntimeData, type RuntimeData } from './runtime-data.js';

export const HCL_SIGNATURE = 0x414c4348; // "HCLA"
export const HCL_HEADER_SIZE = 0x20;
/** IGVM request data header: data_size, version, report_type, hash_type, variable_data_size. */
const REQ_HEADER_SIZE = 20;
const REQ_OFFSET = HCL_HEADER_SIZE + SNP_REPORT_SIZE; // 0x4C0
const RUNTIME_OFFSET = REQ_OFFSET + REQ_HEADER_SIZE; // 0x4D4
/** The request type the paravisor uses for the report it leaves in the NV index. */
const AK_CERT_REQUEST = 2;
const REPORT_TYPE_SNP = 2;
const REPORT_TYPE_TDX = 4;
const TDX_REPORT_SIZE = 1024;
/** Far above any real NV index; refused before any work. */
export const MAX_HCL_REPORT_SIZE = 64 * 1024;

export type HclHashType = 'sha256' | 'sha384' | 'sha512';
const HASH_TYPES: Record<number, HclHashType> = { 1: 'sha256', 2: 'sha384', 3: 'sha512' };

export interface HclReport {
  readonly headerVersion: number;
  /** report_size from the header: the meaningful length of the NV contents. */
  readonly reportSize: number;
  readonly requestType: number;
  readonly hashType: HclHashType;
  readonly runtimeData: RuntimeData;
  /** The embedded SNP report bytes (1184). */
  readonly snpReportBytes: Uint8Array;
}

export function isHclReport(b: Uint8Array): boolean {
  return b.length >= 4 && view(b).getUint32(0, true) === HCL_SIGNATURE;
}

/** Parses an HCL report (header v1 or v2). Throws ParseError on any inconsistent header or length. */
export function parseHclReport(input: Uint8Array): { hcl: HclReport; report: SnpReport } {
  if (input.length > MAX_HCL_REPORT_SIZE) throw new ParseError('E_HCL_SIZE', `HCL report is too large (${input.length} bytes, at most ${MAX_HCL_REPORT_SIZE})`);
  if (input.length < HCL_HEADER_SIZE) throw new ParseError('E_HCL_TRUNCATED', `HCL report is truncated (${input.length} bytes)`);
  const dv = view(input);
  const u32 = (o: number): number => dv.getUint32(o, true);
  if (u32(0) !== HCL_SIGNATURE) throw new ParseError('E_HCL_SIGNATURE', 'not an HCL report (no "HCLA" signature)');
  const headerVersion = u32(4);
  if (headerVersion !== 1 && headerVersion !== 2) throw new ParseError('E_HCL_VERSION', `unsupported HCL report header version ${headerVersion} (supported: 1, 2)`);
  const reportSize = u32(8);
  const requestType = u32(12);
  // TDX: a 1024-byte TDREPORT takes the place of the SNP report, so the report type sits earlier.
  if (input.length >= HCL_HEADER_SIZE + TDX_REPORT_SIZE + 12 && u32(HCL_HEADER_SIZE + TDX_REPORT_SIZE + 8) === REPORT_TYPE_TDX && (input.length < REQ_OFFSET + 12 || u32(REQ_OFFSET + 8) !== REPORT_TYPE_SNP)) {
    throw new ParseError('E_HCL_TDX', 'this is an Intel TDX HCL report; only AMD SEV-SNP reports are supported');
  }
  if (requestType !== AK_CERT_REQUEST) throw new ParseError('E_HCL_REQUEST_TYPE', `HCL report request type is ${requestType}, expected ${AK_CERT_REQUEST} (AK certificate request)`);
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
  if (dataSize !== REQ_HEADER_SIZE + varSize) throw new ParseError('E_HCL_LENGTH', `HCL data size ${dataSize} does not match runtime data size ${varSize} + ${REQ_HEADER_SIZE}`);
  if (reportSize !== REQ_OFFSET + dataSize) throw new ParseError('E_HCL_LENGTH', `HCL report size ${reportSize} does not match ${REQ_OFFSET} + data size ${dataSize}`);
  if (reportSize > input.length) throw new ParseError('E_HCL_TRUNCATED', `HCL report says ${reportSize} bytes but only ${input.length} were given`);
  const report = parseSnpReport(input.subarray(HCL_HEADER_SIZE, REQ_OFFSET));
  const snpReportBytes = report.bytes;
  const runtimeData = parseRuntimeData(input.slice(RUNTIME_OFFSET, RUNTIME_OFFSET + varSize));
  return { hcl: { headerVersion, reportSize, requestType, hashType, runtimeData, snpReportBytes }, report };
}
