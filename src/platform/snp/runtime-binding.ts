// Check 7 (HCL only): REPORT_DATA equals the hash, per the header's hash type, of exactly the runtime-data
// bytes, zero-padded to 64 bytes. This is what ties the vTPM keys and VM configuration to the SNP report.
import { createHash } from 'node:crypto';
import { bytesEqual } from '../../base/bytes.js';
import type { HclReport } from './hcl.js';
import type { SnpReport } from './report.js';
import type { CheckResult } from '../../result/result.js';

export function checkRuntimeBinding(report: SnpReport, hcl: HclReport | undefined): CheckResult {
  const base = { id: 'runtime-data', group: 'runtime-data' } as const;
  if (!hcl) return { id: base.id, group: base.group, status: 'skip', reason: 'a bare SNP report carries no runtime data' };
  const digest = createHash(hcl.hashType).update(hcl.runtimeData.raw).digest();
  const expected = new Uint8Array(64);
  expected.set(digest);
  if (!bytesEqual(expected, report.reportData)) {
    return {
      id: base.id,
      group: base.group,
      status: 'fail',
      reason: `REPORT_DATA is not the ${hcl.hashType.toUpperCase()} of the ${hcl.runtimeData.raw.length}-byte runtime data (runtime data or report altered)`,
    };
  }
  if (!hcl.runtimeData.json) return { id: base.id, group: base.group, status: 'fail', reason: `runtime data is bound but unusable: ${hcl.runtimeData.error}` };
  return {
    id: base.id,
    group: base.group,
    status: 'pass',
    reason: `REPORT_DATA = ${hcl.hashType.toUpperCase()}(${hcl.runtimeData.raw.length} bytes of runtime data)`,
  };
}
