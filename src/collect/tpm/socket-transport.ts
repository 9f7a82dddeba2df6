// swtpm's server socket (TCP or unix): raw TPM command bytes in, raw response bytes out. The response
// is framed by the size in its 10-byte header. swtpm serves one client at a time, so the caller opens
// a connection per operation and closes it at once.
import { createConnection, type Socket } from 'node:net';
import { CollectionError, ParseError } from '../../base/errors.js';
import { HEADER_SIZE, responseSizeFromHeader } from './commands.js';
import { abortError, sleep, type TpmConnection, type TpmTransport } from './transport.js';

export type SocketTarget = { readonly path: string } | { readonly host: string; readonly port: number };

export class SocketTransport implements TpmTransport {
  constructor(
    readonly spec: string,
    private readonly target: SocketTarget,
  ) {}

  async connect(signal: AbortSignal): Promise<TpmConnection> {
    // swtpm accepts one client at a time with a tiny listen backlog: a unix-socket connect right after
    // the previous client closed can get EAGAIN (backlog full). That is "busy", not "absent": retry
    // with a short backoff until the operation's deadline.
    for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
      try {
        return await this.connectOnce(signal);
      } catch (e) {
        if (!(e instanceof BusyError)) throw e;
        await sleep(delay, signal);
        if (signal.aborted) throw abortError(signal, this.spec, 'connect');
      }
    }
  }

  private connectOnce(signal: AbortSignal): Promise<TpmConnection> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(abortError(signal, this.spec, 'connect'));
      const sock = 'path' in this.target ? createConnection({ path: this.target.path }) : createConnection({ host: this.target.host, port: this.target.port });
      const onAbort = (): void => {
        sock.destroy();
        reject(abortError(signal, this.spec, 'connect'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      sock.once('error', (e: NodeJS.ErrnoException) => {
        signal.removeEventListener('abort', onAbort);
        sock.destroy();
        if (e.code === 'EAGAIN') return reject(new BusyError());
        reject(
          new CollectionError('E_TPM_UNREACHABLE', `cannot connect to the TPM simulator at ${this.spec} (${e.code ?? e.message}): is swtpm running there?`, {
            cause: e,
          }),
        );
      });
      sock.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        sock.removeAllListeners('error');
        sock.setNoDelay(true);
        resolve(new SocketConnection(sock, this.spec));
      });
    });
  }
}

class BusyError extends Error {}

class SocketConnection implements TpmConnection {
  private buf: Buffer[] = [];
  private have = 0;
  private pending: { resolve(b: Uint8Array): void; reject(e: Error): void; what: string } | undefined;
  private dead: CollectionError | undefined;

  constructor(
    private readonly sock: Socket,
    private readonly spec: string,
  ) {
    sock.on('data', (d: Buffer) => {
      this.buf.push(d);
      this.have += d.length;
      this.tryComplete();
    });
    const closed = (detail: string, cause?: Error): CollectionError =>
      new CollectionError(
        'E_TPM_CONNECTION_CLOSED',
        `the TPM at ${spec} closed the connection${detail}${this.during()}: did the TPM (swtpm) stop or crash?`,
        cause ? { cause } : undefined,
      );
    sock.on('error', (e: NodeJS.ErrnoException) =>
      this.fail(
        e.code === 'EPIPE' || e.code === 'ECONNRESET'
          ? closed(` (${e.code})`, e)
          : new CollectionError('E_TPM_IO', `TPM connection ${spec} failed (${e.code ?? e.message})${this.during()}`, { cause: e }),
      ),
    );
    sock.on('close', () => this.fail(closed('')));
  }

  private during(): string {
    return this.pending ? ` during ${this.pending.what}` : '';
  }

  private fail(e: CollectionError): void {
    if (!this.dead) this.dead = e;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(this.dead);
  }

  private tryComplete(): void {
    const p = this.pending;
    if (!p) {
      if (this.have > 0) this.fail(new CollectionError('E_TPM_PROTOCOL', `the TPM at ${this.spec} sent ${this.have} unsolicited byte(s)`));
      return;
    }
    if (this.have < HEADER_SIZE) return;
    const all = Buffer.concat(this.buf, this.have);
    this.buf = [all];
    let size: number;
    try {
      size = responseSizeFromHeader(all.subarray(0, HEADER_SIZE));
    } catch (e) {
      this.sock.destroy();
      this.fail(
        new CollectionError(
          'E_TPM_PROTOCOL',
          `the TPM at ${this.spec} answered ${p.what} with bytes that are not a TPM 2.0 response: ${(e as ParseError).message}`,
          { cause: e },
        ),
      );
      return;
    }
    if (this.have < size) return;
    if (this.have > size) {
      this.sock.destroy();
      this.fail(new CollectionError('E_TPM_PROTOCOL', `the TPM at ${this.spec} sent ${this.have - size} byte(s) beyond the response to ${p.what}`));
      return;
    }
    this.buf = [];
    this.have = 0;
    this.pending = undefined;
    p.resolve(new Uint8Array(all.buffer, all.byteOffset, size));
  }

  transmit(command: Uint8Array, what: string, signal: AbortSignal): Promise<Uint8Array> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.pending) return Promise.reject(new CollectionError('E_TPM_BUSY', `TPM connection ${this.spec} is busy with ${this.pending.what}`));
    if (signal.aborted) return Promise.reject(abortError(signal, this.spec, what));
    return new Promise<Uint8Array>((resolve, reject) => {
      const onAbort = (): void => {
        const err = abortError(signal, this.spec, what);
        this.pending = undefined;
        this.dead = err;
        this.sock.destroy();
        reject(err);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.pending = {
        what,
        resolve: (b) => {
          signal.removeEventListener('abort', onAbort);
          resolve(b);
        },
        reject: (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      this.sock.write(command);
    });
  }

  close(): void {
    this.dead ??= new CollectionError('E_TPM_CLOSED', `TPM connection ${this.spec} is closed`);
    this.sock.destroy();
  }
}
