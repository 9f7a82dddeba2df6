// The SGX enclave REPORT body (384 bytes): here the Quoting Enclave's report inside a TD quote, signed
// by the PCK key. Its REPORTDATA binds the quote's attestation key.
import { ParseError } from '../../base/errors.js';
import { view } from '../../base/bytes.js';

export const ENCLAVE_REPORT_SIZE = 384;

export interface EnclaveReport {
  readonly bytes: Uint8Array;
  readonly cpuSvn: Uint8Array; // 16
  readonly miscSelect: number; // u32
  readonly attributes: Uint8Array; // 16
  readonly mrEnclave: Uint8Array; // 32
  readonly mrSigner: Uint8Array; // 32
  readonly isvProdId: number;
  readonly isvSvn: number;
  readonly reportData: Uint8Array; // 64
}

export function parseEnclaveReport(b: Uint8Array): EnclaveReport {
  if (b.length !== ENCLAVE_REPORT_SIZE) throw new ParseError('E_TDX_QUOTE', `QE report must be ${ENCLAVE_REPORT_SIZE} bytes, got ${b.length}`);
  const dv = view(b);
  return {
    bytes: b.slice(),
    cpuSvn: b.slice(0, 16),
    miscSelect: dv.getUint32(16, true),
    attributes: b.slice(48, 64),
    mrEnclave: b.slice(64, 96),
    mrSigner: b.slice(128, 160),
    isvProdId: dv.getUint16(256, true),
    isvSvn: dv.getUint16(258, true),
    reportData: b.slice(320, 384),
  };
}
