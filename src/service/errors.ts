// The service's typed errors: each has a closed `E_` code and the HTTP status it is answered with.
// Only `message` and `code` ever reach a client; causes stay in the log, never a stack trace.
import { CvmAttestError, ExitCode } from '../base/errors.js';

export type ServiceErrorCode =
  | 'E_NONCE_MALFORMED'
  | 'E_NONCE_UNKNOWN'
  | 'E_NONCE_EXPIRED'
  | 'E_NONCE_USED'
  | 'E_REQUEST_JSON'
  | 'E_REQUEST_SCHEMA'
  | 'E_REQUEST_EVIDENCE'
  | 'E_REQUEST_TOO_LARGE'
  | 'E_REQUEST_TIMEOUT'
  | 'E_CONTENT_TYPE'
  | 'E_METHOD'
  | 'E_NOT_FOUND'
  | 'E_REPLAY_STORE'
  | 'E_OVERLOADED'
  | 'E_SHUTTING_DOWN'
  | 'E_INTERNAL';

export class ServiceError extends CvmAttestError {
  readonly status: number;
  constructor(code: ServiceErrorCode, message: string, status: number, options?: { cause?: unknown }) {
    super(code, message, status >= 500 ? ExitCode.Internal : ExitCode.Input, options);
    this.status = status;
  }
}
