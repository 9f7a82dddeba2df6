// One attestation, start to finish, as a worker thread runs it: decode the evidence of a schema-valid
// request, verify it against the nonce, add the service's own checks, and sign a token on a pass.
// Pure apart from the signing key; no HTTP, no state.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { CvmAttestError } from '../base/errors.js';
import { parsePolicy, type Policy } from '../policy/policy.js';
import { verifyEvidence } from '../verify/verify-evidence.js';
import type { CheckResult, Claims, Product, VerificationResult } from '../result/result.js';
import type { CollateralFile } from '../platform/tdx/collateral.js';
import type { SigningKey, TokenAlg } from './keys.js';
import type { AttestRequest } from './request.js';
import { signToken } from './token.js';

export interface VerifierConfig {
  /** The effective policy as JSON (parsed once per worker). */
  readonly policy: unknown;
  /** PEM CRLs by product, from --collateral. */
  readonly crls: Readonly<Partial<Record<Product, string>>>;
  /** Intel TDX collateral from --collateral, for TDX requests that bring none. */
  readonly tdxCollateral?: readonly CollateralFile[];
  readonly issuer: string;
  readonly jwksUri: string;
  readonly tokenLifetimeSeconds: number;
  /** The signing key (PKCS#8 PEM; it stays in this process) and its published identity. */
  readonly key: { readonly pem: string; readonly kid: string; readonly alg: TokenAlg };
  /** Send the whole outcome back with each answer (the service has a verdict listener). */
  readonly withOutcome?: boolean;
}

export interface AttestOutcome {
  readonly verdict: 'pass' | 'fail';
  readonly platform: 'sevsnp' | 'tdx';
  readonly checks: readonly CheckResult[];
  readonly claims: Claims;
  readonly fresh: boolean;
  readonly token?: string;
  readonly jti?: string;
  /** The vmUniqueId from runtime data bound to the report (uppercase GUID as the HCL writes it), when attested. */
  readonly attestedVmId?: string;
  readonly product?: Product;
  readonly warnings: readonly string[];
  readonly policyHash: string;
  readonly verifiedAt: string;
}

/**
 * What a worker hands back to the HTTP thread: the 200 body, already serialised here (a string crosses
 * threads as one copy; the outcome's object graph cost ~0.1 ms a request to clone across and serialise
 * again on the busy thread), the few fields the metrics and the log need, and the whole outcome only
 * for a verdict listener (the fleet records) when the service has one.
 */
export interface AttestAnswer {
  /** `{"verdict", "checks", "claims", "token"?}` as JSON: the 200 response of POST /v1/attest. */
  readonly body: string;
  readonly verdict: AttestOutcome['verdict'];
  readonly platform: AttestOutcome['platform'];
  readonly fresh: boolean;
  readonly attestedVmId?: string;
  readonly jti?: string;
  /** The ids of the failed checks. */
  readonly failed: readonly string[];
  readonly outcome?: AttestOutcome;
}

/** The answer to a request from its outcome; `withOutcome` keeps the outcome for a verdict listener. */
export function answerOf(o: AttestOutcome, withOutcome: boolean): AttestAnswer {
  const json = JSON.stringify({ verdict: o.verdict, checks: o.checks, claims: o.claims });
  // The token is a compact JWS we made (base64url and dots only): nothing in it needs escaping, and
  // JSON.stringify would scan all ~10 KB of it for escapes (~30 us) to copy it unchanged.
  const body = o.token === undefined ? json : `${json.slice(0, -1)},"token":"${o.token}"}`;
  const failed: string[] = [];
  for (const c of o.checks) if (c.status === 'fail') failed.push(c.id);
  return {
    body,
    verdict: o.verdict,
    platform: o.platform,
    fresh: o.fresh,
    ...(o.attestedVmId !== undefined ? { attestedVmId: o.attestedVmId } : {}),
    ...(o.jti !== undefined ? { jti: o.jti } : {}),
    failed,
    ...(withOutcome ? { outcome: o } : {}),
  };
}

/** A request whose evidence cannot be used at all (not a failed verification). */
export class EvidenceError extends CvmAttestError {}

const b64 = (s: string): Buffer => Buffer.from(s, 'base64');
const certInput = (s: string): string | Buffer => (s.includes('-----BEGIN') || s.trimStart().startsWith('{') ? s : b64(s));

function attestedVmId(claims: Claims): string | undefined {
  const runtime = claims['x-ms-runtime'] as Record<string, unknown> | undefined;
  const conf = runtime?.['vm-configuration'] as Record<string, unknown> | undefined;
  const id = conf?.vmUniqueId;
  return typeof id === 'string' && /^[0-9A-Fa-f-]{36}$/.test(id) ? id : undefined;
}

export class Verifier {
  readonly #config: VerifierConfig;
  readonly #policy: Policy;
  readonly #key: SigningKey;
  constructor(config: VerifierConfig) {
    this.#config = config;
    this.#policy = parsePolicy(config.policy);
    const privateKey = createPrivateKey(config.key.pem);
    this.#key = { kid: config.key.kid, alg: config.key.alg, privateKey, publicKey: createPublicKey(privateKey), publicJwk: {}, source: 'worker' };
  }

  async attest(req: AttestRequest, now: Date = new Date()): Promise<AttestOutcome> {
    const ev = req.evidence;
    if (ev.hclReport === undefined)
      throw new EvidenceError(
        'E_REQUEST_EVIDENCE',
        'evidence needs hclReport (on TDX too: the TD quote alone carries neither the runtime data nor the vTPM key)',
      );
    const nonce = Buffer.from(req.nonce, 'hex');
    const quote = ev.quote
      ? {
          message: b64(ev.quote.message),
          signature: b64(ev.quote.signature),
          nonce,
          ...(ev.quote.pcrs && ev.quote.pcrs.some((p) => p !== '') ? { pcrs: ev.quote.pcrs } : {}),
        }
      : undefined;
    // TDX: the request's collateral (base64 file contents, recognised by content), else the service's.
    const collateral: readonly CollateralFile[] | undefined =
      ev.tdQuote === undefined
        ? undefined
        : ev.collateral && Object.keys(ev.collateral).length
          ? Object.entries(ev.collateral).map(([name, v]) => ({ name, bytes: b64(v) }))
          : (this.#config.tdxCollateral ?? []);
    let result: VerificationResult;
    try {
      result = await verifyEvidence({
        evidence: b64(ev.hclReport),
        ...(ev.vcek !== undefined ? { vcek: certInput(ev.vcek) } : {}),
        ...(ev.chain ? { chain: certInput(ev.chain) } : {}),
        ...(ev.tdQuote !== undefined ? { tdQuote: b64(ev.tdQuote), collateral: collateral! } : {}),
        ...(quote ? { quote } : {}),
        // The same nonce for the report: fresh by report when the VM wrote it to NV 0x01400002 and
        // the HCL report came back with it as user-data (the freshness check says which: report, quote or both).
        nonce,
        ...(ev.akCertificate !== undefined ? { akCertificate: b64(ev.akCertificate) } : {}),
        ...(ev.eventLog !== undefined ? { eventLog: b64(ev.eventLog) } : {}),
        // The CRL is per product, known once the chain is checked: verifyEvidence picks it.
        crls: this.#config.crls,
        policy: this.#policy,
        now,
      });
    } catch (e) {
      if (e instanceof CvmAttestError) throw new EvidenceError('E_REQUEST_EVIDENCE', `evidence: ${e.message}`);
      throw e;
    }
    const fresh = result.checks.some((c) => c.id === 'freshness' && c.status === 'pass');
    const id = attestedVmId(result.claims);
    const base = {
      verdict: result.verdict,
      platform: result.platform === 'TDX' ? ('tdx' as const) : ('sevsnp' as const),
      checks: result.checks,
      claims: result.claims,
      fresh,
      ...(id ? { attestedVmId: id } : {}),
      ...(result.product ? { product: result.product } : {}),
      warnings: result.warnings,
      policyHash: result.policy.hash,
      verifiedAt: result.verifiedAt,
    };
    if (result.verdict !== 'pass') return base;
    const t = signToken(this.#key, {
      result,
      nonce: req.nonce,
      fresh,
      issuer: this.#config.issuer,
      jwksUri: this.#config.jwksUri,
      lifetimeSeconds: this.#config.tokenLifetimeSeconds,
      now,
    });
    return { ...base, token: t.token, jti: t.jti };
  }
}
