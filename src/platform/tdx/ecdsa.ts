// ECDSA P-256 / SHA-256 as Intel uses it everywhere in DCAP: certificates and CRLs (DER signatures),
// quote, QE report and collateral (raw r || s). Verified issuer->subject pairs and collateral
// signatures are remembered (bounded) when the verification caches, so a repeated quote pays only for
// the two signatures that change with every quote.
import { verify, type KeyObject } from 'node:crypto';
import { OID, type Certificate } from '../../x509/certificate.js';
import type { CertStore } from '../../x509/cert-store.js';
import { INTEL_SGX_ROOT_CA_PEM, INTEL_SGX_ROOT_SPKI_SHA256 } from './intel-root.js';
import { rootStore, spkiSha256 } from '../../x509/cert-store.js';
import { pemDer } from '../../x509/pem.js';
import { importP256 } from '../../x509/public-key.js';

const ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const P256 = '1.2.840.10045.3.1.7';
const MAX_REMEMBERED = 1024;
const remembered = new Set<string>();

function remember(key: string): void {
  if (remembered.size >= MAX_REMEMBERED) remembered.clear();
  remembered.add(key);
}

let root: Certificate | undefined;
/** The embedded Intel SGX Root CA; its key must hash to the pinned value. */
export function pinnedIntelRoot(): Certificate {
  if (root) return root;
  const c = rootStore.parse(pemDer(INTEL_SGX_ROOT_CA_PEM, 'CERTIFICATE', { what: 'the embedded Intel SGX Root CA', code: 'E_INTERNAL' }));
  if (spkiSha256(c) !== INTEL_SGX_ROOT_SPKI_SHA256) throw new Error('embedded Intel SGX Root CA does not match its pinned key');
  root = c;
  return c;
}

/** True when the certificate's key is the pinned Intel SGX Root CA key. */
export function isPinnedIntelRoot(c: Certificate): boolean {
  return c.sha256 === pinnedIntelRoot().sha256 || spkiSha256(c) === INTEL_SGX_ROOT_SPKI_SHA256;
}

export function isP256(c: Certificate): boolean {
  return c.keyAlgorithm === OID.ecPublicKey && c.keyCurve === P256;
}

/** `issuer` signed `subject` (names chain, ECDSA-with-SHA256 by a P-256 key); a reason when not. */
export function ecdsaSignedBy(store: CertStore, subject: Certificate, issuer: Certificate, cache: boolean): true | string {
  const key = `${subject.sha256}/${issuer.sha256}`;
  if (cache && remembered.has(key)) return true;
  if (Buffer.compare(Buffer.from(subject.issuer.der), Buffer.from(issuer.subject.der)) !== 0)
    return `issuer "${subject.issuer.cn}" is not "${issuer.subject.cn}"`;
  if (subject.signatureAlgorithm.oid !== ECDSA_SHA256) return `signature algorithm ${subject.signatureAlgorithm.oid} is not ECDSA with SHA-256`;
  if (!isP256(issuer)) return `${issuer.subject.cn} has no P-256 key`;
  let ok = false;
  try {
    ok = verify('sha256', subject.tbs, certKey(store, issuer, cache), subject.signature);
  } catch {
    ok = false;
  }
  if (!ok) return `signature by ${issuer.subject.cn} does not verify`;
  if (cache) remember(key);
  return true;
}

/** A DER-encoded ECDSA signature over `data` by `issuer` (CRLs), remembered by the signed bytes. */
export function ecdsaDerVerifies(store: CertStore, data: Uint8Array, signature: Uint8Array, issuer: Certificate, cache: boolean, id: string): boolean {
  const key = `${id}/${issuer.sha256}`;
  if (cache && remembered.has(key)) return true;
  let ok = false;
  try {
    ok = verify('sha256', data, certKey(store, issuer, cache), signature);
  } catch {
    ok = false;
  }
  if (ok && cache) remember(key);
  return ok;
}

/** A raw r || s signature over `data` by `key`; `id` (when caching) names the exact signed bytes. */
export function ecdsaRawVerifies(data: Uint8Array, signature: Uint8Array, key: KeyObject, id?: string): boolean {
  if (id !== undefined && remembered.has(id)) return true;
  if (signature.length !== 64) return false;
  let ok = false;
  try {
    ok = verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    ok = false;
  }
  if (ok && id !== undefined) remember(id);
  return ok;
}

const rawKeys = new Map<string, KeyObject>();
/**
 * A P-256 public key from its raw x || y (the quote's attestation key); undefined when not on the
 * curve. A QE keeps its attestation key across quotes, so the import (as costly as a verify) is
 * remembered by the key's bytes when caching.
 */
export function p256FromRaw(xy: Uint8Array, cache = false): KeyObject | undefined {
  if (xy.length !== 64) return undefined;
  const id = cache ? Buffer.from(xy).toString('hex') : '';
  const hit = cache ? rawKeys.get(id) : undefined;
  if (hit) return hit;
  try {
    const k = importP256(xy);
    if (cache) {
      if (rawKeys.size >= MAX_REMEMBERED) rawKeys.clear();
      rawKeys.set(id, k);
    }
    return k;
  } catch {
    return undefined;
  }
}

const keys = new Map<string, KeyObject>();
/** A certificate's public key, remembered by the certificate's hash when caching. */
export function certKey(store: CertStore, c: Certificate, cache: boolean): KeyObject {
  if (!cache) return store.publicKey(c);
  let k = keys.get(c.sha256);
  if (!k) {
    k = store.publicKey(c);
    if (keys.size >= MAX_REMEMBERED) keys.clear();
    keys.set(c.sha256, k);
  }
  return k;
}
