// The VM's side of `cvm-attest serve`: ask for a challenge nonce, submit evidence collected over it,
// read the remote verdict and token. Used by `attest --verifier` and the extension's verifier mode.
// https only (plain http for loopback verifiers alone), an optional pinned CA, a deadline on every
// call and a cap on every answer, so a dead or hostile verifier gives a clear error, never a hang.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { CvmAttestError, ExitCode } from '../base/errors.js';
import type { Evidence } from '../collect/evidence.js';
import type { CheckResult, Claims } from '../result/result.js';

/** The verifier could not be reached or answered with a server error (retry later). */
export class VerifierUnavailableError extends CvmAttestError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_VERIFIER_UNAVAILABLE', message, ExitCode.Collection, options);
  }
}
/** The verifier refused the request (4xx): a nonce, schema or evidence problem it named. */
export class VerifierRefusedError extends CvmAttestError {
  readonly remoteCode: string;
  constructor(remoteCode: string, message: string) {
    super('E_VERIFIER_REFUSED', message, ExitCode.Input);
    this.remoteCode = remoteCode;
  }
}

export interface VerifierEndpoint {
  /** Base URL, e.g. https://verifier.example.com */
  readonly endpoint: string;
  /** PEM CA certificate(s) to trust instead of the system's. */
  readonly caCertificate?: string;
  readonly timeoutMs?: number;
}

export interface Challenge {
  readonly nonce: Uint8Array;
  readonly hex: string;
  readonly expiresAt: string;
}

export interface RemoteVerdict {
  readonly verdict: 'pass' | 'fail';
  readonly checks: readonly CheckResult[];
  readonly claims: Claims;
  readonly token?: string;
  /** The token's jti (read from its payload; the signature is the relying party's to check). */
  readonly jti?: string;
  readonly fresh?: boolean;
}

const MAX_ANSWER = 4 * 1024 * 1024;
/** The largest event log sent (bytes): its base64 fits the request schema's eventLog member. */
const MAX_EVENT_LOG_MEMBER = 512 * 1024;
const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])$/i;

/** Validates a verifier URL: https, or http on a loopback host only. Throws InputError-like E_USAGE. */
export function verifierUrl(endpoint: string): URL {
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    throw new CvmAttestError('E_VERIFIER_URL', `verifier endpoint is not a URL: ${endpoint.slice(0, 80)}`, ExitCode.Input);
  }
  if (u.username || u.password) throw new CvmAttestError('E_VERIFIER_URL', 'verifier endpoint must not carry credentials', ExitCode.Input);
  if (u.protocol === 'https:') return u;
  if (u.protocol === 'http:' && LOOPBACK.test(u.hostname.startsWith('[') ? u.hostname : u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname)) return u;
  throw new CvmAttestError(
    'E_VERIFIER_URL',
    `verifier endpoint must be https:// (http:// only for loopback addresses), got ${u.protocol}//${u.host}`,
    ExitCode.Input,
  );
}

function post(v: VerifierEndpoint, path: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const base = verifierUrl(v.endpoint);
  const url = new URL(path, base.href.endsWith('/') ? base.href : base.href + '/');
  const data = Buffer.from(JSON.stringify(body));
  const timeoutMs = v.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': data.length, accept: 'application/json' },
        ...(v.caCertificate ? { ca: v.caCertificate } : {}),
        timeout: timeoutMs,
      },
      (res) => {
        const parts: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER) {
            req.destroy();
            reject(new VerifierUnavailableError(`verifier ${url.host} sent an answer over ${MAX_ANSWER} bytes`));
          } else parts.push(c);
        });
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(Buffer.concat(parts).toString('utf8'));
          } catch {
            return reject(new VerifierUnavailableError(`verifier ${url.host} answered ${res.statusCode} with a body that is not JSON`));
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
        res.on('error', (e) => reject(new VerifierUnavailableError(`verifier ${url.host}: ${e.message}`, { cause: e })));
      },
    );
    // One deadline for the whole exchange, not only idle time between packets.
    const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(deadline));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => reject(new VerifierUnavailableError(`verifier ${url.host} is unreachable: ${e.message}`, { cause: e })));
    req.end(data);
  });
}

function answerError(status: number, json: unknown, host: string): Error {
  const err = (json as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = typeof err?.code === 'string' ? err.code.slice(0, 40) : `HTTP_${status}`;
  const message = typeof err?.message === 'string' ? err.message.slice(0, 300) : `HTTP ${status}`;
  return status >= 500 || status === 429 || status === 408
    ? new VerifierUnavailableError(`verifier ${host}: ${message} [${code}]`)
    : new VerifierRefusedError(code, `verifier ${host} refused the request: ${message} [${code}]`);
}

export async function requestChallenge(v: VerifierEndpoint): Promise<Challenge> {
  const { status, json } = await post(v, 'v1/challenge', {});
  const host = verifierUrl(v.endpoint).host;
  if (status !== 200) throw answerError(status, json, host);
  const j = json as { nonce?: unknown; expiresAt?: unknown };
  if (typeof j?.nonce !== 'string' || !/^[0-9a-f]{64}$/.test(j.nonce)) throw new VerifierUnavailableError(`verifier ${host} sent no valid nonce`);
  return { nonce: new Uint8Array(Buffer.from(j.nonce, 'hex')), hex: j.nonce, expiresAt: typeof j.expiresAt === 'string' ? j.expiresAt : '' };
}

/** The POST /v1/attest body for collected evidence (extension/attest-request.schema.json). */
export function attestRequestBody(nonce: string, e: Evidence): Record<string, unknown> {
  const q = e.quote;
  return {
    nonce,
    evidence: {
      hclReport: Buffer.from(e.hclReport).toString('base64'),
      // On TDX the VCEK and chain are empty: the TD quote and its collateral go instead.
      ...(e.vcekPem ? { vcek: e.vcekPem } : {}),
      ...(e.chainPem ? { chain: e.chainPem } : {}),
      ...(e.tdQuote ? { tdQuote: Buffer.from(e.tdQuote).toString('base64') } : {}),
      ...(e.tdQuote && e.collateral?.length
        ? {
            collateral: Object.fromEntries(
              e.collateral.map((f, i) => [`collateral-${String(i + 1).padStart(2, '0')}`, Buffer.from(f.bytes).toString('base64')]),
            ),
          }
        : {}),
      ...(q
        ? { quote: { message: Buffer.from(q.message).toString('base64'), signature: Buffer.from(q.signature).toString('base64'), pcrs: [...q.pcrs] } }
        : {}),
      ...(e.akCertificate && e.akCertificate.length <= 12288 ? { akCertificate: Buffer.from(e.akCertificate).toString('base64') } : {}),
      // A log past the request's room (the body is capped at 1 MiB) is left out: the verifier then skips event-log.
      ...(e.eventLog && e.eventLog.length <= MAX_EVENT_LOG_MEMBER ? { eventLog: Buffer.from(e.eventLog).toString('base64') } : {}),
      ...(e.instance ? { instance: { ...e.instance } } : {}),
    },
  };
}

/** A JWT's payload, read without checking it (checking the signature is the relying party's job). */
export function tokenPayload(token: string): Record<string, unknown> {
  try {
    const p = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as unknown;
    return p !== null && typeof p === 'object' && !Array.isArray(p) ? (p as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export async function submitEvidence(v: VerifierEndpoint, nonce: string, evidence: Evidence): Promise<RemoteVerdict> {
  const { status, json } = await post(v, 'v1/attest', attestRequestBody(nonce, evidence));
  const host = verifierUrl(v.endpoint).host;
  if (status !== 200) throw answerError(status, json, host);
  const j = json as Partial<RemoteVerdict> | null;
  if (!j || (j.verdict !== 'pass' && j.verdict !== 'fail') || !Array.isArray(j.checks))
    throw new VerifierUnavailableError(`verifier ${host} sent an answer without a verdict`);
  const token = typeof j.token === 'string' ? j.token : undefined;
  const payload = token ? tokenPayload(token) : {};
  const jti = typeof payload.jti === 'string' ? payload.jti.slice(0, 128) : undefined;
  const tokenFresh = payload['x-ms-cvm-attest-fresh'];
  return {
    verdict: j.verdict,
    checks: j.checks,
    claims: j.claims ?? {},
    ...(token ? { token } : {}),
    ...(jti ? { jti } : {}),
    ...(typeof tokenFresh === 'boolean' ? { fresh: tokenFresh } : {}),
  };
}
