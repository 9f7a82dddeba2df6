// The file: transport: replays captured evidence instead of asking a TPM. A file is returned as it is
// (an NV dump or anything `verify --evidence` takes). A folder is one of two formats:
// - an evidence bundle (it has manifest.json): read by collect/bundle.ts, every file digest-checked;
// - a capture folder without a manifest (the test vectors: hcl-report.bin [+ quote.msg quote.sig
//   nonce.hex pcrs.json] [+ ak-cert.der eventlog.bin]), read here, file by file, nothing to check against.
// Both yield the recorded quote.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../../base/errors.js';
import { readFileBounded } from '../../io/bounded-read.js';
import { parseNonceHex } from '../../input/nonce.js';
import { readBundle } from '../bundle.js';
import { parsePcrValues } from '../../input/pcrs.js';
import { PCR_COUNT, TPM_ALG } from '../../tpm/constants.js';
import { parseQuoteAttest } from '../../tpm/structures.js';
import type { QuoteInput } from '../../guest/freshness.js';

const MAX_EVIDENCE_BYTES = 1 << 20;
const MAX_SMALL_FILE = 64 * 1024;

export interface ReplayedEvidence {
  readonly hclReport: Uint8Array;
  readonly quote?: QuoteInput & {
    readonly pcrs: string[];
    readonly pcrSelection: number[];
  };
  /** A bundle folder's ak-cert.der and eventlog.bin, when present. */
  readonly akCertificate?: Uint8Array;
  readonly eventLog?: Uint8Array;
}

const MAX_EVENT_LOG_BYTES = 4 * 1024 * 1024;

/** The optional guest files of a bundle folder (issue 11). */
async function guestFiles(path: string): Promise<{ akCertificate?: Uint8Array; eventLog?: Uint8Array }> {
  const ak = join(path, 'ak-cert.der');
  const log = join(path, 'eventlog.bin');
  return {
    ...((await exists(ak)) ? { akCertificate: await readBounded(ak, MAX_SMALL_FILE, 'AK certificate') } : {}),
    ...((await exists(log)) ? { eventLog: await readBounded(log, MAX_EVENT_LOG_BYTES, 'event log') } : {}),
  };
}

async function readBounded(path: string, max: number, what: string): Promise<Uint8Array> {
  const b = await readFileBounded(path, { max, what, codes: { missing: 'E_REPLAY_MISSING', type: 'E_REPLAY_MISSING', size: 'E_REPLAY_TOO_LARGE' } });
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Parses pcrs.json: an array of up to 24 hex SHA-256 values ('' for PCRs not recorded). */
export function parsePcrsJson(text: string, what: string): string[] {
  return parsePcrValues(text, { code: 'E_REPLAY_PCRS', what }).pcrs;
}

/** A bundle folder, through the one digest-checking bundle reader. */
async function fromBundle(path: string): Promise<ReplayedEvidence> {
  const { evidence: e } = await readBundle(path);
  return {
    hclReport: e.hclReport,
    ...(e.quote
      ? {
          quote: {
            message: e.quote.message,
            signature: e.quote.signature,
            nonce: e.quote.nonce,
            pcrs: [...e.quote.pcrs],
            pcrSelection: [...e.quote.pcrSelection],
          },
        }
      : {}),
    ...(e.akCertificate ? { akCertificate: e.akCertificate } : {}),
    ...(e.eventLog ? { eventLog: e.eventLog } : {}),
  };
}

export async function readReplay(path: string): Promise<ReplayedEvidence> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (e) {
    throw new InputError('E_REPLAY_MISSING', `file: transport: ${path} does not exist or cannot be read (${(e as NodeJS.ErrnoException).code ?? ''})`, {
      cause: e,
    });
  }
  if (!isDir) return { hclReport: await readBounded(path, MAX_EVIDENCE_BYTES, 'evidence file') };
  if (await exists(join(path, 'manifest.json'))) return fromBundle(path);

  const hclReport = await readBounded(join(path, 'hcl-report.bin'), MAX_EVIDENCE_BYTES, 'HCL report');
  const msgPath = join(path, 'quote.msg');
  const guest = await guestFiles(path);
  if (!(await exists(msgPath))) return { hclReport, ...guest };
  const message = await readBounded(msgPath, MAX_SMALL_FILE, 'quote message');
  const signature = await readBounded(join(path, 'quote.sig'), MAX_SMALL_FILE, 'quote signature');
  const noncePath = join(path, 'nonce.hex');
  const nonce = parseNonceHex(new TextDecoder().decode(await readBounded(noncePath, MAX_SMALL_FILE, 'nonce')), { code: 'E_REPLAY_NONCE', what: noncePath });
  let pcrSelection: number[];
  try {
    const att = parseQuoteAttest(message);
    pcrSelection = att.quote.pcrSelect.filter((s) => s.hashAlg === TPM_ALG.SHA256).flatMap((s) => s.pcrs);
  } catch (e) {
    throw new InputError('E_REPLAY_QUOTE', `${msgPath} is not a TPMS_ATTEST quote: ${(e as Error).message}`, { cause: e });
  }
  const pcrsPath = join(path, 'pcrs.json');
  const pcrs = (await exists(pcrsPath))
    ? parsePcrsJson(new TextDecoder().decode(await readBounded(pcrsPath, MAX_SMALL_FILE, 'PCR values')), pcrsPath)
    : Array.from({ length: PCR_COUNT }, () => '');
  return { hclReport, quote: { message, signature, nonce, pcrs, pcrSelection }, ...guest };
}
