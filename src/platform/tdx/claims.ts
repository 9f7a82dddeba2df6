// Claims for a TDX CVM in the shape of Microsoft Azure Attestation's TDX EAT profile (`tdx_*` names,
// lowercase hex), flat at the top level as MAA does, plus the same x-ms-runtime and cvm-attest-*
// claims as on SNP.
import { toHex } from '../../base/bytes.js';
import type { TdxHclReport } from './hcl.js';
import type { TdQuote } from './quote.js';
import { tdDebug } from './td-report.js';

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

/**
 * Hex of the body fields from one encoding of the signed quote: the parser returns every field as a
 * view of the quote's bytes, so a field is a substring (any other bytes are encoded on their own).
 */
function bodyHex(signed: Uint8Array): (field: Uint8Array) => string {
  const all = toHex(signed);
  return (f) => {
    const off = f.byteOffset - signed.byteOffset;
    return f.buffer === signed.buffer && off >= 0 && off + f.length <= signed.length ? all.substring(2 * off, 2 * (off + f.length)) : toHex(f);
  };
}

/** The claims, as a new object the caller may add its own claims to. */
export function buildTdxClaims(i: TdxClaimsInput): Record<string, unknown> {
  const b = i.quote.body;
  const toHex = bodyHex(i.quote.signedBytes);
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
  // Keys are added to the literal, never to a spread copy: V8 adds a property to a spread copy
  // through its slow path (~2 us each), which made the claims the costliest step of a cached verification.
  const c = tee;
  c['x-ms-isolation-tee'] = { ...tee };
  if (i.runtimeBound && i.hcl.runtimeData.json) c['x-ms-runtime'] = i.hcl.runtimeData.json;
  c['cvm-attest-evidence-kind'] = 'hcl';
  c['cvm-attest-platform'] = 'TDX';
  c['cvm-attest-hcl-header-version'] = i.hcl.headerVersion;
  c['cvm-attest-quote-version'] = i.quote.header.version;
  if (i.fmspc) c['cvm-attest-fmspc'] = i.fmspc;
  c['cvm-attest-policy-hash'] = i.policyHash;
  if (i.attestedPcrs) c['cvm-attest-pcrs'] = i.attestedPcrs;
  return c;
}
