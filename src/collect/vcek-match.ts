// Does a certificate served for this report belong to it? Read only what the cache needs to refuse a
// foreign certificate (the verifier does the full check): the VCEK's hwID extension against the
// report's CHIP_ID. The hwID is the certificate parser's (x509/certificate.ts), the one the verifier
// compares too. Pure.
import { bytesEqual, isAllZero } from '../base/bytes.js';
import { parseCertificate } from '../x509/certificate.js';
import { pemCertificates } from '../input/thim.js';

/**
 * Why the VCEK PEM cannot be this report's, or undefined when its hwID matches the CHIP_ID (or the
 * chip id is masked to zero, where nothing can be compared).
 */
export function vcekChipMismatch(vcekPem: string, chipId: Uint8Array): string | undefined {
  if (isAllZero(chipId)) return undefined;
  let hwid: Uint8Array | undefined;
  try {
    const der = pemCertificates(vcekPem, 'VCEK')[0];
    if (!der) return 'the VCEK PEM holds no certificate';
    hwid = parseCertificate(der).amd.hwId;
  } catch (e) {
    return `the VCEK cannot be read (${e instanceof Error ? e.message : String(e)})`;
  }
  if (!hwid) return 'the VCEK has no hwID extension';
  // Turin VCEKs carry an 8-byte hwID: compare that prefix of the 64-byte CHIP_ID.
  const expected = hwid.length === 8 ? chipId.subarray(0, 8) : chipId;
  return bytesEqual(hwid, expected) ? undefined : "the VCEK's hwID is another chip's, not this report's CHIP_ID";
}
