// X.509 CRLs as AMD publishes them (signed by the ARK), PEM or DER, read with the small DER reader.
import { ParseError } from '../base/errors.js';
import { utf8 } from '../base/bytes.js';
import { decodeSignatureAlgorithm, type SignatureAlgorithm } from './certificate.js';
import { pemDers } from './pem.js';
import { children, content, decodeName, decodeTime, expectTag, integerHex, isDerSequence, readTlv, Tag, whole, type DistinguishedName } from './der.js';

export const MAX_CRL_SIZE = 1024 * 1024;

export interface Crl {
  readonly der: Uint8Array;
  readonly tbs: Uint8Array;
  readonly issuer: DistinguishedName;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  /** Revoked serial numbers, lowercase hex without leading zeros. */
  readonly revoked: ReadonlySet<string>;
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly signature: Uint8Array;
}

export function parseCrl(input: Uint8Array | string): Crl {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) throw new ParseError('E_CRL', 'CRL must be bytes or text');
  if (input.length > MAX_CRL_SIZE) throw new ParseError('E_CRL', `CRL is too large (${input.length} bytes)`);
  let der: Uint8Array;
  // DER only when one SEQUENCE spans the input: a PEM file may start with "0" (0x30) too.
  const text = typeof input === 'string' ? input : isDerSequence(input) ? undefined : utf8.decode(input);
  if (text !== undefined) {
    const first = pemDers(text, 'X509 CRL', { what: 'CRL', code: 'E_CRL' })[0];
    if (!first) throw new ParseError('E_CRL', 'no PEM "X509 CRL" block or DER CRL found');
    der = first;
  } else der = (input as Uint8Array).slice();
  try {
    const top = expectTag(readTlv(der, 0, der.length, 'CRL'), Tag.Sequence, 'CRL');
    if (top.end !== der.length) throw new ParseError('E_CRL', 'trailing bytes after the CRL');
    const [tbsT, algT, sigT] = children(der, top, 'CRL');
    const parts = children(der, expectTag(tbsT, Tag.Sequence, 'TBSCertList'), 'TBSCertList');
    let i = 0;
    if (parts[0]?.tag === Tag.Integer) i++;
    expectTag(parts[i++], Tag.Sequence, 'CRL signature algorithm');
    const issuer = decodeName(der, expectTag(parts[i++], Tag.Sequence, 'CRL issuer'), 'CRL issuer');
    const thisT = parts[i++];
    if (!thisT) throw new ParseError('E_CRL', 'CRL has no thisUpdate');
    const thisUpdate = decodeTime(der, thisT, 'thisUpdate');
    let nextUpdate: Date | undefined;
    if (parts[i] && (parts[i]!.tag === Tag.UtcTime || parts[i]!.tag === Tag.GeneralizedTime)) nextUpdate = decodeTime(der, parts[i++]!, 'nextUpdate');
    const revoked = new Set<string>();
    if (parts[i]?.tag === Tag.Sequence) {
      for (const entry of children(der, parts[i++]!, 'revokedCertificates')) {
        const [serialT] = children(der, expectTag(entry, Tag.Sequence, 'revoked entry'), 'revoked entry');
        revoked.add(integerHex(der, expectTag(serialT, Tag.Integer, 'revoked serial')));
      }
    }
    const signatureAlgorithm = decodeSignatureAlgorithm(der, expectTag(algT, Tag.Sequence, 'CRL signature algorithm'));
    const sigBits = content(der, expectTag(sigT, Tag.BitString, 'CRL signature'));
    if (sigBits.length < 2 || sigBits[0] !== 0) throw new ParseError('E_CRL', 'CRL signature is malformed');
    return {
      der,
      tbs: whole(der, tbsT!),
      issuer,
      thisUpdate,
      ...(nextUpdate ? { nextUpdate } : {}),
      revoked,
      signatureAlgorithm,
      signature: sigBits.subarray(1),
    };
  } catch (e) {
    if (e instanceof ParseError && e.code === 'E_CRL') throw e;
    throw new ParseError('E_CRL', `not a valid CRL: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}
