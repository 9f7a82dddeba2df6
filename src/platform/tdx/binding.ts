// TDX check 9: the quote is about this TD report and the runtime data belongs to it. Every measurement
// field of the signed quote body must equal the HCL report's TD report (which is only MAC'd), and
// REPORTDATA must be the hash of exactly the runtime-data bytes, zero-padded: that binds the vTPM AK.
import { createHash } from 'node:crypto';
import { bytesEqual } from '../../base/bytes.js';
import type { TdxHclReport } from './hcl.js';
import type { TdQuoteBody } from './quote.js';
import type { TdMeasurements } from './td-report.js';
import type { CheckResult } from '../../result/result.js';

const FIELDS: readonly [keyof TdMeasurements, string][] = [
  ['teeTcbSvn', 'TEE_TCB_SVN'],
  ['mrSeam', 'MRSEAM'],
  ['mrSignerSeam', 'MRSIGNERSEAM'],
  ['seamAttributes', 'SEAMATTRIBUTES'],
  ['tdAttributes', 'TDATTRIBUTES'],
  ['xfam', 'XFAM'],
  ['mrTd', 'MRTD'],
  ['mrConfigId', 'MRCONFIGID'],
  ['mrOwner', 'MROWNER'],
  ['mrOwnerConfig', 'MROWNERCONFIG'],
  ['reportData', 'REPORTDATA'],
];

export function checkTdReportBinding(body: TdQuoteBody, hcl: TdxHclReport): CheckResult {
  const result = (status: 'pass' | 'fail', reason: string): CheckResult => ({ id: 'runtime-data.td-report', group: 'runtime-data', status, reason });
  const td = hcl.tdReport;
  const differ = FIELDS.filter(([k]) => !bytesEqual(body[k] as Uint8Array, td[k] as Uint8Array)).map(([, n]) => n);
  for (let i = 0; i < 4; i++) if (!bytesEqual(body.rtmr[i]!, td.rtmr[i]!)) differ.push(`RTMR${i}`);
  if (differ.length) return result('fail', `the TD quote is not about this HCL report's TD report: ${differ.join(', ')} differ`);
  return result('pass', "the signed quote body equals the HCL report's TD report (MRTD, RTMR0-3, REPORTDATA, ...)");
}

export function checkTdxRuntimeData(body: TdQuoteBody, hcl: TdxHclReport): CheckResult {
  // Literals, not `{ ...base, status, reason }`: V8 adds keys to a spread copy slowly, on every verification.
  const result = (status: 'pass' | 'fail', reason: string): CheckResult => ({ id: 'runtime-data', group: 'runtime-data', status, reason });
  const digest = createHash(hcl.hashType).update(hcl.runtimeData.raw).digest();
  const expected = new Uint8Array(64);
  expected.set(digest);
  if (!bytesEqual(expected, body.reportData))
    return result(
      'fail',
      `REPORTDATA is not the ${hcl.hashType.toUpperCase()} of the ${hcl.runtimeData.raw.length}-byte runtime data (runtime data or report altered)`,
    );
  if (!hcl.runtimeData.json) return result('fail', `runtime data is bound but unusable: ${hcl.runtimeData.error}`);
  return result('pass', `REPORTDATA = ${hcl.hashType.toUpperCase()}(${hcl.runtimeData.raw.length} bytes of runtime data): the vTPM AK belongs to this TD`);
}
