// Parsed certificates, their public keys and verified issuer->subject signatures, cached by the
// certificate's bytes (the `cache` option). The pinned AMD roots are prepared once per process.
import { constants, createHash, createPublicKey, KeyObject, verify, webcrypto } from 'node:crypto';
import { OID, parseCertificate, type Certificate } from '../snp/certificate.js';
import { parseCertificateBundle, type CertificateBundle } from '../snp/cert-bundle.js';
import { AMD_CERTIFICATES, PINNED_ARK_SPKI_SHA256 } from './amd-roots.js';
import type { Product } from './result.js';

const MAX_ENTRIES = 256;

interface Entry {
  readonly cert: Certificate;
  key?: KeyObject;
  /** sha256 of issuer certificates whose signature over this one verified. */
  readonly verifiedBy: Set<string>;
}

const entries = new Map<string, Entry>();
/** Whole certificate inputs (PEM text, DER, THIM JSON) -> their parsed bundle, when caching. */
const textBundles = new Map<string, CertificateBundle>();
const byteBundles = new Map<string, CertificateBundle>();
/** Entries of cached certificates (and the embedded roots), found from the parsed object. */
const shared = new WeakMap<Certificate, Entry>();

function entryFor(der: Uint8Array, useCache: boolean): Entry {
  if (!useCache) return { cert: parseCertificate(der), verifiedBy: new Set() };
  const k = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1');
  let e = entries.get(k);
  if (!e) {
    if (entries.size >= MAX_ENTRIES) entries.clear();
    e = { cert: parseCertificate(der.slice()), verifiedBy: new Set() };
    entries.set(k, e);
  }
  return e;
}

/** One verification's view of certificates: cached ones shared across calls, or all fresh (`cache: false`). */
export class CertStore {
  private readonly own = new WeakMap<Certificate, Entry>();
  constructor(private readonly useCache: boolean) {}

  /** Parses a DER certificate (cached by its bytes unless caching is off). */
  readonly parse = (der: Uint8Array): Certificate => {
    const e = entryFor(der, this.useCache);
    (this.useCache ? shared : this.own).set(e.cert, e);
    return e.cert;
  };

  /** parseCertificateBundle, memoised by the input's exact bytes when caching. */
  bundle(input: Uint8Array | string, name: string): CertificateBundle {
    if (!this.useCache || (typeof input !== 'string' && !(input instanceof Uint8Array))) return parseCertificateBundle(input, { parse: this.parse, name });
    const map = typeof input === 'string' ? textBundles : byteBundles;
    const k = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1');
    let b = map.get(k);
    if (!b) {
      b = parseCertificateBundle(input, { parse: this.parse, name });
      if (map.size >= MAX_ENTRIES) map.clear();
      map.set(k, b);
    }
    return b;
  }

  /**
   * Imports an EC P-384 certificate key through WebCrypto's raw-point import, which is several times
   * faster than decoding the SubjectPublicKeyInfo with createPublicKey (0.04 vs 0.10 ms).
   */
  async preloadKey(c: Certificate): Promise<void> {
    const e = this.entry(c);
    if (e.key || c.keyAlgorithm !== OID.ecPublicKey || c.keyCurve !== OID.secp384r1) return;
    const point = c.spki.subarray(c.spki.length - 97);
    const n = c.spki.length;
    if (point[0] !== 0x04 || c.spki[n - 98] !== 0x00 || c.spki[n - 99] !== 98 || c.spki[n - 100] !== 0x03) return;
    try {
      const k = await webcrypto.subtle.importKey('raw', point, { name: 'ECDSA', namedCurve: 'P-384' }, true, ['verify']);
      e.key = KeyObject.from(k);
    } catch {
      // Left to publicKey(), whose failure the chain check reports.
    }
  }

  private entry(c: Certificate): Entry {
    let e = this.own.get(c) ?? shared.get(c);
    if (!e) {
      e = { cert: c, verifiedBy: new Set() };
      this.own.set(c, e);
    }
    return e;
  }

  publicKey(c: Certificate): KeyObject {
    const e = this.entry(c);
    e.key ??= createPublicKey({ key: Buffer.from(c.spki), format: 'der', type: 'spki' });
    return e.key;
  }

  /** Records a signature known good without checking it (compiled-in certificates only). */
  markSignedBy(subject: Certificate, issuer: Certificate): void {
    this.entry(subject).verifiedBy.add(issuer.sha256);
  }

  /**
   * True when `issuer` signed `subject`: the names chain and the RSASSA-PSS (SHA-384, MGF1-SHA-384,
   * salt 48) signature AMD uses verifies. Returns a reason string when it does not.
   */
  signedBy(subject: Certificate, issuer: Certificate): true | string {
    const e = this.entry(subject);
    if (e.verifiedBy.has(issuer.sha256)) return true;
    if (Buffer.compare(Buffer.from(subject.issuer.der), Buffer.from(issuer.subject.der)) !== 0) {
      return `issuer "${subject.issuer.cn}" is not "${issuer.subject.cn}"`;
    }
    const p = subject.signatureAlgorithm.pss;
    if (!p || p.hash !== 'sha384' || p.mgfHash !== 'sha384' || p.saltLength !== 48) {
      return `signature algorithm is not RSASSA-PSS SHA-384 salt 48 (AMD's)`;
    }
    let ok = false;
    try {
      ok = verify('sha384', subject.tbs, { key: this.publicKey(issuer), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }, subject.signature);
    } catch {
      ok = false;
    }
    if (!ok) return `signature by ${issuer.subject.cn} does not verify`;
    e.verifiedBy.add(issuer.sha256);
    return true;
  }
}

/** Process-wide store for the embedded roots (always cached: they are compiled-in constants). */
export const rootStore = new CertStore(true);
const arks = new Map<Product, Certificate>();
const intermediates = new Map<string, Certificate>();

export function spkiSha256(c: Certificate): string {
  return createHash('sha256').update(c.spki).digest('hex');
}

/** The embedded KDS chain (ASK or ASVK, then ARK); the shared ARK is parsed once (rootStore caches by bytes). */
function embedded(product: Product, vlek: boolean): CertificateBundle {
  const c = AMD_CERTIFICATES[product];
  return parseCertificateBundle((vlek ? c.asvk : c.ask) + c.ark, { parse: rootStore.parse, name: `embedded ${product} chain` });
}

/** The pinned ARK of a product: the embedded certificate, whose key must hash to the pinned value. */
export function pinnedArk(product: Product): Certificate {
  let ark = arks.get(product);
  if (ark) return ark;
  ark = embedded(product, false).ark;
  if (!ark || spkiSha256(ark) !== PINNED_ARK_SPKI_SHA256[product]) throw new Error(`embedded ${product} ARK does not match its pinned key`);
  arks.set(product, ark);
  return ark;
}

/**
 * The embedded ASK (or ASVK) of a product. It is a compiled-in constant like the ARK pin itself, so it
 * is marked as signed by the pinned ARK without spending a cold-start RSA verification on it; the test
 * suite proves that it is (test/verify/roots.test.ts). A supplied ASK is always verified.
 */
export function embeddedIntermediate(product: Product, vlek: boolean): Certificate {
  const key = `${product}/${vlek}`;
  let c = intermediates.get(key);
  if (c) return c;
  const ark = pinnedArk(product);
  const b = embedded(product, vlek);
  c = vlek ? b.asvk : b.ask;
  if (!c || b.ark?.sha256 !== ark.sha256) throw new Error(`embedded ${product} chain is incomplete`);
  rootStore.markSignedBy(c, ark);
  intermediates.set(key, c);
  return c;
}
