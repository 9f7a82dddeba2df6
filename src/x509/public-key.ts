// A SubjectPublicKeyInfo as a node:crypto KeyObject. Node 20's OpenSSL 3.0 decodes SPKI DER slowly:
// 0.2-0.3 ms for an RSA or P-256 key, as long as a signature check. The same key imported as a JWK
// costs ~0.01 ms (RSA) or ~0.1 ms (P-256, point checked on the curve), so RSA keys and uncompressed
// P-256 points take that path. Anything else (P-384, whose JWK import is slower, or any SPKI not in
// the exact shape below) goes to OpenSSL's DER decoder, which then accepts or refuses it as before.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { children, content, decodeOid, expectTag, readTlv, Tag } from './der.js';

const RSA = '1.2.840.113549.1.1.1';
const EC = '1.2.840.10045.2.1';
const P256 = '1.2.840.10045.3.1.7';

const b64u = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');

/** A DER INTEGER's magnitude when it is positive and minimally encoded; undefined otherwise. */
function positive(c: Uint8Array): Uint8Array | undefined {
  if (c.length === 0 || (c[0]! & 0x80) !== 0) return undefined;
  if (c[0] === 0) return c.length > 1 && (c[1]! & 0x80) !== 0 ? c.subarray(1) : undefined;
  return c;
}

/** The key as a JWK when the SPKI is exactly an RSA key (NULL parameters) or an uncompressed P-256 point. */
export function spkiJwk(spki: Uint8Array): { kty: 'RSA'; n: string; e: string } | { kty: 'EC'; crv: 'P-256'; x: string; y: string } | undefined {
  try {
    const top = readTlv(spki, 0);
    if (top.tag !== Tag.Sequence || top.end !== spki.length) return undefined;
    const [alg, bits, extra] = children(spki, top);
    if (!alg || extra || alg.tag !== Tag.Sequence) return undefined;
    const [oidT, params, more] = children(spki, alg);
    if (more) return undefined;
    const oid = decodeOid(spki, expectTag(oidT, Tag.Oid, 'SPKI algorithm'));
    const key = content(spki, expectTag(bits, Tag.BitString, 'SPKI key'));
    if (key[0] !== 0) return undefined; // unused bits
    if (oid === RSA) {
      if (!params || params.tag !== Tag.Null || params.end !== params.contentStart) return undefined;
      const body = key.subarray(1);
      const seq = readTlv(body, 0);
      if (seq.tag !== Tag.Sequence || seq.end !== body.length) return undefined;
      const [nT, eT, rest] = children(body, seq);
      if (!nT || !eT || rest || nT.tag !== Tag.Integer || eT.tag !== Tag.Integer) return undefined;
      const n = positive(content(body, nT));
      const e = positive(content(body, eT));
      return n && e ? { kty: 'RSA', n: b64u(n), e: b64u(e) } : undefined;
    }
    if (oid === EC) {
      if (!params || params.tag !== Tag.Oid || decodeOid(spki, params) !== P256) return undefined;
      if (key.length !== 66 || key[1] !== 0x04) return undefined;
      return { kty: 'EC', crv: 'P-256', x: b64u(key.subarray(2, 34)), y: b64u(key.subarray(34)) };
    }
    return undefined;
  } catch {
    return undefined; // not ours to judge: OpenSSL's decoder decides
  }
}

/** The public key of a DER SubjectPublicKeyInfo; throws as createPublicKey does for an unusable one. */
export function importSpki(spki: Uint8Array): KeyObject {
  const jwk = spkiJwk(spki);
  if (jwk) {
    try {
      return createPublicKey({ key: jwk, format: 'jwk' });
    } catch {
      // fall through: the DER decoder gives the error
    }
  }
  return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
}

/** An uncompressed P-256 point x || y (64 bytes) as a public key; throws when it is not on the curve. */
export function importP256(xy: Uint8Array): KeyObject {
  if (xy.length !== 64) throw new RangeError('a P-256 point is 64 bytes');
  return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64u(xy.subarray(0, 32)), y: b64u(xy.subarray(32)) }, format: 'jwk' });
}
