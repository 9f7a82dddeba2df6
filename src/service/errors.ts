// The service's typed errors: each has a closed `E_` code and the HTTP status it is answered with.
// Only `message` and `code` ever reach a client; causes stay in the log, never a stack trace.
import { CvmAttestError, ExitCode, type ServiceErrorCode } from '../base/errors.js';

/** A ServiceError's code is one of SERVICE_ERROR_CODES (base/errors.ts, part of every code's union). */
export class ServiceError extends CvmAttestError {
  declare readonly code: ServiceErrorCode;
  readonly status: number;
  constructor(code: ServiceErrorCode, message: string, status: number, options?: { cause?: unknown }) {
    super(code, message, status >= 500 ? ExitCode.Internal : ExitCode.Input, options);
    this.status = status;
  }
}
