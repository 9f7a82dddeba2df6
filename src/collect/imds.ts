// Azure Instance Metadata Service client: THIM certificates and instance metadata. Plain node:http
// to the link-local endpoint (never a proxy), header `Metadata: true`, per-attempt connect and total
// timeouts, bounded retries with jittered backoff on 429 / 5xx / network errors honouring Retry-After.
import { CollectionError, InputError, type ErrorCode } from '../base/errors.js';
import { HttpFailure, httpGet, type HttpResponse } from './http.js';
import { parseRetryAfter, withRetry, type AttemptOutcome } from './retry.js';
import { parseThimResponse, THIM_MAX_BYTES, type ThimCertificates } from '../input/thim.js';
import { INSTANCE_MAX_BYTES, parseInstanceMetadata, type InstanceIdentity } from './identity.js';
import { escapeTextCapped } from '../base/text-escape.js';

export const DEFAULT_IMDS_ENDPOINT = 'http://169.254.169.254';
export const IMDS_ENDPOINT_ENV = 'CVM_ATTEST_IMDS_ENDPOINT';
export const THIM_PATH = '/metadata/THIM/amd/certification';
export const INSTANCE_PATH = '/metadata/instance?api-version=2023-07-01';

export interface ImdsOptions {
  /** Base URL (scheme, host, port). Default: env CVM_ATTEST_IMDS_ENDPOINT, else http://169.254.169.254. */
  endpoint?: string;
  signal?: AbortSignal;
  /** Per attempt. Default 2000 ms. */
  connectTimeoutMs?: number;
  /** Per attempt, whole exchange. Default 5000 ms. */
  timeoutMs?: number;
  /** Attempts in total. Default 4. */
  attempts?: number;
  /** Backoff base and cap. Defaults 250 ms, 4000 ms. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Longest Retry-After honoured. Default 10000 ms. */
  retryAfterCapMs?: number;
  random?: () => number;
  /** Told about each failed attempt that is retried. */
  onRetry?: (message: string) => void;
}

/** IMDS could not give an answer (unreachable, timed out, HTTP error). `status` when it answered. */
export class ImdsError extends CollectionError {
  readonly status: number | undefined;
  constructor(code: ErrorCode, message: string, status?: number, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
  }
}

/** The endpoint to use: explicit option, then env, then the link-local default. Only http URLs without a path. */
export function resolveImdsEndpoint(explicit?: string, env: NodeJS.ProcessEnv = process.env): URL {
  const raw = explicit ?? (env[IMDS_ENDPOINT_ENV] || DEFAULT_IMDS_ENDPOINT);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InputError('E_IMDS_ENDPOINT', `IMDS endpoint "${raw}" is not a URL (expected e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== 'http:' || url.username || url.password || (url.pathname !== '/' && url.pathname !== '') || url.search) {
    throw new InputError('E_IMDS_ENDPOINT', `IMDS endpoint "${raw}" must be a plain http://host[:port] URL`);
  }
  return url;
}

/** `HTTP 400: <IMDS's error text>`: its JSON "error" field, else the start of the body; escaped, capped. */
function describeStatus(res: HttpResponse): string {
  const text = res.body.subarray(0, 2048).toString('utf8');
  let detail = text.trim();
  try {
    const j = JSON.parse(text) as { error?: unknown; error_description?: unknown };
    if (typeof j.error === 'string') detail = typeof j.error_description === 'string' ? `${j.error}: ${j.error_description}` : j.error;
  } catch {
    /* not JSON (or cut at 2 KiB): the text itself */
  }
  return `HTTP ${res.status}${detail ? `: ${escapeTextCapped(detail, 200)}` : ''}`;
}

/** GETs `path` (with query) from IMDS with retries; resolves to the 200 body. */
export async function imdsGet(path: string, maxBytes: number, options: ImdsOptions = {}): Promise<Buffer> {
  return imdsCall(path, maxBytes, options);
}

/** POSTs a JSON body to IMDS (`/acc/tdquote`) with the same retries, caps and errors as imdsGet. */
export async function imdsPostJson(path: string, json: unknown, maxBytes: number, options: ImdsOptions = {}): Promise<Buffer> {
  return imdsCall(path, maxBytes, options, Buffer.from(JSON.stringify(json)));
}

async function imdsCall(path: string, maxBytes: number, options: ImdsOptions, body?: Buffer): Promise<Buffer> {
  const base = resolveImdsEndpoint(options.endpoint);
  const url = new URL(path, base);
  const what = `IMDS ${url.pathname}`;
  const attempt = async (): Promise<AttemptOutcome<Buffer>> => {
    let res: HttpResponse;
    try {
      res = await httpGet(url, {
        headers: { Metadata: 'true', Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}) },
        ...(body ? { method: 'POST' as const, body } : {}),
        connectTimeoutMs: options.connectTimeoutMs ?? 2000,
        totalTimeoutMs: options.timeoutMs ?? 5000,
        maxBytes,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (e) {
      if (!(e instanceof HttpFailure)) throw e;
      switch (e.kind) {
        case 'aborted':
          return { ok: false, retryable: false, error: new ImdsError('E_IMDS_ABORTED', `${what}: ${e.message}`, undefined, { cause: e }) };
        case 'too-large':
          return { ok: false, retryable: false, error: new ImdsError('E_IMDS_BAD_RESPONSE', `${what}: ${e.message}`, undefined, { cause: e }) };
        case 'timeout':
        case 'connect-timeout':
          return { ok: false, retryable: true, error: new ImdsError('E_IMDS_TIMEOUT', `${what} at ${base.host}: ${e.message}`, undefined, { cause: e }) };
        default:
          return { ok: false, retryable: true, error: new ImdsError('E_IMDS_UNREACHABLE', `${what} at ${base.host}: ${e.message}`, undefined, { cause: e }) };
      }
    }
    if (res.status === 200) return { ok: true, value: res.body };
    const msg = `${what} at ${base.host} answered ${describeStatus(res)}`;
    if (res.status === 429) {
      const ra = parseRetryAfter(res.headers['retry-after']);
      return { ok: false, retryable: true, error: new ImdsError('E_IMDS_THROTTLED', msg, 429), ...(ra !== undefined ? { retryAfterMs: ra } : {}) };
    }
    if (res.status >= 500) {
      const ra = parseRetryAfter(res.headers['retry-after']);
      return { ok: false, retryable: true, error: new ImdsError('E_IMDS_SERVER', msg, res.status), ...(ra !== undefined ? { retryAfterMs: ra } : {}) };
    }
    if (res.status === 404) {
      return {
        ok: false,
        retryable: false,
        error: new ImdsError('E_IMDS_NOT_FOUND', `${msg} (not an Azure confidential VM, or this IMDS does not serve it)`, 404),
      };
    }
    return { ok: false, retryable: false, error: new ImdsError('E_IMDS_HTTP', msg, res.status) };
  };
  const attempts = options.attempts ?? 4;
  try {
    return await withRetry(
      attempt,
      {
        attempts,
        baseDelayMs: options.baseDelayMs ?? 250,
        maxDelayMs: options.maxDelayMs ?? 4000,
        retryAfterCapMs: options.retryAfterCapMs ?? 10_000,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.random ? { random: options.random } : {}),
      },
      (err, delay, n) => options.onRetry?.(`${err.message}; retry ${n}/${attempts - 1} in ${delay} ms`),
    );
  } catch (e) {
    if (e instanceof CollectionError) throw e;
    // sleep() rejected: the caller aborted between attempts.
    throw new ImdsError('E_IMDS_ABORTED', `${what}: aborted`, undefined, { cause: e });
  }
}

/** Fetches and validates the VCEK, ASK+ARK, tcbm and cacheControl from THIM. */
export async function fetchThimCertificates(options: ImdsOptions = {}): Promise<ThimCertificates> {
  return parseThimResponse(await imdsGet(THIM_PATH, THIM_MAX_BYTES, options));
}

/** Fetches the VM's identity (compute section of instance metadata). */
export async function fetchInstanceIdentity(options: ImdsOptions = {}): Promise<InstanceIdentity> {
  return parseInstanceMetadata(await imdsGet(INSTANCE_PATH, INSTANCE_MAX_BYTES, options));
}
