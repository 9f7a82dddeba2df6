// Runs one TPM operation: opens a connection, sends commands one at a time (starting the TPM once if
// it answers TPM_RC_INITIALIZE), and closes the connection whatever happens. Decoding problems in a
// TPM's answer become CollectionErrors: the evidence could not be collected.
import { CollectionError, isCvmAttestError, ParseError } from '../../base/errors.js';
import { encodeStartup, openResponse, responseCode, STARTUP_CTX } from './commands.js';
import { DeviceTransport } from './device-transport.js';
import { TPM_RC_INITIALIZE } from '../../tpm/response-codes.js';
import { SocketTransport } from './socket-transport.js';
import { abortError, parseTransport, sleep, type TpmConnection, type TpmTransport, type TransportSpec } from './transport.js';

export const DEFAULT_TIMEOUT_MS = 10_000;

export interface IoOptions {
  readonly signal?: AbortSignal;
  /** Deadline for the whole operation (connect + every command), default 10 s. */
  readonly timeoutMs?: number;
}

/** A live transport for a device or swtpm spec (file: is not a live TPM). */
export function createTransport(spec: string | TransportSpec | TpmTransport): TpmTransport {
  if (typeof spec !== 'string' && 'connect' in spec) return spec;
  const t = typeof spec === 'string' ? parseTransport(spec) : spec;
  switch (t.kind) {
    case 'device':
      return new DeviceTransport(t.spec, t.path);
    case 'swtpm':
      return new SocketTransport(t.spec, 'path' in t ? { path: t.path } : { host: t.host, port: t.port });
    case 'file':
      throw new CollectionError('E_TPM_REPLAY', `${t.spec} replays recorded evidence: it cannot run TPM commands`);
  }
}

export class TpmClient {
  private started = false;

  constructor(
    private readonly conn: TpmConnection,
    readonly spec: string,
    readonly signal: AbortSignal,
  ) {}

  /** Sends a command and decodes its response with `decode`. */
  async run<T>(what: string, command: Uint8Array, decode: (resp: Uint8Array) => T): Promise<T> {
    let resp = await this.conn.transmit(command, what, this.signal);
    if (!this.started && safeCode(resp) === TPM_RC_INITIALIZE) {
      // A TPM fresh from power-on (or swtpm without startup-clear) needs TPM2_Startup(CLEAR) once.
      this.started = true;
      const s = await this.conn.transmit(encodeStartup(), 'TPM2_Startup', this.signal);
      if (safeCode(s) !== 0x100) wrapDecode(this.spec, () => openResponse(s, STARTUP_CTX, false));
      resp = await this.conn.transmit(command, what, this.signal);
    }
    // Transient warnings (busy, yielded, self-test running): send the command again, as a TSS does.
    for (let attempt = 1; attempt <= MAX_RETRIES && TRANSIENT.has(safeCode(resp) ?? 0); attempt++) {
      await sleep(Math.min(10 * 2 ** (attempt - 1), 200), this.signal);
      if (this.signal.aborted) break;
      resp = await this.conn.transmit(command, what, this.signal);
    }
    return wrapDecode(this.spec, () => decode(resp));
  }
}

/** TPM_RC_YIELDED, TPM_RC_TESTING, TPM_RC_RETRY. */
const TRANSIENT = new Set([0x908, 0x90a, 0x922]);
const MAX_RETRIES = 5;

function safeCode(resp: Uint8Array): number | undefined {
  try {
    return responseCode(resp);
  } catch {
    return undefined;
  }
}

function wrapDecode<T>(spec: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ParseError) throw new CollectionError('E_TPM_PROTOCOL', `malformed answer from the TPM at ${spec}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** The signal every wait of one operation observes: the caller's, bounded by the timeout. */
export function operationSignal(opts: IoOptions): AbortSignal {
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  return opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
}

// One operation at a time per TPM in this process: callers queue (in order) instead of interleaving
// commands or NV chunk reads. The wait observes the operation's signal.
const queues = new Map<string, Promise<void>>();

async function exclusive<T>(key: string, signal: AbortSignal, what: string, fn: () => Promise<T>): Promise<T> {
  const prev = queues.get(key) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const tail = prev.then(() => mine);
  queues.set(key, tail);
  try {
    if (signal.aborted) throw abortError(signal, key, what);
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(abortError(signal, key, `${what} (waiting for another operation on this TPM)`));
      signal.addEventListener('abort', onAbort, { once: true });
      void prev.then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
    return await fn();
  } finally {
    release();
    if (queues.get(key) === tail) queues.delete(key);
  }
}

/** Opens the transport, runs fn, and always closes the connection. Operations on one TPM are serialised. */
export async function withTpm<T>(transport: string | TransportSpec | TpmTransport, opts: IoOptions, fn: (c: TpmClient) => Promise<T>): Promise<T> {
  const t = createTransport(transport);
  const signal = operationSignal(opts);
  return exclusive(t.spec, signal, 'connect', async () => {
    const conn = await t.connect(signal);
    try {
      return await fn(new TpmClient(conn, t.spec, signal));
    } catch (e) {
      if (isCvmAttestError(e)) throw e;
      throw new CollectionError('E_TPM_IO', `TPM operation at ${t.spec} failed: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    } finally {
      conn.close();
    }
  });
}
