// Minimal check of the HCL report header read from the NV index: enough to know how many bytes are
// meaningful. The layout is hcl/header.ts's; full parsing and verification belong to the verifier. Pure.
import { ParseError } from '../../base/errors.js';
import { HCL_HEADER_SIZE, HCL_SIGNATURE } from '../../hcl/header.js';

/** Returns report_size (the meaningful length) after checking the "HCLA" signature and that it fits the index. */
export function hclReportSize(head: Uint8Array, indexSize: number): number {
  if (head.length < 12) throw new ParseError('E_HCL_HEADER', `the NV data is ${head.length} bytes, too short for an HCL report header`);
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const sig = dv.getUint32(0, true);
  if (sig !== HCL_SIGNATURE) {
    throw new ParseError('E_HCL_SIGNATURE', `the NV data does not start with "HCLA" (found 0x${sig.toString(16).padStart(8, '0')}): it holds no HCL report`);
  }
  const size = dv.getUint32(8, true);
  if (size < HCL_HEADER_SIZE || size > indexSize) {
    throw new ParseError('E_HCL_REPORT_SIZE', `the HCL header's report_size ${size} is outside the ${indexSize}-byte NV index`);
  }
  return size;
}
