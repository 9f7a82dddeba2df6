// Public API of the TPM half of the collector: the HCL report from NV and a fresh quote, over the
// transport named by one string (device, swtpm socket, or file replay). See docs/tpm.md.
import { performance } from 'node:perf_hooks';
import { operationSignal } from './client.js';
import { readReplay } from './file-replay.js';
import { readHclNvIndex } from './nv.js';
import { readFreshReport } from './fresh-report.js';
import { readNvBlob } from './nv-blob.js';
import { AK_CERT_NV_INDEX } from '../../tpm/constants.js';
import { quote } from './quote.js';
import { resolveTransportSpec } from './transport.js';

import type { QuoteInput } from '../../guest/freshness.js';
export {
  parseTransport,
  resolveTransportSpec,
  DEFAULT_TRANSPORT,
  TRANSPORT_ENV,
  type TransportSpec,
  type TpmTransport,
  type TpmConnection,
} from './transport.js';
export { readHclNvIndex, type ReadNvOptions, type NvReadResult } from './nv.js';
export { writeUserData, userDataFor, USER_DATA_ATTRIBUTES, type UserDataWrite } from './user-data.js';
export { readNvBlob, MAX_NV_BLOB } from './nv-blob.js';
export { readFreshReport, type FreshReport, type FreshReportOptions } from './fresh-report.js';
export { quote, DEFAULT_PCRS, type QuoteOptions, type QuoteResult } from './quote.js';
export { createTransport, withTpm, DEFAULT_TIMEOUT_MS, type IoOptions } from './client.js';
export { decodeResponseCode, TpmResponseError, type DecodedResponseCode } from '../../tpm/response-codes.js';
export { parseQuoteAttest, parsePublicArea, publicKeyToJwk, type TpmsAttestQuote } from '../../tpm/structures.js';
export { HCL_NV_INDEX, AZURE_AK_HANDLE, AZURE_EK_HANDLE } from '../../tpm/constants.js';

export interface ReadTpmEvidenceOptions {
  /** Transport string; default $CVM_ATTEST_TPM, else device:/dev/tpmrm0. */
  readonly transport?: string;
  /** Take a fresh quote (default true). For file:, false drops the recorded quote; otherwise it is returned when recorded. */
  readonly quote?: boolean;
  /** Quote nonce, 1-64 bytes; default 32 random bytes. */
  readonly nonce?: Uint8Array;
  /** SHA-256 PCRs to quote; default 0-7. */
  readonly pcrs?: number[];
  readonly signal?: AbortSignal;
  /** Deadline for the whole collection (default 10 s). */
  readonly timeoutMs?: number;
  /** Live TPMs: write this nonce (zero-padded to 64 bytes) to NV 0x01400002 first, and read the report the paravisor makes for it. */
  readonly reportNonce?: Uint8Array;
  /** How long to wait for the paravisor's new report (default 5000 ms on a device, 0 on swtpm: a simulator has no paravisor). */
  readonly reportWaitMs?: number;
  /** Pause between re-reads while waiting (default 1000 ms). */
  readonly reportPollMs?: number;
  /** Live TPMs: also read the AK certificate at NV 0x01C101D0 (default true). */
  readonly akCertificate?: boolean;
}

export interface TpmEvidenceUserData {
  /** The 64 bytes written to 0x01400002. */
  readonly data: Uint8Array;
  /** The report read carries them as `user-data`. */
  readonly matched: boolean;
  readonly index: 'existing' | 'defined' | 'redefined';
  readonly attributes: number;
  readonly reads: number;
}

/** A quote as the TPM returned it: the verifier's QuoteInput (raw RSASSA-PKCS1-v1_5 signature on Azure, TPMT_SIGNATURE framing stripped) and what was read. */
export interface TpmEvidenceQuote extends QuoteInput {
  /** Always 24 entries indexed by PCR number: hex SHA-256 of each PCR read; '' for PCRs not selected (or not recorded, for replays). */
  readonly pcrs: string[];
  readonly pcrSelection: number[];
  /** The AK public key the TPM reported (live TPMs only). Informational: trust the HCLAkPub in the report. */
  readonly akPublicPem?: string;
}

export interface TpmEvidence {
  /** The canonical transport string used. */
  readonly transport: string;
  /** Live TPM: report_size meaningful bytes of the HCL report. file: the file's bytes unchanged. */
  readonly hclReport: Uint8Array;
  /** Size of NV index 0x01400001 (live TPMs only). */
  readonly nvIndexSize?: number;
  readonly quote?: TpmEvidenceQuote;
  /** NV 0x01C101D0 as read (DER certificate, possibly padded); absent when the index is not defined. */
  readonly akCertificate?: Uint8Array;
  /** file: a bundle folder's eventlog.bin (live TPMs: the collector reads the kernel's log itself). */
  readonly eventLog?: Uint8Array;
  /** When reportNonce was given (live TPMs). */
  readonly userData?: TpmEvidenceUserData;
  /** true for file: evidence: recorded, not fresh. A replayed quote proves nothing about now. */
  readonly replayed: boolean;
  readonly timings?: { readonly nvReadMs?: number; readonly quoteMs?: number; readonly totalMs: number };
}

/** Reads the HCL report and (by default) a fresh quote. Throws CollectionError / InputError (src/base/errors.ts). */
export async function readTpmEvidence(options: ReadTpmEvidenceOptions = {}): Promise<TpmEvidence> {
  const t0 = performance.now();
  const spec = resolveTransportSpec(options.transport);
  if (spec.kind === 'file') {
    const r = await readReplay(spec.path);
    const withQuote = r.quote && options.quote !== false;
    return {
      transport: spec.spec,
      hclReport: r.hclReport,
      ...(withQuote ? { quote: r.quote } : {}),
      ...(r.akCertificate ? { akCertificate: r.akCertificate } : {}),
      ...(r.eventLog ? { eventLog: r.eventLog } : {}),
      replayed: true,
      timings: { totalMs: performance.now() - t0 },
    };
  }
  // One deadline for the whole collection; each operation opens and closes its own connection.
  const signal = operationSignal(options);
  const io = { signal, timeoutMs: options.timeoutMs ?? 10_000 };
  let userData: TpmEvidenceUserData | undefined;
  let nv;
  if (options.reportNonce) {
    const waitMs = options.reportWaitMs ?? (spec.kind === 'device' ? 5000 : 0);
    const fr = await readFreshReport(spec, options.reportNonce, {
      ...io,
      waitMs,
      ...(options.reportPollMs !== undefined ? { pollMs: options.reportPollMs } : {}),
    });
    nv = fr.nv;
    userData = { data: fr.write.data, matched: fr.matched, index: fr.write.index, attributes: fr.write.attributes, reads: fr.reads };
  } else {
    nv = await readHclNvIndex(spec, io);
  }
  const akCertificate = options.akCertificate === false ? undefined : await readNvBlob(spec, AK_CERT_NV_INDEX, io);
  const q =
    options.quote === false
      ? undefined
      : await quote(spec, { ...io, ...(options.nonce ? { nonce: options.nonce } : {}), ...(options.pcrs ? { pcrs: options.pcrs } : {}) });
  return {
    transport: spec.spec,
    hclReport: nv.hclReport,
    nvIndexSize: nv.nvIndexSize,
    ...(q
      ? { quote: { message: q.message, signature: q.signature, nonce: q.nonce, pcrs: q.pcrs, pcrSelection: q.pcrSelection, akPublicPem: q.akPublicPem } }
      : {}),
    ...(userData ? { userData } : {}),
    ...(akCertificate ? { akCertificate } : {}),
    replayed: false,
    timings: { nvReadMs: nv.timings.totalMs, ...(q ? { quoteMs: q.timings.totalMs } : {}), totalMs: performance.now() - t0 },
  };
}
