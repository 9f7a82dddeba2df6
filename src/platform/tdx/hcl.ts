// The HCL report of an Azure TDX CVM: the same container as on SNP (src/platform/snp/hcl.ts) with report type 4;
// the first 1024 bytes of the report area are the TDREPORT_STRUCT, then the same runtime-data JSON.
import { ParseError, type ErrorCode } from '../../base/errors.js';
import { view } from '../../base/bytes.js';
import {
  HCL_AK_CERT_REQUEST,
  HCL_HASH_TYPES,
  HCL_HEADER_SIZE,
  HCL_REPORT_AREA_SIZE,
  HCL_REPORT_TYPE_TDX,
  HCL_REQ_HEADER_SIZE,
  HCL_SIGNATURE,
  MAX_HCL_REPORT_SIZE,
  type HclEnvelope,
} from '../../hcl/header.js';
import { parseRuntimeData } from '../../hcl/runtime-data.js';
import { parseTdReport, TD_REPORT_SIZE, type TdReport } from './td-report.js';

const REQ_OFFSET = HCL_HEADER_SIZE + HCL_REPORT_AREA_SIZE; // 0x4C0
const REQ_HEADER_SIZE = HCL_REQ_HEADER_SIZE;
const RUNTIME_OFFSET = REQ_OFFSET + REQ_HEADER_SIZE;
const REPORT_TYPE_TDX = HCL_REPORT_TYPE_TDX;
const AK_CERT_REQUEST = HCL_AK_CERT_REQUEST;
const HASH_TYPES = HCL_HASH_TYPES;

export interface TdxHclReport extends HclEnvelope {
  readonly tdReport: TdReport;
}

/** True when the bytes are an HCL report whose request data says report type TDX. */
export function isTdxHclReport(b: Uint8Array): boolean {
  if (!(b instanceof Uint8Array) || b.length < REQ_OFFSET + 12) return false;
  const dv = view(b);
  return dv.getUint32(0, true) === HCL_SIGNATURE && dv.getUint32(REQ_OFFSET + 8, true) === REPORT_TYPE_TDX;
}

/** The TDX HCL report in `b`: the bytes themselves, or decoded from hex text of them (as `verify --evidence` accepts); undefined when not one. */
export function tdxHclBytes(b: Uint8Array): Uint8Array | undefined {
  if (isTdxHclReport(b)) return b;
  if (b.length > MAX_HCL_REPORT_SIZE * 2 + 8192 || b.length < 8 || b[0] !== 0x34) return undefined; // hex of "HCLA" starts "48434c41"
  const text = Buffer.from(b).toString('latin1').replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(text)) return undefined;
  const bytes = new Uint8Array(Buffer.from(text, 'hex'));
  return isTdxHclReport(bytes) ? bytes : undefined;
}

export function parseTdxHclReport(input: Uint8Array): TdxHclReport {
  const bad = (code: ErrorCode, msg: string): never => {
    throw new ParseError(code, msg);
  };
  if (input.length > MAX_HCL_REPORT_SIZE) bad('E_HCL_SIZE', `HCL report is too large (${input.length} bytes, at most ${MAX_HCL_REPORT_SIZE})`);
  if (input.length < RUNTIME_OFFSET) bad('E_HCL_TRUNCATED', `HCL report is truncated (${input.length} bytes, header needs ${RUNTIME_OFFSET})`);
  const dv = view(input);
  const u32 = (o: number): number => dv.getUint32(o, true);
  if (u32(0) !== HCL_SIGNATURE) bad('E_HCL_SIGNATURE', 'not an HCL report (no "HCLA" signature)');
  const headerVersion = u32(4);
  if (headerVersion !== 1 && headerVersion !== 2) bad('E_HCL_VERSION', `unsupported HCL report header version ${headerVersion} (supported: 1, 2)`);
  const reportSize = u32(8);
  const requestType = u32(12);
  if (requestType !== AK_CERT_REQUEST)
    bad('E_HCL_REQUEST_TYPE', `HCL report request type is ${requestType}, expected ${AK_CERT_REQUEST} (AK certificate request)`);
  for (let i = 0x10; i < 0x20; i++) if (input[i] !== 0) bad('E_HCL_STATUS', 'HCL report header status/reserved bytes are not zero');
  const dataSize = u32(REQ_OFFSET);
  const reqVersion = u32(REQ_OFFSET + 4);
  if (u32(REQ_OFFSET + 8) !== REPORT_TYPE_TDX) bad('E_HCL_REPORT_TYPE', 'not a TDX HCL report (report type 4)');
  const hashType = HASH_TYPES[u32(REQ_OFFSET + 12)];
  const varSize = u32(REQ_OFFSET + 16);
  if (reqVersion !== 1) bad('E_HCL_VERSION', `HCL request data version ${reqVersion} is not supported (1)`);
  if (!hashType) bad('E_HCL_HASH_TYPE', `HCL report data hash type ${u32(REQ_OFFSET + 12)} is unknown (1 SHA-256, 2 SHA-384, 3 SHA-512)`);
  if (dataSize !== REQ_HEADER_SIZE + varSize) bad('E_HCL_LENGTH', `HCL data size ${dataSize} does not match runtime data size ${varSize} + ${REQ_HEADER_SIZE}`);
  if (reportSize !== REQ_OFFSET + dataSize) bad('E_HCL_LENGTH', `HCL report size ${reportSize} does not match ${REQ_OFFSET} + data size ${dataSize}`);
  if (reportSize > input.length) bad('E_HCL_TRUNCATED', `HCL report says ${reportSize} bytes but only ${input.length} were given`);
  const tdReport = parseTdReport(input.subarray(HCL_HEADER_SIZE, HCL_HEADER_SIZE + TD_REPORT_SIZE)); // it copies
  const runtimeData = parseRuntimeData(input.subarray(RUNTIME_OFFSET, RUNTIME_OFFSET + varSize)); // it copies
  return { headerVersion, reportSize, requestType, hashType: hashType!, runtimeData, tdReport };
}
