// Typed errors shared by every layer. Each carries a stable `code` (documented in the README's
// troubleshooting table) and the CLI exit code it maps to, so no caller ever needs a stack trace.

/** Exit codes of every command: 0 pass, 1 evaluated and failed, 2 unusable input/usage, 3 collection failed. */
export const ExitCode = { Pass: 0, Fail: 1, Input: 2, Collection: 3, Internal: 4 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class CvmAttestError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  constructor(code: string, message: string, exitCode: ExitCode = ExitCode.Input, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** Malformed evidence, certificate, policy or settings bytes. Thrown by every pure parser. */
export class ParseError extends CvmAttestError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, ExitCode.Input, options);
  }
}

/** A file or option the user gave cannot be used (missing, unreadable, contradictory). */
export class InputError extends CvmAttestError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, ExitCode.Input, options);
  }
}

/** Evidence could not be collected: no TPM, TPM error, IMDS unreachable with nothing cached. */
export class CollectionError extends CvmAttestError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, ExitCode.Collection, options);
  }
}

export function isCvmAttestError(e: unknown): e is CvmAttestError {
  return e instanceof CvmAttestError;
}
