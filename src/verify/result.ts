// The verifier's output contract, consumed by the CLI, the extension status, the sinks and the HTML report.

export type Product = 'Milan' | 'Genoa' | 'Turin';
export type CheckStatus = 'pass' | 'fail' | 'skip' | 'warn';

/** Check groups, in the order they run; one extension substatus per group. */
export type CheckGroup =
  | 'structure'
  | 'signature'
  | 'chain'
  | 'tcb'
  | 'chip-id'
  | 'crl'
  | 'runtime-data'
  | 'freshness'
  | 'policy';

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
}
