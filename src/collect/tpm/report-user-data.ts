// The `user-data` field of an HCL report's runtime data, read without verifying anything: the collector
// only needs to know whether the paravisor has produced the report for the nonce it wrote. The layout
// is hcl/header.ts's, alike for both hardware reports (the report area is 1184 bytes on TDX too, its
// TD report in the first 1024). Pure; never throws.
import { parseRuntimeData } from '../../hcl/runtime-data.js';
import { HCL_REPORT_TYPE_SNP, HCL_REPORT_TYPE_TDX, HCL_REQ_OFFSET, HCL_RUNTIME_OFFSET } from '../../hcl/header.js';

/** Uppercase hex of `user-data` (as the paravisor writes it), or undefined when the report has none. */
export function reportUserData(hcl: Uint8Array): string | undefined {
  if (hcl.length < HCL_RUNTIME_OFFSET) return undefined;
  const dv = new DataView(hcl.buffer, hcl.byteOffset, hcl.byteLength);
  const type = dv.getUint32(HCL_REQ_OFFSET + 8, true);
  if (type !== HCL_REPORT_TYPE_SNP && type !== HCL_REPORT_TYPE_TDX) return undefined;
  const varSize = dv.getUint32(HCL_REQ_OFFSET + 16, true);
  if (varSize > hcl.length - HCL_RUNTIME_OFFSET) return undefined;
  const u = parseRuntimeData(hcl.subarray(HCL_RUNTIME_OFFSET, HCL_RUNTIME_OFFSET + varSize)).json?.['user-data'];
  return typeof u === 'string' ? u.toUpperCase() : undefined;
}
