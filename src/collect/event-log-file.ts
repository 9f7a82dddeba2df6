// Reads the measured-boot event log the kernel exposes (securityfs, whose files report size 0) through
// the one bounded file reader (io/bounded-read.ts: read to EOF from the descriptor with a cap, st_size
// never trusted), without following a symlink, so a hostile path can neither redirect nor exhaust it.
import { CollectionError, InputError } from '../base/errors.js';
import { readFileBounded } from '../io/bounded-read.js';
import { MAX_EVENT_LOG_BYTES } from '../tpm/event-log.js';

export const DEFAULT_EVENT_LOG_PATH = '/sys/kernel/security/tpm0/binary_bios_measurements';

/** The log's bytes, or undefined when the file does not exist. CollectionError when it cannot be read or is too large. */
export async function readEventLogFile(path: string, max: number = MAX_EVENT_LOG_BYTES): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(
      await readFileBounded(path, {
        max,
        what: 'the event log',
        noFollow: true,
        codes: { missing: 'E_EVENTLOG_READ', type: 'E_EVENTLOG_READ', size: 'E_EVENTLOG_SIZE' },
      }),
    );
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    // A missing log is normal (no TPM log exposed): the caller notes it. Anything else is a collection problem, not bad input.
    const errno = (e.cause as NodeJS.ErrnoException | undefined)?.code;
    if (errno === 'ENOENT' || errno === 'ENOTDIR') return undefined;
    throw new CollectionError(e.code, errno === 'EACCES' ? `${e.message}: run as root` : e.message, { cause: e });
  }
}
