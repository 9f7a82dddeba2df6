// The TDX columns of the attestation record, and `Platform` for both: appended to RECORD_COLUMNS so
// the DCR, the table schema and the docs (generated from it) carry them.
import type { VerificationResult } from '../result/result.js';
import type { ColumnDef, RecordValue } from './record.js';

export const TDX_RECORD_COLUMNS: readonly ColumnDef[] = [
  { name: 'Platform', type: 'string', description: 'TEE of the evidence: `SNP` (AMD SEV-SNP) or `TDX` (Intel TDX).' },
  {
    name: 'TdxTcbStatus',
    type: 'string',
    description:
      "Intel TDX: TCB status by Intel's collateral (UpToDate, SWHardeningNeeded, ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate, OutOfDateConfigurationNeeded, Revoked).",
  },
  {
    name: 'AdvisoryIds',
    type: 'dynamic',
    description: 'Intel TDX: array of the Intel security advisory ids (INTEL-SA-xxxxx) of the matched TCB level, TDX module and QE.',
  },
  { name: 'Mrtd', type: 'string', description: 'Intel TDX: MRTD, lowercase hex (96 characters); also in Measurement.' },
  { name: 'Rtmrs', type: 'dynamic', description: 'Intel TDX: array of RTMR0..RTMR3, lowercase hex.' },
  { name: 'TeeTcbSvn', type: 'string', description: 'Intel TDX: TEE_TCB_SVN, lowercase hex (32 characters).' },
  { name: 'Fmspc', type: 'string', description: 'Intel TDX: FMSPC of the platform (from the PCK certificate), lowercase hex.' },
];

const s = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function tdxColumns(r: VerificationResult): Record<string, RecordValue | undefined> {
  const c = r.claims;
  const platform = r.platform ?? (c['x-ms-attestation-type'] === 'tdxvm' ? 'TDX' : 'SNP');
  if (platform !== 'TDX') return { Platform: 'SNP' };
  const rtmrs = [0, 1, 2, 3].map((i) => s(c[`tdx_rtmr${i}`]) ?? '');
  return {
    Platform: 'TDX',
    TdxTcbStatus: s(c.attester_tcb_status),
    AdvisoryIds: Array.isArray(c.attester_advisory_ids) ? c.attester_advisory_ids.filter((x): x is string => typeof x === 'string') : [],
    Mrtd: s(c.tdx_mrtd),
    Rtmrs: rtmrs,
    TeeTcbSvn: s(c.tdx_tee_tcb_svn),
    Fmspc: r.tdx?.fmspc ?? s(c['cvm-attest-fmspc']),
  };
}
