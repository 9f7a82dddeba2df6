// X.509 certificates as AMD issues them (ARK, ASK/ASVK, VCEK/VLEK), read with the small DER reader:
// names, validity, serial, key, RSASSA-PSS parameters and the VCEK's AMD extensions (1.3.6.1.4.1.3704.1).
import { createHash } from 'node:crypto';
import { ParseError } from '../base/errors.js';
import {
  children,
  content,
  decodeName,
  decodeOid,
  decodeSmallUint,
  decodeTime,
  expectTag,
  integerHex,
  readTlv,
  Tag,
  whole,
  type DistinguishedName,
  type Tlv,
} from './der.js';

export const OID = {
  rsassaPss: '1.2.840.113549.1.1.10',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ecPublicKey: '1.2.840.10045.2.1',
  secp384r1: '1.3.132.0.34',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  sha1: '1.3.14.3.2.26',
  mgf1: '1.2.840.113549.1.1.8',
} as const;

const AMD_EXT = '1.3.6.1.4.1.3704.1';
/** A certificate bigger than this is not AMD's (theirs are under 2 KiB). */
export const MAX_CERT_SIZE = 16 * 1024;

export interface SignatureAlgorithm {
  readonly oid: string;
  /** RSASSA-PSS: the hash (node name) and salt length from the parameters. */
  readonly pss?: { readonly hash: string; readonly mgfHash: string; readonly saltLength: number };
}

/** The VCEK/VLEK extensions (absent ones undefined). */
export interface AmdExtensions {
  readonly structVersion?: number;
  readonly productName?: string;
  readonly bootloader?: number;
  readonly tee?: number;
  readonly snp?: number;
  readonly microcode?: number;
  readonly fmc?: number;
  /** hwID: 64 bytes (8 on Turin); the raw or OCTET STRING-wrapped encoding both accepted. */
  readonly hwId?: Uint8Array;
  readonly cspId?: string;
}

export interface Certificate {
  readonly der: Uint8Array;
  /** The signed TBSCertificate bytes. */
  readonly tbs: Uint8Array;
  readonly serialNumber: string;
  readonly issuer: DistinguishedName;
  readonly subject: DistinguishedName;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SubjectPublicKeyInfo DER. */
  readonly spki: Uint8Array;
  readonly keyAlgorithm: string;
  /** For EC keys: the curve OID. */
  readonly keyCurve?: string;
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly signature: Uint8Array;
  readonly amd: AmdExtensions;
  /** SHA-256 of the DER, lowercase hex. */
  readonly sha256: string;
}

const HASH_NAMES: Record<string, string> = { [OID.sha1]: 'sha1', [OID.sha256]: 'sha256', [OID.sha384]: 'sha384', [OID.sha512]: 'sha512' };

function hashName(b: Uint8Array, algId: Tlv): string {
  const [oidT] = children(b, expectTag(algId, Tag.Sequence, 'hash algorithm'));
  const oid = decodeOid(b, expectTag(oidT, Tag.Oid, 'hash algorithm'));
  return HASH_NAMES[oid] ?? oid;
}

export function decodeSignatureAlgorithm(b: Uint8Array, t: Tlv): SignatureAlgorithm {
  const [oidT, params] = children(b, expectTag(t, Tag.Sequence, 'signature algorithm'), 'signature algorithm');
  const oid = decodeOid(b, expectTag(oidT, Tag.Oid, 'signature algorithm'));
  if (oid !== OID.rsassaPss) return { oid };
  // RFC 4055 defaults: SHA-1, MGF1-SHA-1, salt 20, trailer 1.
  let hash = 'sha1';
  let mgfHash = 'sha1';
  let saltLength = 20;
  if (params && params.tag === Tag.Sequence) {
    for (const p of children(b, params, 'PSS parameters')) {
      const [inner] = children(b, p, 'PSS parameters');
      if (!inner) throw new ParseError('E_CERT', 'empty PSS parameter');
      if (p.tag === 0xa0) hash = hashName(b, inner);
      else if (p.tag === 0xa1) {
        const [mOid, mParams] = children(b, expectTag(inner, Tag.Sequence, 'MGF'), 'MGF');
        if (decodeOid(b, expectTag(mOid, Tag.Oid, 'MGF')) !== OID.mgf1 || !mParams) throw new ParseError('E_CERT', 'PSS mask generation function is not MGF1');
        mgfHash = hashName(b, mParams);
      } else if (p.tag === 0xa2) saltLength = decodeSmallUint(b, inner, 'PSS salt length');
      else if (p.tag === 0xa3) {
        if (decodeSmallUint(b, inner, 'PSS trailer field') !== 1) throw new ParseError('E_CERT', 'PSS trailer field must be 1');
      }
    }
  }
  return { oid, pss: { hash, mgfHash, saltLength } };
}

function decodeAmdInt(v: Uint8Array, what: string): number {
  const t = readTlv(v, 0, v.length, what);
  if (t.end !== v.length) throw new ParseError('E_CERT_EXT', `${what}: trailing bytes`);
  return decodeSmallUint(v, t, what);
}

function decodeAmdExtensions(b: Uint8Array, extsT: Tlv): AmdExtensions {
  const ext: { -readonly [K in keyof AmdExtensions]: AmdExtensions[K] } = {};
  for (const e of children(b, expectTag(extsT, Tag.Sequence, 'extensions'), 'extensions')) {
    const parts = children(b, expectTag(e, Tag.Sequence, 'extension'), 'extension');
    const oid = decodeOid(b, expectTag(parts[0], Tag.Oid, 'extension'));
    if (!oid.startsWith(AMD_EXT + '.')) continue;
    const valT = expectTag(parts[parts.length - 1], Tag.OctetString, `extension ${oid}`);
    const v = content(b, valT);
    const what = `AMD extension ${oid}`;
    switch (oid.slice(AMD_EXT.length + 1)) {
      case '1':
        ext.structVersion = decodeAmdInt(v, what);
        break;
      case '2': {
        const t = readTlv(v, 0, v.length, what);
        if (t.tag !== Tag.Ia5String || t.end !== v.length) throw new ParseError('E_CERT_EXT', `${what}: productName is not an IA5String`);
        ext.productName = Buffer.from(content(v, t)).toString('latin1');
        break;
      }
      case '3.1':
        ext.bootloader = decodeAmdInt(v, what);
        break;
      case '3.2':
        ext.tee = decodeAmdInt(v, what);
        break;
      case '3.3':
        ext.snp = decodeAmdInt(v, what);
        break;
      case '3.8':
        ext.microcode = decodeAmdInt(v, what);
        break;
      case '3.9':
        ext.fmc = decodeAmdInt(v, what);
        break;
      case '4': {
        // Raw bytes (KDS) or wrapped in an OCTET STRING (some tools).
        const wrapped = (v.length === 66 && v[0] === 0x04 && v[1] === 0x40) || (v.length === 10 && v[0] === 0x04 && v[1] === 0x08);
        ext.hwId = (wrapped ? v.subarray(2) : v).slice();
        break;
      }
      case '5': {
        // KDS encodes cspId as an IA5String (the VLEK fixture); other bytes are kept as they are.
        let text = v;
        if (v[0] === Tag.Ia5String) {
          try {
            const t = readTlv(v, 0, v.length, what);
            if (t.end === v.length) text = content(v, t);
          } catch {
            // not DER: keep the raw bytes
          }
        }
        ext.cspId = Buffer.from(text).toString('latin1');
        break;
      }
      default:
        break;
    }
  }
  return ext;
}

/** Parses one DER certificate. Throws ParseError on anything malformed. */
export function parseCertificate(der: Uint8Array): Certificate {
  if (der.length > MAX_CERT_SIZE) throw new ParseError('E_CERT', `certificate is too large (${der.length} bytes)`);
  const b = der;
  try {
    const certT = expectTag(readTlv(b, 0, b.length, 'certificate'), Tag.Sequence, 'certificate');
    if (certT.end !== b.length) throw new ParseError('E_CERT', 'trailing bytes after the certificate');
    const [tbsT, algT, sigT] = children(b, certT, 'certificate');
    expectTag(tbsT, Tag.Sequence, 'TBSCertificate');
    const tbsParts = children(b, tbsT!, 'TBSCertificate');
    let i = 0;
    if (tbsParts[0]?.tag === 0xa0) i++;
    const serialT = expectTag(tbsParts[i++], Tag.Integer, 'serial number');
    const innerAlgT = expectTag(tbsParts[i++], Tag.Sequence, 'signature algorithm');
    const issuer = decodeName(b, tbsParts[i++]!, 'issuer');
    const [nbT, naT] = children(b, expectTag(tbsParts[i++], Tag.Sequence, 'validity'), 'validity');
    if (!nbT || !naT) throw new ParseError('E_CERT', 'validity is incomplete');
    const subject = decodeName(b, expectTag(tbsParts[i++], Tag.Sequence, 'subject'), 'subject');
    const spkiT = expectTag(tbsParts[i++], Tag.Sequence, 'subject public key info');
    const [keyAlgT] = children(b, spkiT, 'subject public key info');
    const keyAlgParts = children(b, expectTag(keyAlgT, Tag.Sequence, 'key algorithm'), 'key algorithm');
    const keyAlgorithm = decodeOid(b, expectTag(keyAlgParts[0], Tag.Oid, 'key algorithm'));
    const keyCurve = keyAlgorithm === OID.ecPublicKey && keyAlgParts[1]?.tag === Tag.Oid ? decodeOid(b, keyAlgParts[1]) : undefined;
    let amd: AmdExtensions = {};
    for (; i < tbsParts.length; i++) {
      const t = tbsParts[i]!;
      if (t.tag === 0xa3) {
        const [extsT] = children(b, t, 'extensions');
        if (extsT) amd = decodeAmdExtensions(b, extsT);
      }
    }
    expectTag(algT, Tag.Sequence, 'signature algorithm');
    const outerAlg = whole(b, algT!);
    const innerAlg = whole(b, innerAlgT);
    if (Buffer.compare(Buffer.from(outerAlg), Buffer.from(innerAlg)) !== 0) throw new ParseError('E_CERT', 'inner and outer signature algorithms differ');
    const signatureAlgorithm = decodeSignatureAlgorithm(b, algT!);
    const sigBits = content(b, expectTag(sigT, Tag.BitString, 'signature'));
    if (sigBits.length < 2 || sigBits[0] !== 0) throw new ParseError('E_CERT', 'signature BIT STRING is malformed');
    return {
      der: b,
      tbs: whole(b, tbsT!),
      serialNumber: integerHex(b, serialT),
      issuer,
      subject,
      notBefore: decodeTime(b, nbT, 'notBefore'),
      notAfter: decodeTime(b, naT, 'notAfter'),
      spki: whole(b, spkiT),
      keyAlgorithm,
      ...(keyCurve !== undefined ? { keyCurve } : {}),
      signatureAlgorithm,
      signature: sigBits.subarray(1),
      amd,
      sha256: createHash('sha256').update(b).digest('hex'),
    };
  } catch (e) {
    if (e instanceof ParseError) throw new ParseError('E_CERT', `not a valid X.509 certificate: ${e.message}`, { cause: e });
    throw new ParseError('E_CERT', 'not a valid X.509 certificate', { cause: e });
  }
}

/** Why `c` is not valid at `at` ("VCEK is not valid before ...", "... expired ..."), or undefined when it is. */
export function validityProblem(c: Certificate, what: string, at: Date): string | undefined {
  if (at < c.notBefore) return `${what} is not valid before ${c.notBefore.toISOString()}`;
  if (at > c.notAfter) return `${what} expired ${c.notAfter.toISOString()}`;
  return undefined;
}
