// Does a certificate served for this report belong to it? Read only what the cache needs to refuse a
// foreign certificate (the verifier does the full check): the VCEK's hwID extension against the
// report's CHIP_ID. Pure.
import { children, content, decodeOid, expectTag, readTlv, Tag } from '../x509/der.js';
import { bytesEqual, isAllZero } from '../base/bytes.js';
import { pemCertificates } from '../input/thim.js';

const HWID_OID = '1.3.6.1.4.1.3704.1.4';

/** The raw hwID extension value of a VCEK (DER), or undefined when absent. Throws ParseError on bad DER. */
export function vcekHardwareId(der: Uint8Array): Uint8Array | undefined {
  const cert = expectTag(readTlv(der, 0, der.length, 'VCEK'), Tag.Sequence, 'VCEK');
  const tbs = expectTag(children(der, cert, 'VCEK')[0], Tag.Sequence, 'VCEK tbsCertificate');
  const exts = children(der, tbs, 'VCEK tbsCertificate').find((t) => t.tag === 0xa3);
  if (!exts) return undefined;
  const list = expectTag(children(der, exts, 'VCEK extensions')[0], Tag.Sequence, 'VCEK extensions');
  for (const ext of children(der, list, 'VCEK extension')) {
    const parts = children(der, ext, 'VCEK extension');
    const oid = expectTag(parts[0], Tag.Oid, 'VCEK extension id');
    if (decodeOid(der, oid) !== HWID_OID) continue;
    const value = expectTag(parts[parts.length - 1], Tag.OctetString, 'VCEK hwID');
    return content(der, value);
  }
  return undefined;
}

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
    hwid = vcekHardwareId(der);
  } catch (e) {
    return `the VCEK cannot be read (${e instanceof Error ? e.message : String(e)})`;
  }
  if (!hwid) return 'the VCEK has no hwID extension';
  // Turin VCEKs carry an 8-byte hwID: compare that prefix of the 64-byte CHIP_ID.
  const expected = hwid.length === 8 ? chipId.subarray(0, 8) : chipId;
  return bytesEqual(hwid, expected) ? undefined : "the VCEK's hwID is another chip's, not this report's CHIP_ID";
}
