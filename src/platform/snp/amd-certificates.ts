// AMD certificates as the verifier holds them: the pinned ARK of each product, the embedded ASK/ASVK
// (verified against that ARK once per process, as docs/threat-model.md says), and certificate inputs
// (PEM, DER, THIM JSON) parsed once per distinct bytes when caching.
import { parseCertificateBundle, type CertificateBundle } from '../../input/certificates.js';
import type { Certificate } from '../../x509/certificate.js';
import { rootStore, spkiSha256, type CertStore, type PssParameters } from '../../x509/cert-store.js';
import type { Product } from '../../result/result.js';
import { AMD_CERTIFICATES, PINNED_ARK_SPKI_SHA256 } from './amd-roots.js';

/** AMD signs every KDS certificate with RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48. */
export const AMD_PSS: PssParameters = { hash: 'sha384', saltLength: 48, name: 'AMD' };

const MAX_ENTRIES = 256;
/** Whole certificate inputs (PEM text, DER, THIM JSON) -> their parsed bundle, when caching. */
const textBundles = new Map<string, CertificateBundle>();
const byteBundles = new Map<string, CertificateBundle>();
const arks = new Map<Product, Certificate>();
const intermediates = new Map<string, Certificate>();

/** parseCertificateBundle through the store, memoised by the input's exact bytes when the store caches. */
export function certificateBundle(store: CertStore, input: Uint8Array | string, name: string): CertificateBundle {
  if (!store.useCache || (typeof input !== 'string' && !(input instanceof Uint8Array))) return parseCertificateBundle(input, { parse: store.parse, name });
  const map = typeof input === 'string' ? textBundles : byteBundles;
  const k = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1');
  let b = map.get(k);
  if (!b) {
    b = parseCertificateBundle(input, { parse: store.parse, name });
    if (map.size >= MAX_ENTRIES) map.clear();
    map.set(k, b);
  }
  return b;
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
 * The embedded ASK (or ASVK) of a product, verified against the pinned ARK the first time it is used
 * (one RSA-PSS verification per process): a compiled-in intermediate is trusted only as far as the pin.
 */
export function embeddedIntermediate(product: Product, vlek: boolean): Certificate {
  const key = `${product}/${vlek}`;
  let c = intermediates.get(key);
  if (c) return c;
  const ark = pinnedArk(product);
  const b = embedded(product, vlek);
  c = vlek ? b.asvk : b.ask;
  if (!c || b.ark?.sha256 !== ark.sha256) throw new Error(`embedded ${product} chain is incomplete`);
  const ok = rootStore.signedBy(c, ark, AMD_PSS);
  if (ok !== true) throw new Error(`embedded ${product} ${vlek ? 'ASVK' : 'ASK'} is not signed by the pinned ARK: ${ok}`);
  intermediates.set(key, c);
  return c;
}
