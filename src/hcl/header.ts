// The container the Azure paravisor (HCL) writes into vTPM NV index 0x01400001 on both platforms: a
// 32-byte header, a 1184-byte hardware report area (an SNP report, or a TD report in its first 1024
// bytes), then the IGVM request data whose variable part is the runtime-data JSON. The constants and
// the platform-independent view live here; platform/snp/hcl.ts and platform/tdx/hcl.ts parse the rest.
import { view } from '../base/bytes.js';
import type { RuntimeData } from './runtime-data.js';

export const HCL_SIGNATURE = 0x414c4348; // "HCLA"
export const HCL_HEADER_SIZE = 0x20;
/** The hardware report area: sized for the SNP report on both platforms. */
export const HCL_REPORT_AREA_SIZE = 1184;
/** IGVM request data header: data_size, version, report_type, hash_type, variable_data_size. */
export const HCL_REQ_HEADER_SIZE = 20;
export const HCL_REQ_OFFSET = HCL_HEADER_SIZE + HCL_REPORT_AREA_SIZE; // 0x4C0
export const HCL_RUNTIME_OFFSET = HCL_REQ_OFFSET + HCL_REQ_HEADER_SIZE; // 0x4D4
/** The request type the paravisor uses for the report it leaves in the NV index. */
export const HCL_AK_CERT_REQUEST = 2;
export const HCL_REPORT_TYPE_SNP = 2;
export const HCL_REPORT_TYPE_TDX = 4;
/** Far above any real NV index; refused before any work. */
export const MAX_HCL_REPORT_SIZE = 64 * 1024;

export type HclHashType = 'sha256' | 'sha384' | 'sha512';
export const HCL_HASH_TYPES: Readonly<Record<number, HclHashType>> = { 1: 'sha256', 2: 'sha384', 3: 'sha512' };

/** What both platforms' HCL reports share: what the guest-side checks (freshness, AK) read. */
export interface HclEnvelope {
  readonly headerVersion: number;
  /** report_size from the header: the meaningful length of the NV contents. */
  readonly reportSize: number;
  readonly requestType: number;
  readonly hashType: HclHashType;
  readonly runtimeData: RuntimeData;
}

export function isHclReport(b: Uint8Array): boolean {
  return b.length >= 4 && view(b).getUint32(0, true) === HCL_SIGNATURE;
}
