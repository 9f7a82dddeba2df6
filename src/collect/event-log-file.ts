// Reads the measured-boot event log the kernel exposes (securityfs, whose files report size 0), without
// following a symlink and with a cap, so a hostile path can neither redirect nor exhaust the reader.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { CollectionError } from '../base/errors.js';
import { MAX_EVENT_LOG_BYTES } from '../tpm/event-log.js';

export const DEFAULT_EVENT_LOG_PATH = '/sys/kernel/security/tpm0/binary_bios_measurements';

/** The log's bytes, or undefined when the file does not exist. CollectionError when it cannot be read or is too large. */
export async function readEventLogFile(path: string, max: number = MAX_EVENT_LOG_BYTES): Promise<Uint8Array | undefined> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new CollectionError('E_EVENTLOG_READ', `the event log ${path} cannot be opened (${code ?? String(e)})${code === 'ELOOP' ? ': it is a symlink' : code === 'EACCES' ? ': run as root' : ''}`, { cause: e });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new CollectionError('E_EVENTLOG_READ', `the event log ${path} is not a regular file`);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(64 * 1024);
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > max) throw new CollectionError('E_EVENTLOG_SIZE', `the event log ${path} is larger than ${max} bytes`);
      chunks.push(buf.subarray(0, bytesRead));
    }
    return new Uint8Array(Buffer.concat(chunks, total));
  } catch (e) {
    if (e instanceof CollectionError) throw e;
    throw new CollectionError('E_EVENTLOG_READ', `the event log ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
  } finally {
    await fh.close();
  }
}
