// Claims for a TDX CVM in the shape of Microsoft Azure Attestation's TDX EAT profile (`tdx_*` names,
// lowercase hex), flat at the top level as MAA does, plus the same x-ms-runtime and cvm-attest-*
// claims as on SNP.
import { toHex } from '../../base/bytes.js';
import type { TdxHclReport } from './hcl.js';
import type { TdQuote } from './quote.js';
import { tdDebug } from './td-report.js';
import type { Claims } from '../../result/result.js';

export interface TdxClaimsInput {
  readonly quote: TdQuote;
  readonly hcl: TdxHclReport;
  readonly runtimeBound: boolean;
  readonly policyHash: string;
  readonly tcbStatus?: string;
  readonly advisoryIds: readonly string[];
  readonly fmspc?: string;
  readonly attestedPcrs?: Readonly<Record<number, string>>;
}

export function buildTdxClaims(i: TdxClaimsInput): Claims {
  const b = i.quote.body;
  const tee: Record<string, unknown> = {
    'x-ms-attestation-type': 'tdxvm',
    tdx_mrseam: toHex(b.mrSeam),
    tdx_mrsignerseam: toHex(b.mrSignerSeam),
    tdx_mrtd: toHex(b.mrTd),
    tdx_rtmr0: toHex(b.rtmr[0]),
    tdx_rtmr1: toHex(b.rtmr[1]),
    tdx_rtmr2: toHex(b.rtmr[2]),
    tdx_rtmr3: toHex(b.rtmr[3]),
    tdx_mrconfigid: toHex(b.mrConfigId),
    tdx_mrowner: toHex(b.mrOwner),
    tdx_mrownerconfig: toHex(b.mrOwnerConfig),
    tdx_report_data: toHex(b.reportData),
    tdx_seam_attributes: toHex(b.seamAttributes),
    tdx_td_attributes: toHex(b.tdAttributes),
    tdx_td_attributes_debug: tdDebug(b.tdAttributes),
    tdx_xfam: toHex(b.xfam),
    tdx_tee_tcb_svn: toHex(b.teeTcbSvn),
    attester_tcb_status: i.tcbStatus ?? null,
    attester_advisory_ids: [...i.advisoryIds],
  };
  const c: Record<string, unknown> = { ...tee, 'x-ms-isolation-tee': { ...tee } };
  if (i.runtimeBound && i.hcl.runtimeData.json) c['x-ms-runtime'] = i.hcl.runtimeData.json;
  Object.assign(c, {
    'cvm-attest-evidence-kind': 'hcl',
    'cvm-attest-platform': 'TDX',
    'cvm-attest-hcl-header-version': i.hcl.headerVersion,
    'cvm-attest-quote-version': i.quote.header.version,
    ...(i.fmspc ? { 'cvm-attest-fmspc': i.fmspc } : {}),
    'cvm-attest-policy-hash': i.policyHash,
  });
  if (i.attestedPcrs) c['cvm-attest-pcrs'] = i.attestedPcrs;
  return c;
}
