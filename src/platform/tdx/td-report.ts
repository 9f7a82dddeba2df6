// The Intel TDX TDREPORT_STRUCT (1024 bytes) that the Azure paravisor puts in the HCL report's report
// area: REPORTMACSTRUCT, TEE_TCB_INFO and TDINFO. It is MAC'd by the CPU, not signed: it becomes
// verifiable only through a TD quote whose body must repeat these fields.
import { ParseError } from '../../base/errors.js';

export const TD_REPORT_SIZE = 1024;
/** REPORTTYPE.TYPE of a TDX report. */
export const TDX_REPORT_TYPE = 0x81;

/** The measurements and attributes a TD quote body repeats (both formats share them). */
export interface TdMeasurements {
  readonly teeTcbSvn: Uint8Array; // 16
  readonly mrSeam: Uint8Array; // 48
  readonly mrSignerSeam: Uint8Array; // 48
  readonly seamAttributes: Uint8Array; // 8
  readonly tdAttributes: Uint8Array; // 8
  readonly xfam: Uint8Array; // 8
  readonly mrTd: Uint8Array; // 48
  readonly mrConfigId: Uint8Array; // 48
  readonly mrOwner: Uint8Array; // 48
  readonly mrOwnerConfig: Uint8Array; // 48
  readonly rtmr: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array]; // 4 x 48
  readonly reportData: Uint8Array; // 64
}

export interface TdReport extends TdMeasurements {
  readonly bytes: Uint8Array;
  readonly reportType: { readonly type: number; readonly subType: number; readonly version: number };
  readonly cpuSvn: Uint8Array;
  readonly teeTcbInfoHash: Uint8Array;
  readonly teeInfoHash: Uint8Array;
  readonly mac: Uint8Array;
  /** TEE_TCB_INFO.VALID: which TEE_TCB_INFO fields are meaningful. */
  readonly teeTcbInfoValid: Uint8Array;
  readonly servTdHash: Uint8Array;
}

/** TD ATTRIBUTES bit 0: the TD is debuggable (the host can read and change its memory). */
export function tdDebug(tdAttributes: Uint8Array): boolean {
  return (tdAttributes[0]! & 1) === 1;
}

/** Parses exactly 1024 bytes of TDREPORT_STRUCT. */
export function parseTdReport(b: Uint8Array): TdReport {
  if (!(b instanceof Uint8Array)) throw new ParseError('E_TD_REPORT', 'TD report must be bytes');
  if (b.length !== TD_REPORT_SIZE) throw new ParseError('E_TD_REPORT', `TD report must be ${TD_REPORT_SIZE} bytes, got ${b.length}`);
  // Every field is a view of one private copy: nothing aliases the caller's bytes.
  const bytes = b.slice();
  const f = (off: number, len: number): Uint8Array => bytes.subarray(off, off + len);
  const reportType = { type: b[0]!, subType: b[1]!, version: b[2]! };
  if (reportType.type !== TDX_REPORT_TYPE) throw new ParseError('E_TD_REPORT', `TD report type 0x${reportType.type.toString(16)} is not TDX (0x81)`);
  return {
    bytes,
    reportType,
    cpuSvn: f(16, 16),
    teeTcbInfoHash: f(32, 48),
    teeInfoHash: f(80, 48),
    reportData: f(128, 64),
    mac: f(224, 32),
    teeTcbInfoValid: f(256, 8),
    teeTcbSvn: f(264, 16),
    mrSeam: f(280, 48),
    mrSignerSeam: f(328, 48),
    seamAttributes: f(376, 8),
    tdAttributes: f(512, 8),
    xfam: f(520, 8),
    mrTd: f(528, 48),
    mrConfigId: f(576, 48),
    mrOwner: f(624, 48),
    mrOwnerConfig: f(672, 48),
    rtmr: [f(720, 48), f(768, 48), f(816, 48), f(864, 48)],
    servTdHash: f(912, 48),
  };
}
