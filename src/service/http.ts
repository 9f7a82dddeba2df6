// HTTP plumbing of the service: bounded body reading, the content-type and method rules, and typed
// JSON error answers. Every error is `{"error": {"code": "E_...", "message": "..."}}`; nothing else
// about an internal failure (no stack, no cause) leaves the process.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServiceError } from './errors.js';

export const MAX_BODY_BYTES = 1024 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendJsonText(res, status, JSON.stringify(body), headers);
}

/** sendJson for a body already serialised (by a verification worker). */
export function sendJsonText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, e: unknown, headers: Record<string, string> = {}): void {
  const se = e instanceof ServiceError ? e : new ServiceError('E_INTERNAL', 'internal error', 500);
  sendJson(res, se.status, { error: { code: se.code, message: se.message } }, headers);
}

/** 405 unless the method is allowed. */
export function requireMethod(req: IncomingMessage, allowed: readonly string[]): void {
  if (!allowed.includes(req.method ?? ''))
    throw new ServiceError('E_METHOD', `${(req.method ?? '').slice(0, 16)} is not allowed here (${allowed.join(', ')})`, 405);
}

/** 415 unless the body is declared application/json (charset utf-8 or none). */
export function requireJson(req: IncomingMessage): void {
  const ct = (req.headers['content-type'] ?? '')
    .toLowerCase()
    .split(';')
    .map((s) => s.trim());
  const charset = ct.slice(1).find((p) => p.startsWith('charset='));
  if (ct[0] !== 'application/json' || (charset !== undefined && charset !== 'charset=utf-8'))
    throw new ServiceError('E_CONTENT_TYPE', 'the request body must be application/json', 415);
}

/** Reads the body, at most `max` bytes: a larger declared or actual length is a 413, before or while reading. */
export function readBody(req: IncomingMessage, max = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max)
    return Promise.reject(new ServiceError('E_REQUEST_TOO_LARGE', `the request body is larger than ${max} bytes`, 413));
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > max) {
        done = true;
        req.pause();
        reject(new ServiceError('E_REQUEST_TOO_LARGE', `the request body is larger than ${max} bytes`, 413));
        return;
      }
      parts.push(c);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(parts, size));
      }
    });
    req.on('error', (e) => {
      if (!done) {
        done = true;
        reject(new ServiceError('E_REQUEST_TIMEOUT', 'the request was not received completely', 408, { cause: e }));
      }
    });
    req.on('aborted', () => {
      if (!done) {
        done = true;
        reject(new ServiceError('E_REQUEST_TIMEOUT', 'the request was aborted', 408));
      }
    });
  });
}

/** True for loopback listen addresses, the only ones plain HTTP is allowed on. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}
