// `cvm-attest serve`: the remote verifier. Wires the parts (nonces, replay store, request schema,
// worker pool, keys, JWKS) behind node:http(s), answers JSON only, drains on SIGTERM.
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { InputError } from '../base/errors.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { loadCollateral, loadServicePolicy, parseListen } from './config.js';
import { ServiceError } from './errors.js';
import { isLoopback, readBody, requireJson, requireMethod, sendError, sendJson, sendJsonText } from './http.js';
import { loadSigningKeys, nonceKeyMaterial, type KeySet } from './keys.js';
import { serviceLogger, type ServiceLogger } from './log.js';
import { Metrics } from './metrics.js';
import { deriveNonceKey, NonceAuthority } from './nonce.js';
import { VerificationPool } from './pool.js';
import { MemoryReplayStore, RedisReplayStore, type ReplayStore } from './replay-store.js';
import { requestValidator, type AttestRequest } from './request.js';
import type { AttestOutcome } from './verification.js';
import { selfSignedCertificate } from './x5c.js';

export interface ServeOptions {
  readonly listen: string;
  readonly portFile?: string;
  readonly signingKey: string;
  readonly issuer?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly policy?: string;
  readonly collateral?: string;
  readonly replayStore?: string;
  readonly sinks?: string;
  /** Token lifetime in seconds (default 8 h). */
  readonly tokenLifetime?: number;
  /** Worker threads (default: every core; CVM_ATTEST_WORKERS). */
  readonly workers?: number;
  readonly logger?: ServiceLogger;
}

/** Called with every verdict (the fleet records); must not throw, must not block. */
export type VerdictListener = (outcome: AttestOutcome, request: AttestRequest) => void;

export interface RunningService {
  readonly port: number;
  readonly url: string;
  readonly issuer: string;
  /** Stops accepting, finishes in-flight requests (at most drainMs), then closes everything. */
  close(drainMs?: number): Promise<void>;
}

const DEFAULT_TOKEN_LIFETIME = 8 * 3600;
/** cvm_attest_nonces_total{result} for each refusal. */
const NONCE_RESULT: Readonly<Record<string, string>> = { E_NONCE_MALFORMED: 'malformed', E_NONCE_UNKNOWN: 'unknown', E_NONCE_EXPIRED: 'expired' };

export async function startService(o: ServeOptions, onVerdict?: VerdictListener): Promise<RunningService> {
  const log = o.logger ?? serviceLogger();
  const { host, port } = parseListen(o.listen);
  const tls = o.tlsCert !== undefined || o.tlsKey !== undefined;
  if (tls && (o.tlsCert === undefined || o.tlsKey === undefined)) throw new InputError('E_USAGE', '--tls-cert and --tls-key go together');
  if (!tls && !isLoopback(host))
    throw new InputError('E_USAGE', `plain HTTP is allowed only on loopback addresses: give --tls-cert and --tls-key to listen on ${host}`);
  const lifetime = o.tokenLifetime ?? DEFAULT_TOKEN_LIFETIME;
  if (!Number.isInteger(lifetime) || lifetime < 60 || lifetime > 7 * 86400)
    throw new InputError('E_USAGE', '--token-lifetime must be a whole number of seconds, 60..604800');
  if (o.issuer !== undefined && !/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(o.issuer)) throw new InputError('E_USAGE', '--issuer must be an http(s) URL');
  const rsaAlg = process.env.CVM_ATTEST_TOKEN_ALG === 'PS256' ? 'PS256' : 'RS256';
  if (process.env.CVM_ATTEST_TOKEN_ALG && !['RS256', 'PS256', 'ES256'].includes(process.env.CVM_ATTEST_TOKEN_ALG))
    throw new InputError('E_USAGE', 'CVM_ATTEST_TOKEN_ALG must be RS256, PS256 or ES256 (ES256 comes from an EC P-256 key)');
  const keys: KeySet = await loadSigningKeys(o.signingKey, rsaAlg);
  const policy = await loadServicePolicy(o.policy);
  const collateral = await loadCollateral(o.collateral);
  const validate = await requestValidator();
  // Nonce lifetime: 5 minutes (CVM_ATTEST_NONCE_LIFETIME_SECONDS, 1..3600, e.g. for slow collectors).
  const nonceLifetime = Number(process.env.CVM_ATTEST_NONCE_LIFETIME_SECONDS);
  const nonces = new NonceAuthority(
    deriveNonceKey(nonceKeyMaterial(keys)),
    Number.isInteger(nonceLifetime) && nonceLifetime >= 1 && nonceLifetime <= 3600 ? nonceLifetime * 1000 : undefined,
  );
  const jwks = {
    keys: await Promise.all(keys.keys.map(async (k) => ({ ...k.publicJwk, kid: k.kid, use: 'sig', alg: k.alg, x5c: [await selfSignedCertificate(k)] }))),
  };
  let tlsOptions: { cert: Buffer; key: Buffer } | undefined;
  if (tls) {
    try {
      tlsOptions = { cert: await readFile(o.tlsCert!), key: await readFile(o.tlsKey!) };
    } catch (e) {
      throw new InputError('E_USAGE', '--tls-cert/--tls-key cannot be read', { cause: e });
    }
  }
  const store: ReplayStore = o.replayStore
    ? await RedisReplayStore.connect(o.replayStore, (e) => log.warn('replay store error', { error: e.message }))
    : new MemoryReplayStore();
  const metrics = new Metrics();

  let ready = false;
  let draining = false;
  let inFlight = 0;
  // Assigned once start-up has read the keys; the handlers above are defined before it exists.
  // eslint-disable-next-line prefer-const
  let pool: VerificationPool | undefined;
  let issuer = o.issuer ?? '';
  let discovery = '';
  const jwksText = JSON.stringify(jwks);

  async function attest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    requireMethod(req, ['POST']);
    requireJson(req);
    const body = validate(await readBody(req));
    const t0 = performance.now();
    let nonce;
    try {
      nonce = nonces.check(body.nonce);
    } catch (e) {
      metrics.nonce(e instanceof ServiceError ? (NONCE_RESULT[e.code] ?? 'malformed') : 'malformed');
      throw e;
    }
    if (!(await store.claim(nonce.hex, nonce.expiresAt.getTime() - Date.now() + 60_000))) {
      metrics.nonce('used');
      throw new ServiceError('E_NONCE_USED', 'nonce was already used: ask for a new challenge', 400);
    }
    metrics.nonce('accepted');
    const answer = await pool!.run(body);
    metrics.verification(answer.verdict, answer.platform);
    metrics.latency((performance.now() - t0) / 1000);
    log.info('attestation', {
      verdict: answer.verdict,
      platform: answer.platform,
      fresh: answer.fresh,
      vmId: answer.attestedVmId ?? null,
      jti: answer.jti ?? null,
      failed: answer.failed,
      ms: Math.round(performance.now() - t0),
    });
    if (onVerdict) {
      try {
        // The pool was told to send the outcome whenever there is a listener: a record never goes missing quietly.
        if (!answer.outcome) throw new Error('the verification worker sent no outcome');
        onVerdict(answer.outcome, body);
      } catch (e) {
        log.warn('verdict listener failed', { error: (e as Error).message });
      }
    }
    sendJsonText(res, 200, answer.body);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case '/v1/challenge': {
        requireMethod(req, ['POST']);
        if (!ready || draining) throw new ServiceError('E_SHUTTING_DOWN', 'the verifier is not accepting challenges', 503);
        // A body is optional; if one is sent it must be JSON and small.
        if (req.headers['content-length'] !== '0' && (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)) {
          requireJson(req);
          await readBody(req, 4096);
        }
        const n = nonces.issue();
        metrics.nonce('issued');
        return sendJson(res, 200, { nonce: n.nonce, expiresAt: n.expiresAt.toISOString() });
      }
      case '/v1/attest':
        if (!ready || draining) throw new ServiceError('E_SHUTTING_DOWN', 'the verifier is not accepting attestations', 503);
        return attest(req, res);
      case '/.well-known/openid-configuration':
        requireMethod(req, ['GET', 'HEAD']);
        return sendJson(res, 200, JSON.parse(discovery), { 'cache-control': 'public, max-age=300' });
      case '/certs':
        requireMethod(req, ['GET', 'HEAD']);
        return sendJson(res, 200, JSON.parse(jwksText), { 'cache-control': 'public, max-age=300' });
      case '/healthz': {
        requireMethod(req, ['GET', 'HEAD']);
        const storeOk = await store.ping();
        const ok = ready && !draining && storeOk;
        return sendJson(res, ok ? 200 : 503, {
          status: ok ? 'ok' : draining ? 'draining' : 'unavailable',
          replayStore: { kind: store.kind, ok: storeOk },
          workers: pool?.size ?? 0,
        });
      }
      case '/metrics': {
        requireMethod(req, ['GET', 'HEAD']);
        const text = metrics.render({ cvm_attest_in_flight_requests: inFlight, cvm_attest_queued_verifications: pool?.queued ?? 0 });
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text) });
        return void res.end(text);
      }
      default:
        throw new ServiceError('E_NOT_FOUND', 'no such endpoint', 404);
    }
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    inFlight++;
    res.on('close', () => inFlight--);
    route(req, res).catch((e: unknown) => {
      if (!(e instanceof ServiceError)) log.error('request failed', { path: (req.url ?? '').slice(0, 64), error: e instanceof Error ? e.message : String(e) });
      // After a refused body, close the connection rather than read what is left of it.
      const close: Record<string, string> = e instanceof ServiceError && (e.status === 413 || e.status === 408) ? { connection: 'close' } : {};
      sendError(res, e, e instanceof ServiceError && e.status === 405 ? { allow: (req.url ?? '').startsWith('/v1/') ? 'POST' : 'GET, HEAD', ...close } : close);
    });
  };
  // Slow clients: headers within 10 s, the whole request within 30 s (CVM_ATTEST_REQUEST_TIMEOUT_MS),
  // checked every second; idle keep-alive sockets closed after 5 s.
  const requestTimeout = Number(process.env.CVM_ATTEST_REQUEST_TIMEOUT_MS) > 0 ? Number(process.env.CVM_ATTEST_REQUEST_TIMEOUT_MS) : 30_000;
  const httpOptions = { headersTimeout: Math.min(10_000, requestTimeout), requestTimeout, connectionsCheckingInterval: 1000, keepAliveTimeout: 5_000 };
  const server: Server = tlsOptions ? createHttpsServer({ ...tlsOptions, ...httpOptions }, handler) : createHttpServer(httpOptions, handler);
  server.maxHeadersCount = 64;
  server.on('clientError', (_e, socket) => {
    if (socket.writable)
      socket.end(
        'HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":{"code":"E_REQUEST_JSON","message":"malformed or timed-out HTTP request"}}',
      );
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new InputError('E_USAGE', `cannot listen on ${o.listen}: ${e.message}`, { cause: e })));
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const scheme = tlsOptions ? 'https' : 'http';
  const url = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${bound}`;
  issuer = (o.issuer ?? url).replace(/\/+$/, '');
  const jwksUri = `${issuer}/certs`;
  discovery = JSON.stringify({
    issuer,
    jwks_uri: jwksUri,
    response_types_supported: ['token'],
    id_token_signing_alg_values_supported: [...new Set(keys.keys.map((k) => k.alg))],
    claims_supported: [
      'iss',
      'iat',
      'nbf',
      'exp',
      'jti',
      'nonce',
      'x-ms-attestation-type',
      'x-ms-isolation-tee',
      'x-ms-policy-hash',
      'x-ms-runtime',
      'x-ms-cvm-attest-fresh',
    ],
  });
  const workers = o.workers ?? (process.env.CVM_ATTEST_WORKERS ? Number(process.env.CVM_ATTEST_WORKERS) : undefined);
  const current = keys.current;
  pool = new VerificationPool(
    {
      policy,
      crls: collateral.crls,
      tdxCollateral: collateral.tdx,
      issuer,
      jwksUri,
      tokenLifetimeSeconds: lifetime,
      key: { pem: current.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, kid: current.kid, alg: current.alg },
      withOutcome: onVerdict !== undefined,
    },
    { ...(workers ? { size: workers } : {}), onEvent: (m, meta) => log.warn(m, meta) },
  );
  ready = true;
  if (o.portFile) await writeFileAtomic(o.portFile, `${bound}\n`, { mode: 0o644 });
  log.info('serving', {
    url,
    issuer,
    kid: current.kid,
    alg: current.alg,
    published: keys.keys.length,
    replayStore: store.kind,
    workers: pool.size,
    freshnessRequired: policy.requireFreshness !== false,
  });

  let closing: Promise<void> | undefined;
  const close = (drainMs = 25_000): Promise<void> =>
    (closing ??= (async () => {
      draining = true;
      log.info('draining', { inFlight });
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, drainMs).unref());
      await Promise.race([closed, deadline]);
      server.closeAllConnections();
      await pool?.close();
      await store.close();
      log.info('stopped', {});
    })());
  return { port: bound, url, issuer, close };
}
