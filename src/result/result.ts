// The verifier's output contract, consumed by the CLI, the extension status, the sinks and the HTML report.

export type Product = 'Milan' | 'Genoa' | 'Turin';
export type CheckStatus = 'pass' | 'fail' | 'skip' | 'warn';

export type { CheckGroup } from './check-groups.js';
import type { CheckGroup } from './check-groups.js';

export interface CheckResult {
  /** Stable id, `<group>` or `<group>.<name>` (e.g. `policy.debug`). */
  readonly id: string;
  readonly group: CheckGroup;
  readonly status: CheckStatus;
  /** One line a person can act on. */
  readonly reason: string;
}

/** MAA-style claims (`x-ms-*` with MAA's exact names/formats) plus our own `cvm-attest-*` claims. */
export type Claims = Readonly<Record<string, unknown>>;

export interface VerificationResult {
  readonly verdict: 'pass' | 'fail';
  readonly product: Product | undefined;
  readonly checks: readonly CheckResult[];
  readonly claims: Claims;
  /** Human-readable warnings (warn checks, stale CRL, cached certificate used...). */
  readonly warnings: readonly string[];
  /** ISO 8601 time the verification was evaluated at (the `now` option). */
  readonly verifiedAt: string;
  /** The certificates checked (empty when none could be parsed). */
  readonly certificates: readonly CertificateInfo[];
  readonly policy: PolicySummary;
  /** What was verified: the evidence's digest and the quote's nonce (absent in results made before them). */
  readonly evidence?: EvidenceSummary;
  /** Which TEE the evidence is from (absent in results made before TDX support: SNP). */
  readonly platform?: Platform;
  /** Intel TDX only: what the HTML report, status and sinks show beyond the checks and claims. */
  readonly tdx?: TdxDetails;
}

/** Identifies the evidence a result is about, for reports. */
export interface EvidenceSummary {
  /** SHA-256 (lowercase hex) of the evidence bytes as given to the verifier (`sha256sum` of the file). */
  readonly sha256: string;
  /** The vTPM quote's expected nonce (lowercase hex), when a quote was given. */
  readonly nonce?: string;
  /** Intel TDX: SHA-256 (lowercase hex) of the TD quote bytes as given (`sha256sum td-quote.bin`). */
  readonly tdQuoteSha256?: string;
}

export type Platform = 'SNP' | 'TDX';

export interface TdxDetails {
  readonly quoteVersion: number;
  readonly fmspc?: string;
  readonly tcbStatus?: string;
  readonly advisoryIds: readonly string[];
  readonly tcbDate?: string;
  readonly tdxModule?: string;
  readonly qeTcbStatus?: string;
  /** Collateral issue / next-update dates (ISO 8601). */
  readonly collateral: readonly { readonly what: string; readonly issueDate?: string; readonly nextUpdate?: string }[];
}

/** One certificate of the chain as checked, for reports (HTML, status). */
export interface CertificateInfo {
  readonly role: 'VCEK' | 'VLEK' | 'ASK' | 'ASVK' | 'ARK' | 'PCK' | 'PCK-CA' | 'SGX-ROOT' | 'TCB-SIGNING';
  readonly subject: string;
  /** The subject's CN attribute as parsed (the subject text cannot be split reliably: values may hold "CN="). */
  readonly subjectCn?: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** SHA-256 of the DER certificate, lowercase hex. */
  readonly sha256: string;
  /** True for the ARK when it is the product's pinned root (the only trusted anchor). */
  readonly pinned: boolean;
}

/** TCB component values by name (Milan/Genoa: bootloader, tee, snp, microcode; Turin adds fmc). */
export type TcbComponents = Readonly<Record<string, number>>;

/** What a report needs about the policy that judged the evidence. */
export interface PolicySummary {
  /** SHA-256 (lowercase hex) of the canonical JSON of the effective policy. */
  readonly hash: string;
  /** Minimum TCB per component, when the policy sets one. */
  readonly minimumTcb?: TcbComponents;
  /** The effective policy's rules (defaults filled): the document the hash covers, parsed. */
  readonly rules?: Readonly<Record<string, unknown>>;
}
