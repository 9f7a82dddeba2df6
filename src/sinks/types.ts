// What the sinks consume: one run's outcome, from the collector (its AttestOutcome is a
// VerifiedOutcome), from a run that failed, or from `cvm-attest serve` (a verifier's record).
import type { VerificationResult } from '../result/result.js';
import type { InstanceIdentity } from '../collect/identity.js';

/** The VM's identity as the collector read it from IMDS; every field optional (off Azure there is none, a verifier's claim may be partial). */
export type SinkIdentity = Partial<Pick<InstanceIdentity, 'vmId' | 'resourceId' | 'subscriptionId' | 'resourceGroupName' | 'name' | 'location' | 'vmSize'>>;

/** A run that produced a verdict. */
export interface VerifiedOutcome {
  readonly result: VerificationResult;
  readonly identity?: SinkIdentity | undefined;
  readonly warnings?: readonly string[];
  /** Set by `cvm-attest serve`: the record is the verifier's, keyed by the attested vmUniqueId. */
  readonly reporter?: {
    readonly by: 'verifier';
    readonly attestedVmId?: string | undefined;
    readonly tokenId?: string | undefined;
    readonly claimed?: SinkIdentity | undefined;
  };
}

/** A run whose evidence could not be collected (or verified at all). */
export interface FailedOutcome {
  /** What the run threw: normally a CvmAttestError (CollectionError...), but any value is accepted. */
  readonly error: unknown;
  readonly identity?: SinkIdentity | undefined;
  readonly warnings?: readonly string[];
}

export type SinkOutcome = VerifiedOutcome | FailedOutcome;

/** Code and one-line message of whatever a failed run threw (the worker may pass any value). */
export function errorFacts(e: unknown): { code: string; message: string } {
  const o = (typeof e === 'object' && e !== null ? e : {}) as { code?: unknown; name?: unknown; message?: unknown };
  const code = typeof o.code === 'string' && o.code ? o.code : typeof o.name === 'string' && o.name ? o.name : 'Error';
  const message = typeof o.message === 'string' ? o.message : typeof e === 'string' ? e : 'unknown error';
  return { code: code.slice(0, 100), message: message.replace(/\s+/g, ' ').trim().slice(0, 1024) };
}

export function isFailedOutcome(o: SinkOutcome): o is FailedOutcome {
  return !('result' in o && o.result);
}

export interface SinkLogger {
  info(msg: string, meta?: object): void;
  warn(msg: string, meta?: object): void;
  error(msg: string, meta?: object): void;
}

/** One sink's delivery state, shown in the extension status and by `cvm-attest status`. */
export interface SinkDelivery {
  readonly name: string;
  readonly status: 'delivered' | 'queued' | 'failed' | 'disabled';
  readonly message: string;
  readonly queueDepth: number;
  readonly lastDeliveryAt?: string;
  /** Records dropped since the spool was created (spool full, or refused alone by the service). */
  readonly dropped?: number;
  /** When the last drop happened and why: shown as a warning for a day. */
  readonly lastDropAt?: string;
  readonly lastDropReason?: string;
}
