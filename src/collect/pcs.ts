// Intel PCS v4 client for TDX collateral (also speaks to any cache with the same API: Azure's, a
// PCCS, or the emulator in tests): TCB info by FMSPC, the TD QE identity, the PCK CA CRL and the Root
// CA CRL, with their issuer chains from the response headers (URL-encoded PEM). Everything fetched is
// untrusted until the verifier checks it against the pinned Intel root.
import http from 'node:http';
import https from 'node:https';
import { CollectionError, InputError } from '../base/errors.js';
import type { CollateralFile } from '../platform/tdx/collateral.js';
import { parseRetryAfter, withRetry, type AttemptOutcome } from './retry.js';

export const DEFAULT_PCS_ENDPOINT = 'https://api.trustedservices.intel.com';
export const PCS_ENDPOINT_ENV = 'CVM_ATTEST_PCS_ENDPOINT';
const MAX_BODY = 1024 * 1024;

export interface PcsOptions {
  /** Base URL. Default env CVM_ATTEST_PCS_ENDPOINT, else Intel's PCS. */
  endpoint?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  attempts?: number;
  baseDelayMs?: number;
  onRetry?: (message: string) => void;
}

export function resolvePcsEndpoint(explicit?: string, env: NodeJS.ProcessEnv = process.env): URL {
  const raw = explicit ?? (env[PCS_ENDPOINT_ENV] || DEFAULT_PCS_ENDPOINT);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new InputError('E_PCS_ENDPOINT', `PCS endpoint "${raw}" is not a URL`);
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.username || u.password || u.search)
    throw new InputError('E_PCS_ENDPOINT', `PCS endpoint "${raw}" must be an http(s)://host[:port][/path] URL`);
  return u;
}

interface PcsResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

function request(url: URL, timeoutMs: number, signal?: AbortSignal): Promise<PcsResponse> {
  return new Promise((resolve, reject) => {
    const lib = url.protocol === 'https:' ? https : http;
    const req = lib.get(url, { agent: false, timeout: timeoutMs, ...(signal ? { signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          req.destroy(new Error(`response exceeds ${MAX_BODY} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () =>
        res.complete
          ? resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })
          : reject(new Error('connection closed early')),
      );
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`no complete response within ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('timeout', () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

async function pcsGet(base: URL, path: string, o: PcsOptions): Promise<PcsResponse> {
  const url = new URL(base.pathname.replace(/\/+$/, '') + path, base);
  const what = `PCS ${url.pathname}`;
  const attempt = async (): Promise<AttemptOutcome<PcsResponse>> => {
    let res: PcsResponse;
    try {
      res = await request(url, o.timeoutMs ?? 10_000, o.signal);
    } catch (e) {
      if (o.signal?.aborted) return { ok: false, retryable: false, error: new CollectionError('E_PCS_ABORTED', `${what}: aborted`, { cause: e }) };
      return { ok: false, retryable: true, error: new CollectionError('E_PCS_UNREACHABLE', `${what} at ${url.host}: ${(e as Error).message}`, { cause: e }) };
    }
    if (res.status === 200) return { ok: true, value: res };
    const err = new CollectionError(
      res.status === 404 ? 'E_PCS_NOT_FOUND' : 'E_PCS_HTTP',
      `${what} answered HTTP ${res.status}${res.headers['error-message'] ? `: ${String(res.headers['error-message']).slice(0, 200)}` : ''}`,
    );
    const ra = parseRetryAfter(res.headers['retry-after']);
    return { ok: false, retryable: res.status === 429 || res.status >= 500, error: err, ...(ra !== undefined ? { retryAfterMs: ra } : {}) };
  };
  return withRetry(
    attempt,
    { attempts: o.attempts ?? 3, baseDelayMs: o.baseDelayMs ?? 500, maxDelayMs: 5000, retryAfterCapMs: 10_000, ...(o.signal ? { signal: o.signal } : {}) },
    (e, d, n) => o.onRetry?.(`${e.message}; retry ${n} in ${d} ms`),
  );
}

function chainHeader(res: PcsResponse, name: string, what: string): Buffer {
  const v = res.headers[name.toLowerCase()];
  if (typeof v !== 'string' || v === '') throw new CollectionError('E_PCS_BAD_RESPONSE', `${what}: no ${name} header`);
  try {
    return Buffer.from(decodeURIComponent(v));
  } catch {
    throw new CollectionError('E_PCS_BAD_RESPONSE', `${what}: ${name} is not URL-encoded PEM`);
  }
}

/** Hex text (PCCS serves some CRLs so) becomes bytes; anything else is kept. */
function maybeHex(b: Buffer): Buffer {
  const t = b.toString('latin1').trim();
  return /^([0-9a-fA-F]{2})+$/.test(t) && t.length > 64 ? Buffer.from(t, 'hex') : b;
}

/** Fetches the collateral for one FMSPC and PCK CA ("platform" or "processor") as files the verifier recognises by content. */
export async function fetchTdxCollateral(fmspc: string, ca: 'platform' | 'processor', o: PcsOptions = {}): Promise<CollateralFile[]> {
  const base = resolvePcsEndpoint(o.endpoint);
  const [tcb, qe, crl] = await Promise.all([
    pcsGet(base, `/tdx/certification/v4/tcb?fmspc=${fmspc}`, o),
    pcsGet(base, '/tdx/certification/v4/qe/identity', o),
    pcsGet(base, `/sgx/certification/v4/pckcrl?ca=${ca}&encoding=der`, o),
  ]);
  const files: CollateralFile[] = [
    { name: `tcb-info-${fmspc}.json`, bytes: tcb.body },
    { name: 'tcb-info-issuer-chain.pem', bytes: chainHeader(tcb, 'TCB-Info-Issuer-Chain', 'PCS TCB info') },
    { name: 'qe-identity.json', bytes: qe.body },
    { name: 'qe-identity-issuer-chain.pem', bytes: chainHeader(qe, 'SGX-Enclave-Identity-Issuer-Chain', 'PCS QE identity') },
    { name: `pck-crl-${ca}.der`, bytes: maybeHex(crl.body) },
    { name: 'pck-crl-issuer-chain.pem', bytes: chainHeader(crl, 'SGX-PCK-CRL-Issuer-Chain', 'PCS PCK CRL') },
  ];
  try {
    const root = await pcsGet(base, '/sgx/certification/v4/rootcacrl', { ...o, attempts: 1 });
    files.push({ name: 'root-ca-crl.der', bytes: maybeHex(root.body) });
  } catch {
    // Optional: without it the verifier reports the Root CA CRL as missing (stale collateral).
  }
  return files;
}
