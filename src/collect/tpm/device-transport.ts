// The kernel's TPM character device (/dev/tpmrm0 with the in-kernel resource manager, or /dev/tpm0):
// write one whole command, read one whole response. Uses raw fds so a timeout can close the fd even
// while a read is blocked in the thread pool (FileHandle.close would wait for it).
import { close, constants, open, read, write } from 'node:fs';
import { CollectionError } from '../../base/errors.js';
import { HEADER_SIZE, responseSizeFromHeader } from './commands.js';
import { MAX_RESPONSE_BYTES } from '../../tpm/constants.js';
import { DEFAULT_DEVICE, FALLBACK_DEVICE, abortError, type TpmConnection, type TpmTransport } from './transport.js';

function openFd(path: string): Promise<number> {
  // O_NOCTTY: a device path must never become our controlling terminal (matters if it is a tty).
  return new Promise((resolve, reject) => open(path, constants.O_RDWR | constants.O_NOCTTY, (e, fd) => (e ? reject(e) : resolve(fd))));
}

function deviceError(path: string, e: NodeJS.ErrnoException, tried: string[]): CollectionError {
  switch (e.code) {
    case 'ENOENT':
    case 'ENXIO':
    case 'ENODEV':
      return new CollectionError(
        'E_TPM_NO_DEVICE',
        `no TPM device at ${tried.join(' or ')}: this VM has no (v)TPM, or its driver is not loaded. On Azure, use a Confidential VM with vTPM enabled; elsewhere pass --tpm swtpm:... or file:...`,
        { cause: e },
      );
    case 'EACCES':
    case 'EPERM':
      return new CollectionError('E_TPM_DEVICE_ACCESS', `no permission to open ${path}: run as root or as a member of the "tss" group`, { cause: e });
    case 'EBUSY':
      return new CollectionError('E_TPM_DEVICE_BUSY', `${path} is in use by another process (e.g. tpm2-abrmd): use /dev/tpmrm0 or stop that process`, {
        cause: e,
      });
    default:
      return new CollectionError('E_TPM_IO', `cannot open ${path} (${e.code ?? e.message})`, { cause: e });
  }
}

export class DeviceTransport implements TpmTransport {
  constructor(
    readonly spec: string,
    private readonly path: string,
  ) {}

  async connect(signal: AbortSignal): Promise<TpmConnection> {
    if (signal.aborted) throw abortError(signal, this.spec, 'open');
    const tried = [this.path];
    try {
      return new DeviceConnection(await openFd(this.path), this.path);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      // The contract: /dev/tpm0 is the fallback when the resource-manager node is absent.
      if (this.path === DEFAULT_DEVICE && err.code === 'ENOENT') {
        tried.push(FALLBACK_DEVICE);
        try {
          return new DeviceConnection(await openFd(FALLBACK_DEVICE), FALLBACK_DEVICE);
        } catch (e2) {
          throw deviceError(FALLBACK_DEVICE, e2 as NodeJS.ErrnoException, tried);
        }
      }
      throw deviceError(this.path, err, tried);
    }
  }
}

class DeviceConnection implements TpmConnection {
  private closed = false;

  constructor(
    private readonly fd: number,
    private readonly path: string,
  ) {}

  transmit(command: Uint8Array, what: string, signal: AbortSignal): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new CollectionError('E_TPM_CLOSED', `TPM device ${this.path} is closed`));
    if (signal.aborted) return Promise.reject(abortError(signal, `device:${this.path}`, what));
    return new Promise<Uint8Array>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | undefined, value?: Uint8Array): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(value!);
      };
      const onAbort = (): void => {
        this.close();
        finish(abortError(signal, `device:${this.path}`, what));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const ioError = (e: NodeJS.ErrnoException): CollectionError =>
        new CollectionError('E_TPM_IO', `TPM device ${this.path} failed during ${what} (${e.code ?? e.message})`, { cause: e });
      write(this.fd, command, 0, command.length, null, (e, n) => {
        if (settled) return;
        if (e) return finish(ioError(e));
        if (n !== command.length) return finish(new CollectionError('E_TPM_IO', `TPM device ${this.path} took ${n} of ${command.length} command bytes`));
        const buf = Buffer.alloc(MAX_RESPONSE_BYTES);
        let have = 0;
        const more = (): void => {
          read(this.fd, buf, have, buf.length - have, null, (re, got) => {
            if (settled) return;
            if (re) return finish(ioError(re));
            if (got === 0) return finish(new CollectionError('E_TPM_CONNECTION_CLOSED', `TPM device ${this.path} returned end-of-file during ${what}`));
            have += got;
            if (have < HEADER_SIZE) return more();
            let size: number;
            try {
              size = responseSizeFromHeader(buf.subarray(0, HEADER_SIZE));
            } catch (pe) {
              return finish(
                new CollectionError('E_TPM_PROTOCOL', `TPM device ${this.path} answered ${what} with bytes that are not a TPM 2.0 response`, { cause: pe }),
              );
            }
            if (have < size) return more();
            finish(undefined, Uint8Array.from(buf.subarray(0, size)));
          });
        };
        more();
      });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    close(this.fd, () => undefined);
  }
}
