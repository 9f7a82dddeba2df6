// Typed errors shared by every layer. Each carries a stable `code` (documented in the README's
// troubleshooting table) and the CLI exit code it maps to, so no caller ever needs a stack trace.

/**
 * Exit codes of every command: 0 pass, 1 evaluated and failed, 2 unusable input/usage, 3 collection
 * failed, 4 internal. The extension's status codes are the same numbers, from this table.
 */
export const ExitCode = { Pass: 0, Fail: 1, Input: 2, Collection: 3, Internal: 4 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The codes `cvm-attest serve` answers a client with (each throw in src/service/ gives its HTTP status). */
export const SERVICE_ERROR_CODES = [
  'E_CONTENT_TYPE',
  'E_INTERNAL',
  'E_METHOD',
  'E_NOT_FOUND',
  'E_OVERLOADED',
  'E_REPLAY_STORE',
  'E_SHUTTING_DOWN',
  'E_NONCE_EXPIRED',
  'E_NONCE_MALFORMED',
  'E_NONCE_UNKNOWN',
  'E_NONCE_USED',
  'E_REQUEST_EVIDENCE',
  'E_REQUEST_JSON',
  'E_REQUEST_SCHEMA',
  'E_REQUEST_TIMEOUT',
  'E_REQUEST_TOO_LARGE',
] as const;
export type ServiceErrorCode = (typeof SERVICE_ERROR_CODES)[number];

/**
 * Every error code, closed: a constructor takes only these, so a code thrown anywhere is one the
 * README's troubleshooting table lists (test/readme checks the table against this array).
 */
export const ERROR_CODES = [
  'E_AK_CERT',
  'E_AK_CHAIN',
  'E_BUNDLE_DIGEST',
  'E_BUNDLE_FORMAT',
  'E_BUNDLE_MISSING',
  'E_CERT',
  'E_CERT_EXT',
  'E_CERT_INPUT',
  'E_COLLATERAL',
  'E_CRL',
  'E_DER',
  'E_EVENTLOG',
  'E_EVENTLOG_BANK',
  'E_EVENTLOG_FORMAT',
  'E_EVENTLOG_READ',
  'E_EVENTLOG_SIZE',
  'E_EVENTLOG_TRUNCATED',
  'E_EVIDENCE',
  'E_EVIDENCE_EMPTY',
  'E_EVIDENCE_FORMAT',
  'E_EVIDENCE_SIZE',
  'E_FILE',
  'E_FILE_SIZE',
  'E_FILE_TYPE',
  'E_HANDLER_ENV',
  'E_HCL_HASH_TYPE',
  'E_HCL_HEADER',
  'E_HCL_LENGTH',
  'E_HCL_REPORT_SIZE',
  'E_HCL_REPORT_TYPE',
  'E_HCL_REQUEST_TYPE',
  'E_HCL_SIGNATURE',
  'E_HCL_SIZE',
  'E_HCL_STATUS',
  'E_HCL_TDX',
  'E_HCL_TRUNCATED',
  'E_HCL_VERSION',
  'E_IMDS_ABORTED',
  'E_IMDS_BAD_RESPONSE',
  'E_IMDS_ENDPOINT',
  'E_IMDS_HTTP',
  'E_IMDS_NOT_FOUND',
  'E_IMDS_SERVER',
  'E_IMDS_THROTTLED',
  'E_IMDS_TIMEOUT',
  'E_IMDS_UNREACHABLE',
  'E_NONCE',
  'E_NO_INSTALLATION',
  'E_OPTIONS',
  'E_OUT',
  'E_PCK_EXT',
  'E_PCRS',
  'E_PCS_ABORTED',
  'E_PCS_BAD_RESPONSE',
  'E_PCS_ENDPOINT',
  'E_PCS_HTTP',
  'E_PCS_NOT_FOUND',
  'E_PCS_UNREACHABLE',
  'E_POLICY',
  'E_POLICY_FILE',
  'E_QE_IDENTITY',
  'E_REPLAY_MISSING',
  'E_REPLAY_NONCE',
  'E_REPLAY_PCRS',
  'E_REPLAY_QUOTE',
  'E_REPLAY_TOO_LARGE',
  'E_RUNTIME_AK',
  'E_SETTINGS',
  'E_LAST_RESULT',
  'E_SIGNING_KEY',
  'E_SIGNING_KEY_MODE',
  'E_SINKS_SETTINGS',
  'E_SNP_REPORT',
  'E_SNP_REPORT_SIZE',
  'E_SNP_REPORT_VERSION',
  'E_SPOOL_LIMIT',
  'E_TCB_INFO',
  'E_TDX_QUOTE',
  'E_TDX_QUOTE_MISSING',
  'E_TD_QUOTE_FILE',
  'E_TD_REPORT',
  'E_THIM_TCBM_MISMATCH',
  'E_THIM_WRONG_CHIP',
  'E_TPM_ABORTED',
  'E_TPM_ATTEST',
  'E_TPM_ATTEST_MAGIC',
  'E_TPM_ATTEST_TYPE',
  'E_TPM_BUSY',
  'E_TPM_CLOSED',
  'E_TPM_CONNECTION_CLOSED',
  'E_TPM_DEVICE_ACCESS',
  'E_TPM_DEVICE_BUSY',
  'E_TPM_EVIDENCE',
  'E_TPM_FIELD',
  'E_TPM_IO',
  'E_TPM_KEY_TYPE',
  'E_TPM_NONCE',
  'E_TPM_NO_DEVICE',
  'E_TPM_NV_EMPTY',
  'E_TPM_NV_SIZE',
  'E_TPM_OPTION',
  'E_TPM_PCRS',
  'E_TPM_PCRS_CHANGED',
  'E_TPM_PCR_BANK',
  'E_TPM_PROTOCOL',
  'E_TPM_QUOTE_NONCE',
  'E_TPM_QUOTE_PCRS',
  'E_TPM_REPLAY',
  'E_TPM_RESPONSE_SIZE',
  'E_TPM_RESPONSE_TAG',
  'E_TPM_SIG_SCHEME',
  'E_TPM_TIMEOUT',
  'E_TPM_TRAILING',
  'E_TPM_TRANSPORT',
  'E_TPM_TRUNCATED',
  'E_TPM_UNREACHABLE',
  'E_TRUNCATED',
  'E_USAGE',
  'E_VERIFIER_REFUSED',
  'E_VERIFIER_UNAVAILABLE',
  'E_VERIFIER_URL',
  'E_WORKER_LOCK',
  ...SERVICE_ERROR_CODES,
] as const;

/**
 * The one family of codes built at run time: a TPM response code's name (TpmResponseError), e.g.
 * E_TPM_RC_HANDLE. The TPM defines the names, so the family is documented, not each member.
 */
export const TPM_RC_CODE_PREFIX = 'E_TPM_RC_';
export type TpmRcErrorCode = `${typeof TPM_RC_CODE_PREFIX}${string}`;

export type ErrorCode = (typeof ERROR_CODES)[number] | TpmRcErrorCode;

export class CvmAttestError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: ExitCode;
  constructor(code: ErrorCode, message: string, exitCode: ExitCode = ExitCode.Input, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** Which option of verifyEvidence the bytes of a ParseError came from. */
export type VerifyInput = 'evidence' | 'vcek' | 'chain' | 'crl' | 'td-quote' | 'collateral';

/** Malformed evidence, certificate, policy or settings bytes. Thrown by every pure parser. */
export class ParseError extends CvmAttestError {
  #input: VerifyInput | undefined;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; input?: VerifyInput }) {
    super(code, message, ExitCode.Input, options);
    this.#input = options?.input;
  }

  /** The input the bytes came from, when the caller that parsed them said (verifyEvidence does). */
  get input(): VerifyInput | undefined {
    return this.#input;
  }

  /**
   * Names the input, unless an inner caller already did (it knew better), and returns the same
   * error, so it is rethrown with its stack and cause.
   */
  withInput(input: VerifyInput): this {
    this.#input ??= input;
    return this;
  }
}

/** A file or option the user gave cannot be used (missing, unreadable, contradictory). */
export class InputError extends CvmAttestError {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, ExitCode.Input, options);
  }
}

/** Evidence could not be collected: no TPM, TPM error, IMDS unreachable with nothing cached. */
export class CollectionError extends CvmAttestError {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, ExitCode.Collection, options);
  }
}

export function isCvmAttestError(e: unknown): e is CvmAttestError {
  return e instanceof CvmAttestError;
}
