// attest(): collect (collector.ts) then verify. Used by the `attest` command, the extension worker and
// the sinks; `verify --bundle` uses verifyCollected().
import { performance } from 'node:perf_hooks';
import type { VerificationResult } from '../result/result.js';
import { verifyEvidence, type VerifyOptions, type Policy } from '../index.js';
import { collect, type CollectOptions } from './collector.js';
import { pcrsForPolicy } from '../policy/guest.js';
import type { Evidence } from './evidence.js';
import type { InstanceIdentity } from './identity.js';

export { collectEvidence, type CollectOptions } from './collector.js';
export type { Evidence, QuoteEvidence } from './evidence.js';
export type { InstanceIdentity } from './identity.js';

export type { Policy } from '../index.js';

export interface AttestOptions extends CollectOptions {
  policy?: Policy;
}

export interface AttestTimings {
  /** TPM read + quote (or replay). */
  readonly tpmMs: number;
  /** Certificates (cache or THIM) after the TPM read; the identity fetch runs alongside the TPM read. */
  readonly certificatesMs: number;
  readonly verifyMs: number;
  readonly totalMs: number;
}

export interface AttestOutcome {
  readonly result: VerificationResult;
  readonly identity?: InstanceIdentity;
  readonly evidence: Evidence;
  /** Collection warnings (also appended to result.warnings). */
  readonly warnings: readonly string[];
  readonly timings: AttestTimings;
}

/** Verifies evidence (collected or read from a bundle) with the verifier; collection warnings are appended to the result's. */
export async function verifyCollected(
  evidence: Evidence,
  options: { policy?: Policy; now?: Date; crl?: Uint8Array | string; nonce?: Uint8Array } = {},
): Promise<VerificationResult> {
  const q = evidence.quote;
  // PCR values only when some were recorded (replays of older captures have none): the verifier
  // then checks signature and nonce and says the pcrDigest was not checked.
  const pcrs = q && q.pcrs.some((v) => v !== '') ? { pcrs: [...q.pcrs] } : {};
  const verifyOptions: VerifyOptions = {
    evidence: evidence.hclReport,
    ...(evidence.tdQuote ? { tdQuote: evidence.tdQuote, collateral: evidence.collateral ?? [] } : { vcek: evidence.vcekPem, chain: evidence.chainPem }),
    ...(q ? { quote: { message: q.message, signature: q.signature, nonce: q.nonce, ...pcrs } } : {}),
    ...(evidence.akCertificate ? { akCertificate: evidence.akCertificate } : {}),
    ...(evidence.eventLog ? { eventLog: evidence.eventLog } : {}),
    // The verifier's own nonce, else the one the collector wrote to NV 0x01400002 when the report carries it.
    ...(options.nonce ? { nonce: options.nonce } : evidence.userData?.matched ? { nonce: evidence.userData.nonce } : {}),
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.crl !== undefined ? { crl: options.crl } : {}),
    replayed: evidence.replayed,
  };
  const result = await verifyEvidence(verifyOptions);
  if (evidence.warnings.length === 0) return result;
  return { ...result, warnings: [...result.warnings, ...evidence.warnings.filter((w) => !result.warnings.includes(w))] };
}

/** Collects and verifies. The verdict is in `result`; collection failures throw CollectionError (exit 3). */
export async function attest(options: AttestOptions = {}): Promise<AttestOutcome> {
  const t0 = performance.now();
  // Without --pcrs, quote what the policy judges too (allowedPcrs, PCR 8 for the kernel command line).
  const pcrs = options.pcrs ?? (options.policy ? pcrsForPolicy(options.policy) : undefined);
  const { evidence, tpmMs, certificatesMs } = await collect({ ...options, ...(pcrs ? { pcrs } : {}) });
  const t1 = performance.now();
  const result = await verifyCollected(evidence, { ...(options.policy ? { policy: options.policy } : {}), ...(options.now ? { now: options.now } : {}) });
  const t2 = performance.now();
  return {
    result,
    ...(evidence.instance ? { identity: evidence.instance } : {}),
    evidence,
    warnings: evidence.warnings,
    timings: { tpmMs, certificatesMs, verifyMs: t2 - t1, totalMs: t2 - t0 },
  };
}
