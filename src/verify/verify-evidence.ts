// verifyEvidence: every check of the offline verifier, in order, over evidence bytes and certificates.
// Pure (no I/O). Unusable input bytes throw ParseError; everything else becomes a check result, and a
// missing or wrong certificate fails closed.
import { createHash } from 'node:crypto';
import { ParseError, type VerifyInput } from '../base/errors.js';
import { defaultPolicy, isParsedPolicy, parsePolicy, policySummary, type Policy } from '../policy/policy.js';
import { evaluatePolicy } from '../platform/snp/policy.js';
import { mergeBundles, type CertificateBundle } from '../input/certificates.js';
import { parseCrl, type Crl } from '../x509/crl.js';
import { parseEvidence, type ParsedEvidence } from '../platform/snp/evidence.js';
import { toHex } from '../base/bytes.js';
import { withProduct } from '../platform/snp/report.js';
import { CertStore } from '../x509/cert-store.js';
import { certificateBundle } from '../platform/snp/amd-certificates.js';
import { checkChain } from '../platform/snp/chain.js';
import { buildClaims } from '../platform/snp/claims.js';
import { checkCrl } from '../platform/snp/crl-check.js';
import type { QuoteInput } from '../guest/freshness.js';
import { checkFreshnessBy } from '../guest/fresh-by.js';
import { checkGuest } from '../guest/guest.js';
import type { CheckResult, PolicySummary, Product, VerificationResult } from '../result/result.js';
import { checkRuntimeBinding } from '../platform/snp/runtime-binding.js';
import { checkSignature } from '../platform/snp/signature.js';
import { checkChipId, checkTcb } from '../platform/snp/tcb-chip.js';
import { otherPlatformNote } from '../platform/tdx/policy.js';
import { EMPTY_COLLATERAL, parseCollateral, parseCollateralCached, type CollateralFile } from '../platform/tdx/collateral.js';
import { parseTdxHclReport, tdxHclBytes } from '../platform/tdx/hcl.js';
import { parseTdQuote } from '../platform/tdx/quote.js';
import { verifyTdx } from '../platform/tdx/verify-tdx.js';

export interface VerifyOptions {
  /** HCL report / NV dump, bare 1184-byte SNP report, or hex text of either. */
  readonly evidence: Uint8Array;
  /** VCEK or VLEK: PEM, DER, a PEM bundle (may include ASK/ARK) or an IMDS THIM JSON body. */
  readonly vcek?: Uint8Array | string;
  /** ASK/ASVK and/or ARK (PEM bundle, any order). The ARK is used only if it equals the pinned one. */
  readonly chain?: Uint8Array | string;
  /** An AMD CRL (PEM or DER), signed by the product's ARK. */
  readonly crl?: Uint8Array | string;
  /**
   * AMD CRLs by product, for a verifier that serves every product (`serve`): the one for the product the
   * certificate chain establishes is checked. Ignored when `crl` is given.
   */
  readonly crls?: Readonly<Partial<Record<Product, Uint8Array | string>>>;
  /** Already parsed with parsePolicy; default: defaultPolicy. */
  readonly policy?: Policy;
  /** A vTPM quote for freshness. */
  readonly quote?: QuoteInput;
  /** The vTPM AK certificate: NV 0x01C101D0 contents (DER, trailing bytes allowed) or PEM. */
  readonly akCertificate?: Uint8Array;
  /** More "Global Virtual TPM CA" intermediates (PEM); used only when the pinned Azure root signed them. */
  readonly akIntermediates?: Uint8Array | string;
  /** The TCG PC Client event log (crypto-agile), replayed against the PCRs the quote covers. */
  readonly eventLog?: Uint8Array;
  /** The verifier's nonce (1-64 bytes): fresh by report when the runtime data's user-data is this nonce zero-padded (default: the quote's nonce). */
  readonly nonce?: Uint8Array;
  /** Verification time for certificate/CRL validity. Default: now. */
  readonly now?: Date;
  /** Reuse certificates parsed and verified earlier (by their bytes). Default true. */
  readonly cache?: boolean;
  /** The evidence is replayed from a capture: freshness is at best a warning. */
  readonly replayed?: boolean;
  /** Intel TDX: the TD quote (DCAP v4/v5) IMDS returned for the HCL report's TD report. Required for a TDX HCL report. */
  readonly tdQuote?: Uint8Array;
  /** Intel TDX: collateral files, each recognised by its content (TCB info, QE identity, CRLs, PEM certificates). */
  readonly collateral?: readonly CollateralFile[];
}

/** Which option a ParseError thrown by verifyEvidence came from (its `input`). */
export type { VerifyInput } from '../base/errors.js';

/** Names the option on a ParseError thrown while its bytes were parsed. */
function tagged<T>(input: VerifyInput, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw e instanceof ParseError ? e.withInput(input) : e;
  }
}

export async function verifyEvidence(options: VerifyOptions): Promise<VerificationResult> {
  return run(options, true);
}

/** The same as verifyEvidence, synchronously (a little slower on a VCEK not seen before). */
export function verifyEvidenceSync(options: VerifyOptions): VerificationResult {
  return run(options, false) as VerificationResult;
}

function run(options: VerifyOptions, async: boolean): VerificationResult | Promise<VerificationResult> {
  if (options === null || typeof options !== 'object') throw new ParseError('E_OPTIONS', 'verifyEvidence needs an options object');
  const now = options.now ?? new Date();
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new ParseError('E_OPTIONS', 'now must be a valid Date');
  const q = options.quote;
  if (
    q !== undefined &&
    (q === null ||
      !(q.message instanceof Uint8Array) ||
      !(q.signature instanceof Uint8Array) ||
      !(q.nonce instanceof Uint8Array) ||
      (q.pcrs !== undefined && (!Array.isArray(q.pcrs) || q.pcrs.length > 24 || !q.pcrs.every((x) => typeof x === 'string'))))
  ) {
    throw new ParseError('E_OPTIONS', 'quote must be { message, signature, nonce: Uint8Array; pcrs?: up to 24 hex strings }');
  }
  // An empty nonce would "match" a quote taken without qualifying data, proving no freshness at all;
  // TPM2B_DATA holds at most 64 bytes, so a longer one can never match.
  if (q !== undefined && (q.nonce.length === 0 || q.nonce.length > 64))
    throw new ParseError('E_OPTIONS', `quote nonce must be 1-64 bytes, got ${q.nonce.length}`);
  if (options.nonce !== undefined && (!(options.nonce instanceof Uint8Array) || options.nonce.length === 0 || options.nonce.length > 64))
    throw new ParseError('E_OPTIONS', 'nonce must be 1-64 bytes');
  // A policy not made by parsePolicy (built by hand) is validated here.
  const p = options.policy;
  const policy = p === undefined ? defaultPolicy : isParsedPolicy(p) ? p : parsePolicy(p);
  const summary = policySummary(policy);
  const tdxEvidence = options.evidence instanceof Uint8Array ? tdxHclBytes(options.evidence) : undefined;
  if (tdxEvidence) return runTdx(options, tdxEvidence, policy, now);
  const store = new CertStore(options.cache !== false);

  const ev = tagged('evidence', () => parseEvidence(options.evidence));
  let bundle: CertificateBundle = {};
  if (options.vcek !== undefined) bundle = tagged('vcek', () => certificateBundle(store, options.vcek!, 'VCEK'));
  if (options.chain !== undefined) bundle = tagged('chain', () => mergeBundles(bundle, certificateBundle(store, options.chain!, 'certificate chain')));
  if (options.crls !== undefined && (options.crls === null || typeof options.crls !== 'object'))
    throw new ParseError('E_OPTIONS', 'crls must be an object of CRLs by product');
  const crl = options.crl !== undefined ? tagged('crl', () => parseCrl(options.crl!)) : undefined;
  const leaf = ev.report.signingKey === 'vlek' ? bundle.vlek : bundle.vcek;
  const finish = (): VerificationResult => evaluate(options, ev, bundle, crl, store, now, policy, summary);
  return async && leaf ? store.preloadKey(leaf).then(finish) : finish();
}

function evaluate(
  options: VerifyOptions,
  ev: ParsedEvidence,
  bundle: CertificateBundle,
  crl: Crl | undefined,
  store: CertStore,
  now: Date,
  policy: Policy,
  summary: PolicySummary,
): VerificationResult {
  const checks: CheckResult[] = [];
  const r0 = ev.report;
  checks.push(
    r0.structureIssues.length
      ? { id: 'structure', group: 'structure', status: 'fail', reason: `malformed SNP report: ${r0.structureIssues.join('; ')}` }
      : {
          id: 'structure',
          group: 'structure',
          status: 'pass',
          reason: `SNP report v${r0.version}, ECDSA P-384 SHA-384${ev.hcl ? `, in an HCL report (header v${ev.hcl.headerVersion})` : ''}`,
        },
  );

  const chain = checkChain({ bundle, signingKey: r0.signingKey, reportProduct: r0.product, now, store });
  const product = chain.product;
  const report = product ? withProduct(r0, product) : r0;
  const role = chain.leafRole ?? (r0.signingKey === 'vlek' ? 'VLEK' : 'VCEK');
  checks.push(checkSignature(report, chain.leafKey, role));
  checks.push(chain.check);
  checks.push(checkTcb(report, chain.leaf, role, product, bundle.thim?.tcbm));
  checks.push(checkChipId(report, chain.leaf, role, product));
  const productCrl = crl === undefined && product !== undefined ? options.crls?.[product] : undefined;
  const crlFor = productCrl !== undefined ? tagged('crl', () => parseCrl(productCrl)) : crl;
  checks.push(checkCrl(crlFor, policy.crl, chain.ark, chain.certificates, store, now));

  let binding = checkRuntimeBinding(report, ev.hcl);
  const bindingOk = binding.status === 'pass';
  if (binding.status === 'fail' && !policy.requireRuntimeDataBinding) binding = { ...binding, status: 'warn', reason: `${binding.reason} (allowed by policy)` };
  checks.push(binding);

  const fresh = checkFreshnessBy({
    ...(options.quote ? { quote: options.quote } : {}),
    ...(options.nonce ? { nonce: options.nonce } : {}),
    ...(ev.hcl ? { hcl: ev.hcl } : {}),
    bindingOk,
    replayed: options.replayed === true,
  });
  checks.push(fresh.check);
  const guest = checkGuest({ options, ...(ev.hcl ? { runtimeData: ev.hcl.runtimeData } : {}), bindingOk, now, policy, attestedPcrs: fresh.attestedPcrs });
  checks.push(...guest.checks);
  checks.push(...evaluatePolicy(policy, { report, kind: ev.kind, product, freshness: fresh.check.status }));
  const note = otherPlatformNote(policy, 'SNP');
  if (note) checks.push(note);
  checks.push(...guest.policyChecks);

  const verdict = checks.some((c) => c.status === 'fail') ? 'fail' : 'pass';
  // Added to the claims object, not spread into a new one (V8 adds keys to a spread copy slowly).
  const claims = buildClaims({
    report,
    ...(ev.hcl ? { hcl: ev.hcl } : {}),
    product,
    runtimeBound: bindingOk,
    policyHash: summary.hash,
    ...(fresh.attestedPcrs ? { attestedPcrs: fresh.attestedPcrs } : {}),
  });
  claims['cvm-attest-fresh-by'] = fresh.check.status === 'pass' || fresh.check.status === 'warn' ? (fresh.freshBy ?? null) : null;
  Object.assign(claims, guest.claims);
  return {
    verdict,
    product,
    platform: 'SNP',
    checks,
    claims,
    warnings: checks.filter((c) => c.status === 'warn').map((c) => `${c.id}: ${c.reason}`),
    verifiedAt: now.toISOString(),
    certificates: chain.certificates,
    policy: summary,
    evidence: {
      sha256: createHash('sha256').update(options.evidence).digest('hex'),
      ...(options.quote ? { nonce: toHex(options.quote.nonce) } : {}),
    },
  };
}

/** An Intel TDX HCL report: the TD quote is required (the TD report alone is only MAC'd). */
function runTdx(options: VerifyOptions, evidence: Uint8Array, policy: Policy, now: Date): VerificationResult {
  const hcl = tagged('evidence', () => parseTdxHclReport(evidence));
  if (options.tdQuote === undefined)
    throw new ParseError('E_TDX_QUOTE_MISSING', 'this is an Intel TDX HCL report: give its TD quote (--td-quote FILE) and the collateral (--collateral)');
  if (!(options.tdQuote instanceof Uint8Array)) throw new ParseError('E_OPTIONS', 'tdQuote must be bytes');
  const quote = tagged('td-quote', () => parseTdQuote(options.tdQuote!, { cache: options.cache !== false }));
  const collateral = options.collateral
    ? tagged('collateral', () => (options.cache === false ? parseCollateral : parseCollateralCached)(options.collateral!))
    : EMPTY_COLLATERAL;
  const guest = {
    ...(options.akCertificate !== undefined ? { akCertificate: options.akCertificate } : {}),
    ...(options.akIntermediates !== undefined ? { akIntermediates: options.akIntermediates } : {}),
    ...(options.eventLog !== undefined ? { eventLog: options.eventLog } : {}),
  };
  return verifyTdx({
    hcl,
    quote,
    collateral,
    policy,
    ...(options.quote ? { vtpmQuote: options.quote } : {}),
    ...(options.nonce ? { nonce: options.nonce } : {}),
    guest,
    now,
    cache: options.cache !== false,
    replayed: options.replayed === true,
    evidence: {
      sha256: createHash('sha256').update(options.evidence).digest('hex'),
      ...(options.quote ? { nonce: toHex(options.quote.nonce) } : {}),
      tdQuoteSha256: createHash('sha256').update(options.tdQuote).digest('hex'),
    },
  });
}
