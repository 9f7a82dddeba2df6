// The two X.509 v3 extensions a chain check needs beyond names, keys and dates: basicConstraints (is the
// certificate a CA) and extendedKeyUsage (what its key may be used for). Read from the certificate's
// own TBS bytes with the bounds-checked DER reader; a malformed extension is a ParseError.
import { ParseError } from '../base/errors.js';
import { children, content, decodeOid, expectTag, readTlv, Tag } from './der.js';
import type { Certificate } from './certificate.js';
import { perObject } from '../base/object-memo.js';

const BASIC_CONSTRAINTS = '2.5.29.19';
const EXTENDED_KEY_USAGE = '2.5.29.37';

export interface ChainExtensions {
  /** basicConstraints cA (false when the extension is absent). */
  readonly ca: boolean;
  /** extendedKeyUsage OIDs; undefined when the extension is absent (any use). */
  readonly extendedKeyUsage?: readonly string[];
}

function read(c: Certificate): ChainExtensions {
  const b = c.tbs;
  const tbs = readTlv(b, 0, b.length, 'TBSCertificate');
  let ca = false;
  let eku: string[] | undefined;
  for (const part of children(b, tbs, 'TBSCertificate')) {
    if (part.tag !== 0xa3) continue;
    const [list] = children(b, part, 'extensions');
    for (const e of children(b, expectTag(list, Tag.Sequence, 'extensions'), 'extensions')) {
      const fields = children(b, expectTag(e, Tag.Sequence, 'extension'), 'extension');
      const oid = decodeOid(b, expectTag(fields[0], Tag.Oid, 'extension id'));
      const value = content(b, expectTag(fields[fields.length - 1], Tag.OctetString, `extension ${oid}`));
      if (oid !== BASIC_CONSTRAINTS && oid !== EXTENDED_KEY_USAGE) continue;
      const top = readTlv(value, 0, value.length, `extension ${oid}`);
      if (top.tag !== Tag.Sequence || top.end !== value.length) throw new ParseError('E_CERT_EXT', `extension ${oid} is not one SEQUENCE`);
      const inner = children(value, top, `extension ${oid}`);
      if (oid === BASIC_CONSTRAINTS) {
        const flag = inner[0]?.tag === Tag.Boolean ? content(value, inner[0]) : undefined;
        if (flag && flag.length !== 1) throw new ParseError('E_CERT_EXT', 'basicConstraints cA is not a BOOLEAN');
        ca = flag !== undefined && flag[0] !== 0;
      } else eku = inner.map((t) => decodeOid(value, expectTag(t, Tag.Oid, 'extendedKeyUsage purpose')));
    }
  }
  return eku ? { ca, extendedKeyUsage: eku } : { ca };
}

/** basicConstraints and extendedKeyUsage of a parsed certificate (remembered per certificate object). */
export const chainExtensions: (c: Certificate) => ChainExtensions = perObject(read);
