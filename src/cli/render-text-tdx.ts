// The TDX parts of the text checklist: headline and the evidence summary (TD measurements, TCB
// status with Intel's advisories, collateral dates).
import type { VerificationResult } from '../result/result.js';
import { escapeText as e } from '../base/text-escape.js';

export function tdxHeadline(r: VerificationResult): string {
  return `Verdict: ${r.verdict === 'pass' ? 'PASS' : 'FAIL'}   Intel TDX, HCL report v${e(r.claims['cvm-attest-hcl-header-version'])}, TD quote v${e(r.tdx?.quoteVersion ?? '?')}, verified at ${e(r.verifiedAt)}`;
}

export function tdxEvidenceLines(r: VerificationResult): string[] {
  const c = r.claims;
  const t = r.tdx;
  const out = [
    `  MRTD          ${String(c.tdx_mrtd)}`,
    ...[0, 1, 2, 3].map((i) => `  RTMR${i}         ${String(c[`tdx_rtmr${i}`])}`),
    `  TEE TCB SVN   ${String(c.tdx_tee_tcb_svn)}, MRSEAM ${String(c.tdx_mrseam).slice(0, 32)}...`,
    `  TD            debuggable ${String(c.tdx_td_attributes_debug)}, attributes ${String(c.tdx_td_attributes)}, xfam ${String(c.tdx_xfam)}`,
    `  TCB status    ${t?.tcbStatus ?? 'undetermined'}${t?.fmspc ? ` (FMSPC ${t.fmspc}${t.tdxModule ? `, ${t.tdxModule}` : ''}${t.qeTcbStatus ? `, QE ${t.qeTcbStatus}` : ''})` : ''}${t?.advisoryIds.length ? `; advisories ${t.advisoryIds.join(', ')}` : ''}`,
  ];
  for (const d of t?.collateral ?? [])
    out.push(`  collateral    ${d.what}: issued ${d.issueDate?.slice(0, 10) ?? '?'}, next update ${d.nextUpdate?.slice(0, 10) ?? '?'}`);
  // Every value comes from evidence or collateral: escaped like the rest of the checklist.
  return out.map((l) => e(l));
}
