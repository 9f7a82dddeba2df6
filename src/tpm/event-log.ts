// The TCG PC Client measured-boot event log in crypto-agile format (TCG PC Client Platform Firmware
// Profile, section 10): a first event in the SHA-1 "TCG_PCClientPCREvent" layout carrying the
// "Spec ID Event03" (which digest algorithms follow, and their sizes), then TCG_PCR_EVENT2 records:
// pcrIndex u32, eventType u32, TPML_DIGEST_VALUES (count u32, {hashAlg u16, digest}), eventSize u32,
// event. All little-endian. Pure and bounds-checked: every malformed byte is a ParseError naming the
// event and field, never a RangeError; sizes are capped before anything is allocated.
import { digest } from '../base/digest.js';
import { ParseError } from '../base/errors.js';
import { TPM_ALG } from './constants.js';

/** Far above real logs (tens of KiB; a few hundred KiB with many db entries). */
export const MAX_EVENT_LOG_BYTES = 4 * 1024 * 1024;
export const MAX_EVENTS = 65536;
const MAX_ALGORITHMS = 16;

export const EV = {
  PREBOOT_CERT: 0x0,
  POST_CODE: 0x1,
  NO_ACTION: 0x3,
  SEPARATOR: 0x4,
  ACTION: 0x5,
  EVENT_TAG: 0x6,
  S_CRTM_CONTENTS: 0x7,
  S_CRTM_VERSION: 0x8,
  IPL: 0xd,
  EFI_VARIABLE_DRIVER_CONFIG: 0x80000001,
  EFI_VARIABLE_BOOT: 0x80000002,
  EFI_BOOT_SERVICES_APPLICATION: 0x80000003,
  EFI_BOOT_SERVICES_DRIVER: 0x80000004,
  EFI_ACTION: 0x80000007,
  EFI_PLATFORM_FIRMWARE_BLOB: 0x80000008,
  EFI_HANDOFF_TABLES: 0x80000009,
  EFI_VARIABLE_AUTHORITY: 0x800000e0,
} as const;

/** Digest sizes of the algorithms a log may carry. */
const DIGEST_SIZES: Readonly<Record<number, number>> = {
  [TPM_ALG.SHA1]: 20,
  [TPM_ALG.SHA256]: 32,
  [TPM_ALG.SHA384]: 48,
  [TPM_ALG.SHA512]: 64,
  0x0012: 32 /* SM3_256 */,
};
export const HASH_NAMES: Readonly<Record<number, string>> = {
  [TPM_ALG.SHA1]: 'sha1',
  [TPM_ALG.SHA256]: 'sha256',
  [TPM_ALG.SHA384]: 'sha384',
  [TPM_ALG.SHA512]: 'sha512',
};

export interface TcgEvent {
  /** Position in the log (0 = the Spec ID event). */
  readonly seq: number;
  /** Byte offset of the record in the log. */
  readonly offset: number;
  readonly pcr: number;
  readonly type: number;
  /** hashAlg -> digest. */
  readonly digests: ReadonlyMap<number, Uint8Array>;
  readonly data: Uint8Array;
}

export interface EventLog {
  readonly specVersion: string;
  /** Algorithms and digest sizes the Spec ID event declares, in order. */
  readonly algorithms: readonly { readonly alg: number; readonly size: number }[];
  /** Every event after the Spec ID event, EV_NO_ACTION ones included. */
  readonly events: readonly TcgEvent[];
  /** The locality of a StartupLocality event (PCR 0 then starts at that value), when the log has one. */
  readonly startupLocality?: number;
}

class Reader {
  off = 0;
  constructor(
    private readonly b: Uint8Array,
    private readonly dv: DataView,
  ) {}
  need(n: number, what: string): void {
    if (n < 0 || this.off + n > this.b.length)
      throw new ParseError('E_EVENTLOG_TRUNCATED', `event log: ${what} runs past the end (offset ${this.off}, ${n} bytes, log ${this.b.length})`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.b[this.off++]!;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.dv.getUint16(this.off, true);
    this.off += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.dv.getUint32(this.off, true);
    this.off += 4;
    return v;
  }
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const v = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }
  get left(): number {
    return this.b.length - this.off;
  }
}

const SPEC_ID = 'Spec ID Event03\0';
const STARTUP_LOCALITY = 'StartupLocality\0';
const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

export function parseEventLog(input: Uint8Array): EventLog {
  if (!(input instanceof Uint8Array)) throw new ParseError('E_EVENTLOG', 'the event log must be bytes');
  if (input.length === 0) throw new ParseError('E_EVENTLOG', 'the event log is empty');
  if (input.length > MAX_EVENT_LOG_BYTES)
    throw new ParseError('E_EVENTLOG_SIZE', `the event log is too large (${input.length} bytes, at most ${MAX_EVENT_LOG_BYTES})`);
  const r = new Reader(input, new DataView(input.buffer, input.byteOffset, input.byteLength));
  // First event: SHA-1 layout, EV_NO_ACTION, PCR 0, zero digest, the Spec ID event.
  const pcr0 = r.u32('first event pcrIndex');
  const type0 = r.u32('first event eventType');
  r.bytes(20, 'first event digest');
  const size0 = r.u32('first event eventSize');
  if (pcr0 !== 0 || type0 !== EV.NO_ACTION)
    throw new ParseError(
      'E_EVENTLOG_FORMAT',
      `the event log does not start with a Spec ID event (PCR ${pcr0}, type 0x${type0.toString(16)}): not a crypto-agile TCG log`,
    );
  const spec = new Reader(r.bytes(size0, 'Spec ID event'), new DataView(input.buffer, input.byteOffset + r.off - size0, size0));
  const sig = latin1(spec.bytes(16, 'Spec ID signature'));
  if (sig !== SPEC_ID) throw new ParseError('E_EVENTLOG_FORMAT', 'the first event is not "Spec ID Event03": a SHA-1-only (TPM 1.2 style) log is not supported');
  spec.u32('platformClass');
  const minor = spec.u8('specVersionMinor');
  const major = spec.u8('specVersionMajor');
  const errata = spec.u8('specErrata');
  spec.u8('uintnSize');
  const nAlg = spec.u32('numberOfAlgorithms');
  if (nAlg === 0 || nAlg > MAX_ALGORITHMS)
    throw new ParseError('E_EVENTLOG_FORMAT', `the Spec ID event declares ${nAlg} digest algorithms (1-${MAX_ALGORITHMS})`);
  const algorithms: { alg: number; size: number }[] = [];
  for (let i = 0; i < nAlg; i++) {
    const alg = spec.u16(`algorithm[${i}].algorithmId`);
    const size = spec.u16(`algorithm[${i}].digestSize`);
    if (size === 0 || size > 64) throw new ParseError('E_EVENTLOG_FORMAT', `algorithm 0x${alg.toString(16)} has digest size ${size}`);
    if (DIGEST_SIZES[alg] !== undefined && DIGEST_SIZES[alg] !== size)
      throw new ParseError('E_EVENTLOG_FORMAT', `algorithm 0x${alg.toString(16)} is declared with ${size}-byte digests, not ${DIGEST_SIZES[alg]}`);
    if (algorithms.some((a) => a.alg === alg)) throw new ParseError('E_EVENTLOG_FORMAT', `algorithm 0x${alg.toString(16)} is declared twice`);
    algorithms.push({ alg, size });
  }
  const vendorSize = spec.u8('vendorInfoSize');
  spec.bytes(vendorSize, 'vendorInfo');
  const sizeOf = new Map(algorithms.map((a) => [a.alg, a.size]));

  const events: TcgEvent[] = [];
  let startupLocality: number | undefined;
  for (let seq = 1; r.left > 0; seq++) {
    if (events.length >= MAX_EVENTS) throw new ParseError('E_EVENTLOG_SIZE', `the event log has more than ${MAX_EVENTS} events`);
    const offset = r.off;
    const at = `event ${seq} (offset ${offset})`;
    const pcr = r.u32(`${at} pcrIndex`);
    const type = r.u32(`${at} eventType`);
    const count = r.u32(`${at} digest count`);
    if (count > algorithms.length) throw new ParseError('E_EVENTLOG_FORMAT', `${at} has ${count} digests; the log declares ${algorithms.length} algorithms`);
    const digests = new Map<number, Uint8Array>();
    for (let i = 0; i < count; i++) {
      const alg = r.u16(`${at} digest[${i}].hashAlg`);
      const size = sizeOf.get(alg);
      if (size === undefined)
        throw new ParseError('E_EVENTLOG_FORMAT', `${at} has a digest of algorithm 0x${alg.toString(16)}, not declared by the Spec ID event`);
      if (digests.has(alg)) throw new ParseError('E_EVENTLOG_FORMAT', `${at} has two digests of algorithm 0x${alg.toString(16)}`);
      digests.set(alg, r.bytes(size, `${at} digest[${i}]`));
    }
    const dataSize = r.u32(`${at} eventSize`);
    const data = r.bytes(dataSize, `${at} event data`);
    if (pcr > 23 && type !== EV.NO_ACTION) throw new ParseError('E_EVENTLOG_FORMAT', `${at} extends PCR ${pcr} (0-23)`);
    if (type === EV.NO_ACTION && data.length >= 17 && latin1(data.subarray(0, 16)) === STARTUP_LOCALITY) startupLocality = data[16]!;
    events.push({ seq, offset, pcr, type, digests, data });
  }
  return { specVersion: `${major}.${minor}.${errata}`, algorithms, events, ...(startupLocality !== undefined ? { startupLocality } : {}) };
}

export interface Replay {
  /** 24 PCR values (lowercase hex) as the log would leave them; '' for PCRs it never extends. */
  readonly pcrs: readonly string[];
  /** Events that extend each PCR, in order. */
  readonly extends: readonly number[];
}

/** Replays the events of one bank: PCR = H(PCR || digest), from zero (PCR 0 from the startup locality). */
export function replayEventLog(log: EventLog, alg: number = TPM_ALG.SHA256): Replay {
  const name = HASH_NAMES[alg];
  const size = log.algorithms.find((a) => a.alg === alg)?.size;
  if (!name || size === undefined) throw new ParseError('E_EVENTLOG_BANK', `the event log has no ${name ?? `0x${alg.toString(16)}`} digests`);
  const pcrs = new Array<Buffer | undefined>(24).fill(undefined);
  const counts = new Array<number>(24).fill(0);
  // PCR || digest, hashed in one shot from one reused buffer (hundreds of extends per log).
  const joined = Buffer.alloc(2 * size);
  for (const e of log.events) {
    if (e.type === EV.NO_ACTION) continue; // never extended
    const d = e.digests.get(alg);
    if (!d) throw new ParseError('E_EVENTLOG_BANK', `event ${e.seq} has no ${name} digest`);
    let cur = pcrs[e.pcr];
    if (!cur) {
      cur = Buffer.alloc(size);
      if (e.pcr === 0 && log.startupLocality !== undefined) cur[size - 1] = log.startupLocality;
    }
    joined.set(cur, 0);
    joined.set(d, size);
    pcrs[e.pcr] = digest(name, joined);
    counts[e.pcr]!++;
  }
  return { pcrs: pcrs.map((p) => (p ? p.toString('hex') : '')), extends: counts };
}
