// One HTTP GET against a link-local metadata endpoint with node:http directly: no agent pooling, no
// proxy (IMDS must never be reached through one, and node:http ignores HTTP(S)_PROXY), a connect
// timeout, a total timeout, a response size cap and an AbortSignal. Failures are HttpFailure values
// that say whether a retry may help; the caller (imds.ts) turns them into CollectionErrors.
import http from 'node:http';

export interface HttpGetOptions {
  headers?: Record<string, string>;
  /** Time allowed to open the TCP connection. */
  connectTimeoutMs: number;
  /** Time allowed for the whole exchange (connect, headers, body). */
  totalTimeoutMs: number;
  /** Largest body accepted; a longer one is cut off and reported as too large. */
  maxBytes: number;
  signal?: AbortSignal;
  /** Default GET. POST sends `body` (IMDS /acc/tdquote). */
  method?: 'GET' | 'POST';
  body?: Uint8Array;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export type HttpFailureKind = 'connect-timeout' | 'timeout' | 'network' | 'too-large' | 'aborted';

/** A request that produced no usable response. `kind` drives retry decisions. */
export class HttpFailure extends Error {
  readonly kind: HttpFailureKind;
  constructor(kind: HttpFailureKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HttpFailure';
    this.kind = kind;
  }
}

export function httpGet(url: URL, options: HttpGetOptions): Promise<HttpResponse> {
  return new Promise<HttpResponse>((resolve, reject) => {
    if (url.protocol !== 'http:') {
      reject(new HttpFailure('network', `unsupported protocol ${url.protocol} (the metadata endpoint speaks plain http)`));
      return;
    }
    const { signal } = options;
    if (signal?.aborted) {
      reject(new HttpFailure('aborted', 'request aborted before it started', { cause: signal.reason }));
      return;
    }
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (err: HttpFailure | undefined, res?: HttpResponse): void => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(res as HttpResponse);
    };
    const onAbort = (): void => finish(new HttpFailure('aborted', 'request aborted', { cause: signal?.reason }));

    const req = http.request(url, {
      method: options.method ?? 'GET',
      headers: options.body ? { ...options.headers, 'Content-Length': String(options.body.length) } : options.headers,
      agent: false, // a fresh connection, never a shared pool or a proxy agent
    });
    timers.push(setTimeout(() => finish(new HttpFailure('timeout', `no complete response within ${options.totalTimeoutMs} ms`)), options.totalTimeoutMs));
    req.on('socket', (socket) => {
      if (socket.connecting) {
        const t = setTimeout(
          () => finish(new HttpFailure('connect-timeout', `could not connect within ${options.connectTimeoutMs} ms`)),
          options.connectTimeoutMs,
        );
        timers.push(t);
        socket.once('connect', () => clearTimeout(t));
      }
    });
    req.on('error', (e) => finish(new HttpFailure('network', `connection failed: ${e.message}`, { cause: e })));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        finish(new HttpFailure('too-large', `response of ${declared} bytes exceeds the ${options.maxBytes}-byte limit`));
        return;
      }
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > options.maxBytes) {
          finish(new HttpFailure('too-large', `response exceeds the ${options.maxBytes}-byte limit`));
          return;
        }
        chunks.push(c);
      });
      res.on('aborted', () => finish(new HttpFailure('network', 'connection closed before the response was complete')));
      res.on('error', (e) => finish(new HttpFailure('network', `response failed: ${e.message}`, { cause: e })));
      res.on('end', () => {
        if (!res.complete) {
          finish(new HttpFailure('network', 'connection closed before the response was complete'));
          return;
        }
        finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks, size) });
      });
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    req.end(options.body);
  });
}
