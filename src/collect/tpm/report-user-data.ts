// The `user-data` field of an HCL report's runtime data, read without verifying anything: the collector
// only needs to know whether the paravisor has produced the report for the nonce it wrote. Works for
// both hardware reports the HCL carries (SNP 1184 bytes, TDX 1024 bytes). Pure; never throws.
const HCL_HEADER_SIZE = 0x20;
const HW_REPORT = { snp: { size: 1184, type: 2 }, tdx: { size: 1024, type: 4 } } as const;

/** Uppercase hex of `user-data` (as the paravisor writes it), or undefined when the report has none. */
export function reportUserData(hcl: Uint8Array): string | undefined {
  const dv = new DataView(hcl.buffer, hcl.byteOffset, hcl.byteLength);
  for (const hw of Object.values(HW_REPORT)) {
    const req = HCL_HEADER_SIZE + hw.size;
    if (hcl.length < req + 20 || dv.getUint32(req + 8, true) !== hw.type) continue;
    const varSize = dv.getUint32(req + 16, true);
    if (varSize > hcl.length - (req + 20)) return undefined;
    try {
      const json: unknown = JSON.parse(Buffer.from(hcl.buffer, hcl.byteOffset + req + 20, varSize).toString('utf8'));
      const u = json !== null && typeof json === 'object' ? (json as Record<string, unknown>)['user-data'] : undefined;
      return typeof u === 'string' ? u.toUpperCase() : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
