// Parsed certificates, their public keys and verified issuer->subject signatures, cached by the
// certificate's bytes (the `cache` option). Platform-independent: the AMD and Intel chains both use it.
import { constants, createHash, KeyObject, verify, webcrypto } from 'node:crypto';
import { OID, parseCertificate, type Certificate } from './certificate.js';
import { importSpki } from './public-key.js';
import { perObject } from '../base/object-memo.js';

const MAX_ENTRIES = 256;

interface Entry {
  readonly cert: Certificate;
  key?: KeyObject;
  /** sha256 of issuer certificates whose signature over this one verified. */
  readonly verifiedBy: Set<string>;
}

const entries = new Map<string, Entry>();
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

/** The RSASSA-PSS parameters a chain requires of its certificates' signatures. */
export interface PssParameters {
  readonly hash: 'sha256' | 'sha384' | 'sha512';
  readonly saltLength: number;
  /** Whose parameters, for the reason text ("AMD"). */
  readonly name: string;
}

/** One verification's view of certificates: cached ones shared across calls, or all fresh (`cache: false`). */
export class CertStore {
  private readonly own = new WeakMap<Certificate, Entry>();
  constructor(readonly useCache: boolean) {}

  /** Parses a DER certificate (cached by its bytes unless caching is off). */
  readonly parse = (der: Uint8Array): Certificate => {
    const e = entryFor(der, this.useCache);
    (this.useCache ? shared : this.own).set(e.cert, e);
    return e.cert;
  };

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
    e.key ??= importSpki(c.spki);
    return e.key;
  }

  /**
   * True when `issuer` signed `subject`: the names chain and the RSASSA-PSS signature, with exactly the
   * parameters required (MGF1 with the same hash), verifies. Returns a reason string when it does not.
   */
  signedBy(subject: Certificate, issuer: Certificate, pss: PssParameters): true | string {
    const e = this.entry(subject);
    if (e.verifiedBy.has(issuer.sha256)) return true;
    if (Buffer.compare(Buffer.from(subject.issuer.der), Buffer.from(issuer.subject.der)) !== 0) {
      return `issuer "${subject.issuer.cn}" is not "${issuer.subject.cn}"`;
    }
    const p = subject.signatureAlgorithm.pss;
    if (!p || p.hash !== pss.hash || p.mgfHash !== pss.hash || p.saltLength !== pss.saltLength) {
      return `signature algorithm is not RSASSA-PSS ${pss.hash.toUpperCase()} salt ${pss.saltLength} (${pss.name}'s)`;
    }
    let ok = false;
    try {
      ok = verify(
        pss.hash,
        subject.tbs,
        { key: this.publicKey(issuer), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength },
        subject.signature,
      );
    } catch {
      ok = false;
    }
    if (!ok) return `signature by ${issuer.subject.cn} does not verify`;
    e.verifiedBy.add(issuer.sha256);
    return true;
  }
}

/** Process-wide store for compiled-in certificates (always cached: they are constants). */
export const rootStore = new CertStore(true);

/** SHA-256 (hex) of the certificate's SubjectPublicKeyInfo; remembered per parsed certificate (the store hands out the same one for the same bytes). */
export const spkiSha256: (c: Certificate) => string = perObject((c) => createHash('sha256').update(c.spki).digest('hex'));
