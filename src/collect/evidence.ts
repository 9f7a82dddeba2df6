// What the collector hands to the verifier, to a bundle and to the extension: types only.
import type { InstanceIdentity } from './identity.js';
import type { QuoteInput } from '../guest/freshness.js';
import type { CollateralFile } from '../platform/tdx/collateral.js';

/** The verifier's QuoteInput (message, signature, nonce), as collected: raw RSASSA-PKCS1-v1_5 SHA-256 signature. */
export interface QuoteEvidence extends QuoteInput {
  /** SHA-256 PCR values as lowercase hex, index = PCR number ('' for PCRs not selected). */
  readonly pcrs: readonly string[];
  /** PCR numbers the quote covers. */
  readonly pcrSelection: readonly number[];
}

export interface UserDataEvidence {
  /** The verifier's nonce (1-64 bytes; the index holds it zero-padded to 64). */
  readonly nonce: Uint8Array;
  /** The report read afterwards carries it as user-data (the paravisor made a new report). */
  readonly matched: boolean;
}

/** Where the certificates came from: IMDS now, a fresh cache entry, or a stale one after IMDS failed. */
export type CertificateSource = 'imds' | 'cache' | 'cache-stale' | 'bundle' | 'files' | 'pcs';

export interface Evidence {
  /** The meaningful bytes of NV 0x01400001 (or replayed evidence). */
  readonly hclReport: Uint8Array;
  readonly vcekPem: string;
  /** ASK + ARK as served (never trusted as anchors: the verifier pins the ARK). */
  readonly chainPem: string;
  readonly quote?: QuoteEvidence;
  /** Intel TDX: the TD quote IMDS returned for the TD report (vcekPem and chainPem are then empty). */
  readonly tdQuote?: Uint8Array;
  /** Intel TDX: the collateral used (TCB info, QE identity, CRLs, issuer chains). */
  readonly collateral?: readonly CollateralFile[];
  /** The vTPM AK certificate (NV 0x01C101D0 contents), when the vTPM has one. */
  readonly akCertificate?: Uint8Array;
  /** The TCG event log (binary_bios_measurements), when readable. */
  readonly eventLog?: Uint8Array;
  /** The nonce written to NV 0x01400002 (user data) before the HCL report was read, and whether the report carries it. */
  readonly userData?: UserDataEvidence;
  readonly instance?: InstanceIdentity;
  /** Things a person should know (cached certificate used, IMDS identity unavailable...). */
  readonly warnings: readonly string[];
  /** True when the evidence came from a file (file: transport or bundle), not a live TPM. */
  readonly replayed: boolean;
  /** The TPM transport string used ('bundle:DIR' for bundles). */
  readonly transport: string;
  readonly certificateSource: CertificateSource;
}
