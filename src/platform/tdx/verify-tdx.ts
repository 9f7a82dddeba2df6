// Every check of an Intel TDX CVM's evidence, in order: quote structure and signature, PCK chain to
// the pinned Intel root, QE report, CRLs, collateral, TCB status, QE identity, binding to the HCL
// report and its runtime data, freshness by report or vTPM quote and the guest checks (AK certificate,
// event log: the SNP code path in guest/), policy. Pure (no I/O): the inputs
// are parsed already; a missing or wrong input fails closed as a check.
import { createHash } from 'node:crypto';
import { bytesEqual, isAllZero, toHex } from '../../base/bytes.js';
import type { TdxCollateral } from './collateral.js';
import type { TdxHclReport } from './hcl.js';
import { INTEL_QE_VENDOR_ID, type TdQuote } from './quote.js';
import type { TcbStatus } from './signed-json.js';
import { evaluateTdxPolicy } from './policy.js';
import { policySummary, type Policy } from '../../policy/policy.js';
import { CertStore } from '../../x509/cert-store.js';
import type { QuoteInput } from '../../guest/freshness.js';
import { checkFreshnessBy } from '../../guest/fresh-by.js';
import { checkGuest, type GuestInput } from '../../guest/guest.js';
import type { CheckResult, EvidenceSummary, TdxDetails, VerificationResult } from '../../result/result.js';
import { checkTdReportBinding, checkTdxRuntimeData } from './binding.js';
import { buildTdxClaims } from './claims.js';
import { ecdsaRawVerifies, p256FromRaw } from './ecdsa.js';
import { checkEndorsements } from './endorsements.js';
import { converge, matchQeIdentity, matchTdxTcb } from './tcb-status.js';

export interface TdxInputs {
  readonly hcl: TdxHclReport;
  readonly quote: TdQuote;
  readonly collateral: TdxCollateral;
  readonly policy: Policy;
  readonly vtpmQuote?: QuoteInput;
  /** The verifier's nonce for the runtime data's user-data (default: the vTPM quote's nonce). */
  readonly nonce?: Uint8Array;
  /** The AK certificate, its extra intermediates and the event log, as verifyEvidence takes them. */
  readonly guest?: GuestInput['options'];
  readonly now: Date;
  readonly cache: boolean;
  readonly replayed: boolean;
  /** What the result says it is about (digests of the bytes as given, the quote's nonce). */
  readonly evidence?: EvidenceSummary;
}

export function verifyTdx(i: TdxInputs): VerificationResult {
  const { quote, hcl, policy, now, cache } = i;
  const enforce = policy.collateral === 'enforce';
  const store = new CertStore(cache);
  const checks: CheckResult[] = [];
  const h = quote.header;
  const vendor = toHex(h.qeVendorId);
  checks.push(
    vendor === INTEL_QE_VENDOR_ID
      ? {
          id: 'structure',
          group: 'structure',
          status: 'pass',
          reason: `TD quote v${h.version} (TDX ${quote.bodyType === 3 ? '1.5' : '1.0'} body), ECDSA P-256, Intel QE; TD report in an HCL report (header v${hcl.headerVersion})`,
        }
      : { id: 'structure', group: 'structure', status: 'fail', reason: `the quote's QE vendor id ${vendor} is not Intel's` },
  );

  const attKey = p256FromRaw(quote.attestationKey, cache);
  const quoteSigOk = attKey !== undefined && ecdsaRawVerifies(quote.signedBytes, quote.signature, attKey);
  checks.push(
    quoteSigOk
      ? { id: 'signature.quote', group: 'signature', status: 'pass', reason: 'quote header and body signed by its attestation key (ECDSA P-256)' }
      : {
          id: 'signature.quote',
          group: 'signature',
          status: 'fail',
          reason: attKey ? 'the quote signature does not verify with its attestation key: header or body altered' : 'the attestation key is not a P-256 point',
        },
  );

  const verifiedAt = now.toISOString();
  const { chain, collateral: col, crl, dates } = checkEndorsements(quote, i.collateral, store, now, enforce, cache, verifiedAt);
  checks.push(chain.check);

  // QE report: signed by the PCK; its REPORTDATA binds the attestation key and QE authentication data.
  const qeData = createHash('sha256').update(quote.attestationKey).update(quote.qeAuthData).digest();
  const qeBound = bytesEqual(quote.qeReport.reportData.subarray(0, 32), qeData) && isAllZero(quote.qeReport.reportData, 32);
  const qeSigOk = chain.pckKey !== undefined && ecdsaRawVerifies(quote.qeReport.bytes, quote.qeReportSignature, chain.pckKey);
  checks.push(
    !chain.pckKey
      ? { id: 'signature.qe-report', group: 'signature', status: 'fail', reason: 'no verified PCK key to check the QE report with' }
      : !qeSigOk
        ? {
            id: 'signature.qe-report',
            group: 'signature',
            status: 'fail',
            reason: 'the QE report is not signed by the PCK key (a QE report from another quote or platform?)',
          }
        : !qeBound
          ? {
              id: 'signature.qe-report',
              group: 'signature',
              status: 'fail',
              reason: "QE REPORTDATA is not SHA-256(attestation key || QE authentication data): the attestation key is not the QE's",
            }
          : { id: 'signature.qe-report', group: 'signature', status: 'pass', reason: 'QE report signed by the PCK; its REPORTDATA binds the attestation key' },
  );

  checks.push(crl.check, ...col.checks);

  // TCB status (6) and QE identity (7).
  let status: TcbStatus | undefined;
  let qeStatus: TcbStatus | undefined;
  const advisories: string[] = [];
  let tcbDate: string | undefined;
  let moduleNote: string | undefined;
  if (!col.tcbInfo || !chain.extensions) {
    checks.push({
      id: 'tcb',
      group: 'tcb',
      status: 'fail',
      reason: 'the TCB status cannot be determined without a verified PCK certificate and verified TCB info',
    });
  } else {
    const m = matchTdxTcb(col.tcbInfo, chain.extensions, quote.body);
    if (m.problem || !m.level) checks.push({ id: 'tcb', group: 'tcb', status: 'fail', reason: m.problem ?? 'no TCB level matches' });
    else {
      status = m.level.tcbStatus;
      advisories.push(...m.level.advisoryIds);
      tcbDate = m.level.tcbDate;
      if (m.moduleLevel) {
        status = converge(status, m.moduleLevel.tcbStatus);
        advisories.push(...m.moduleLevel.advisoryIds);
        moduleNote = `${m.moduleId} SVN ${quote.body.teeTcbSvn[0]} ${m.moduleLevel.tcbStatus}`;
      }
    }
  }
  if (!col.qeIdentity) checks.push({ id: 'tcb.qe-identity', group: 'tcb', status: 'fail', reason: 'no verified TD QE identity' });
  else {
    const q = matchQeIdentity(col.qeIdentity, quote.qeReport);
    if (q.problem || !q.level) {
      checks.push({ id: 'tcb.qe-identity', group: 'tcb', status: 'fail', reason: q.problem ?? 'no QE TCB level matches' });
      status = undefined;
    } else {
      qeStatus = q.level.tcbStatus;
      advisories.push(...q.level.advisoryIds);
      checks.push({
        id: 'tcb.qe-identity',
        group: 'tcb',
        status: 'pass',
        reason: `Intel TD QE (MRSIGNER, ISVPRODID ${quote.qeReport.isvProdId}, attributes), ISVSVN ${quote.qeReport.isvSvn}: ${qeStatus}`,
      });
      if (status) status = converge(status, qeStatus);
    }
  }
  const advisoryIds = [...new Set(advisories)];
  if (status) {
    checks.splice(
      checks.findIndex((c) => c.id === 'tcb.qe-identity'),
      0,
      {
        id: 'tcb',
        group: 'tcb',
        status: 'pass',
        reason: `TCB status ${status} (FMSPC ${chain.extensions!.fmspc}, level of ${tcbDate}${moduleNote ? `, ${moduleNote}` : ''})${advisoryIds.length ? `; advisories ${advisoryIds.join(', ')}` : ''}`,
      },
    );
  } else if (!checks.some((c) => c.id === 'tcb')) {
    checks.splice(
      checks.findIndex((c) => c.id === 'tcb.qe-identity'),
      0,
      { id: 'tcb', group: 'tcb', status: 'fail', reason: 'the TCB status cannot be determined: the QE identity does not match' },
    );
  }

  checks.push(checkTdReportBinding(quote.body, hcl));
  let binding = checkTdxRuntimeData(quote.body, hcl);
  const bindingOk = binding.status === 'pass';
  if (binding.status === 'fail' && !policy.requireRuntimeDataBinding) binding = { ...binding, status: 'warn', reason: `${binding.reason} (allowed by policy)` };
  checks.push(binding);

  // Freshness and the guest checks: exactly the SNP code path (it reads only the runtime data, the same on TDX).
  const fresh = checkFreshnessBy({
    ...(i.vtpmQuote ? { quote: i.vtpmQuote } : {}),
    ...(i.nonce ? { nonce: i.nonce } : {}),
    hcl,
    bindingOk,
    replayed: i.replayed,
  });
  checks.push(fresh.check);
  const guest = checkGuest({
    options: i.guest ? Object.assign({}, i.guest, { cache }) : { cache },
    runtimeData: hcl.runtimeData,
    bindingOk,
    now,
    policy,
    attestedPcrs: fresh.attestedPcrs,
  });
  checks.push(...guest.checks);
  checks.push(...evaluateTdxPolicy(policy, { body: quote.body, tcbStatus: status, advisoryIds, freshness: fresh.check.status }));
  checks.push(...guest.policyChecks);

  const summary = policySummary(policy);
  const tdx: TdxDetails = {
    quoteVersion: h.version,
    ...(chain.extensions ? { fmspc: chain.extensions.fmspc } : {}),
    ...(status ? { tcbStatus: status } : {}),
    advisoryIds,
    ...(tcbDate ? { tcbDate } : {}),
    ...(moduleNote ? { tdxModule: moduleNote } : {}),
    ...(qeStatus ? { qeTcbStatus: qeStatus } : {}),
    collateral: dates,
  };
  const claims = buildTdxClaims({
    quote,
    hcl,
    runtimeBound: bindingOk,
    policyHash: summary.hash,
    ...(status ? { tcbStatus: status } : {}),
    advisoryIds,
    ...(chain.extensions ? { fmspc: chain.extensions.fmspc } : {}),
    ...(fresh.attestedPcrs ? { attestedPcrs: fresh.attestedPcrs } : {}),
  });
  claims['cvm-attest-fresh-by'] = fresh.check.status === 'pass' || fresh.check.status === 'warn' ? (fresh.freshBy ?? null) : null;
  Object.assign(claims, guest.claims);
  return {
    verdict: checks.some((c) => c.status === 'fail') ? 'fail' : 'pass',
    product: undefined,
    platform: 'TDX',
    checks,
    claims,
    warnings: checks.filter((c) => c.status === 'warn').map((c) => `${c.id}: ${c.reason}`),
    verifiedAt,
    certificates: [...chain.certificates, ...col.certificates],
    policy: summary,
    ...(i.evidence ? { evidence: i.evidence } : {}),
    tdx,
  };
}
