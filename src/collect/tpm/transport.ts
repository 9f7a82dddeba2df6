// Transport specs ("device:/dev/tpmrm0", "swtpm:host=H,port=P", "swtpm:path=S", "file:PATH") and the
// connection contract the command layer uses. Parsing is pure; opening is done by the modules below.
import { CollectionError, InputError } from '../../base/errors.js';

export const DEFAULT_DEVICE = '/dev/tpmrm0';
export const FALLBACK_DEVICE = '/dev/tpm0';
export const DEFAULT_TRANSPORT = `device:${DEFAULT_DEVICE}`;
export const TRANSPORT_ENV = 'CVM_ATTEST_TPM';

export type TransportSpec =
  | { readonly kind: 'device'; readonly path: string; readonly spec: string }
  | { readonly kind: 'swtpm'; readonly host: string; readonly port: number; readonly spec: string }
  | { readonly kind: 'swtpm'; readonly path: string; readonly spec: string }
  | { readonly kind: 'file'; readonly path: string; readonly spec: string };

const USAGE = 'use device:/dev/tpmrm0, swtpm:host=H,port=P, swtpm:path=SOCKET or file:PATH';

/** Parses a transport string; throws InputError (E_TPM_TRANSPORT) on anything else. */
export function parseTransport(spec: string): TransportSpec {
  if (typeof spec !== 'string' || spec.trim() === '') throw new InputError('E_TPM_TRANSPORT', `empty TPM transport: ${USAGE}`);
  const s = spec.trim();
  const colon = s.indexOf(':');
  const scheme = colon < 0 ? '' : s.slice(0, colon);
  const rest = colon < 0 ? '' : s.slice(colon + 1);
  if (scheme === 'device' || scheme === 'file') {
    if (rest === '' || rest.includes('\0')) throw new InputError('E_TPM_TRANSPORT', `TPM transport "${s}" names no path: ${USAGE}`);
    return { kind: scheme, path: rest, spec: `${scheme}:${rest}` };
  }
  if (scheme === 'swtpm') {
    const kv = new Map<string, string>();
    for (const part of rest.split(',')) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new InputError('E_TPM_TRANSPORT', `TPM transport "${s}": "${part}" is not key=value (${USAGE})`);
      const key = part.slice(0, eq).trim();
      if (kv.has(key)) throw new InputError('E_TPM_TRANSPORT', `TPM transport "${s}" repeats ${key}`);
      kv.set(key, part.slice(eq + 1).trim());
    }
    const unknown = [...kv.keys()].filter((k) => k !== 'host' && k !== 'port' && k !== 'path');
    if (unknown.length) throw new InputError('E_TPM_TRANSPORT', `TPM transport "${s}": unknown key ${unknown.join(', ')} (${USAGE})`);
    const path = kv.get('path');
    if (path !== undefined) {
      if (kv.has('host') || kv.has('port')) throw new InputError('E_TPM_TRANSPORT', `TPM transport "${s}": give path= or host=/port=, not both`);
      if (path === '' || path.includes('\0')) throw new InputError('E_TPM_TRANSPORT', `TPM transport "${s}": empty socket path`);
      return { kind: 'swtpm', path, spec: `swtpm:path=${path}` };
    }
    const host = kv.get('host') ?? '127.0.0.1';
    const portText = kv.get('port') ?? '2321';
    const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) throw new InputError('E_TPM_TRANSPORT', `TPM transport "${s}": port "${portText}" is not 1-65535`);
    if (host === '' || /[\s/]/.test(host)) throw new InputError('E_TPM_TRANSPORT', `TPM transport "${s}": bad host "${host}"`);
    return { kind: 'swtpm', host, port, spec: `swtpm:host=${host},port=${port}` };
  }
  throw new InputError('E_TPM_TRANSPORT', `unknown TPM transport "${s}": ${USAGE}`);
}

/** The transport given, else $CVM_ATTEST_TPM, else the default device. */
export function resolveTransportSpec(spec?: string, env: NodeJS.ProcessEnv = process.env): TransportSpec {
  const given = spec ?? env[TRANSPORT_ENV];
  return parseTransport(given === undefined || given === '' ? DEFAULT_TRANSPORT : given);
}

/** One open connection to a TPM; commands go one at a time. */
export interface TpmConnection {
  /** Sends one command and resolves to its complete response; rejects with CollectionError on I/O failure, timeout or abort. */
  transmit(command: Uint8Array, what: string, signal: AbortSignal): Promise<Uint8Array>;
  close(): void;
}

/** Something that can open a connection to a TPM (device node or simulator socket). */
export interface TpmTransport {
  readonly spec: string;
  connect(signal: AbortSignal): Promise<TpmConnection>;
}

/** The CollectionError for an aborted or timed-out wait, telling which one it was. */
/** Waits `ms`, or less when `signal` aborts (never rejects: the caller checks signal.aborted). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export function abortError(signal: AbortSignal, spec: string, what: string): CollectionError {
  const reason: unknown = signal.reason;
  const timeout = reason instanceof Error && reason.name === 'TimeoutError';
  if (reason instanceof CollectionError) return reason;
  return timeout
    ? new CollectionError('E_TPM_TIMEOUT', `no answer from the TPM at ${spec} during ${what} before the timeout: is the TPM (or swtpm) alive?`, {
        cause: reason,
      })
    : new CollectionError('E_TPM_ABORTED', `TPM operation at ${spec} aborted during ${what}`, { cause: reason });
}
