// Certificate inputs as users and IMDS provide them: one PEM or DER certificate, a PEM bundle in any
// order, or an IMDS THIM JSON body. Each certificate is sorted into its role by subject and issuer.
import { ParseError } from '../base/errors.js';
import { utf8 } from '../base/bytes.js';
import { isDerSequence } from '../x509/der.js';
import { parseJsonBounded } from '../base/bounded-json.js';
import type { Product } from '../result/result.js';
import { parseCertificate, type Certificate } from '../x509/certificate.js';
import { pemDers } from '../x509/pem.js';
import { thimFields } from './thim.js';

export type CertificateRole = 'VCEK' | 'VLEK' | 'ASK' | 'ASVK' | 'ARK';

export interface ThimInfo {
  /** REPORTED_TCB as 16 hex digits (big-endian u64 text), as IMDS sends it. */
  readonly tcbm: string;
  /** Seconds, as a string, when IMDS gave one. */
  readonly cacheControl?: string;
}

export interface CertificateBundle {
  readonly vcek?: Certificate;
  readonly vlek?: Certificate;
  readonly ask?: Certificate;
  readonly asvk?: Certificate;
  readonly ark?: Certificate;
  readonly thim?: ThimInfo;
}

export interface BundleOptions {
  /** Parser to use (lets the verifier share its cache of parsed certificates). */
  readonly parse?: (der: Uint8Array) => Certificate;
  /** Names the input in error messages (e.g. the file name). */
  readonly name?: string;
}

export const MAX_BUNDLE_SIZE = 256 * 1024;
const PRODUCTS: readonly Product[] = ['Milan', 'Genoa', 'Turin'];

function productOfCn(cn: string | undefined, prefix: string): Product | undefined {
  if (!cn?.startsWith(prefix)) return undefined;
  const p = cn.slice(prefix.length);
  return PRODUCTS.find((x) => x === p);
}

/** The role of an AMD certificate from its subject and issuer CNs, or undefined if it is not one. */
export function certificateRole(c: Certificate): CertificateRole | undefined {
  const s = c.subject.cn;
  const i = c.issuer.cn;
  if (s === 'SEV-VCEK' && productOfCn(i, 'SEV-')) return 'VCEK';
  if (s === 'SEV-VLEK' && productOfCn(i, 'SEV-VLEK-')) return 'VLEK';
  if (productOfCn(s, 'ARK-') && s === i) return 'ARK';
  if (productOfCn(s, 'SEV-VLEK-') && productOfCn(i, 'ARK-')) return 'ASVK';
  if (productOfCn(s, 'SEV-') && productOfCn(i, 'ARK-')) return 'ASK';
  return undefined;
}

/** The AMD product a certificate belongs to, from its issuer (VCEK/VLEK) or subject (ASK/ASVK/ARK). */
export function productFromCertificate(c: Certificate): Product | undefined {
  switch (certificateRole(c)) {
    case 'VCEK':
      return productOfCn(c.issuer.cn, 'SEV-');
    case 'VLEK':
      return productOfCn(c.issuer.cn, 'SEV-VLEK-');
    case 'ASK':
      return productOfCn(c.subject.cn, 'SEV-');
    case 'ASVK':
      return productOfCn(c.subject.cn, 'SEV-VLEK-');
    case 'ARK':
      return productOfCn(c.subject.cn, 'ARK-');
    default:
      return undefined;
  }
}

function toText(input: Uint8Array | string): string | undefined {
  if (typeof input === 'string') return input;
  // DER: one SEQUENCE spanning the input. A PEM file may well start with "0" (0x30, the SEQUENCE tag):
  // text before the armour is allowed, so the tag alone decides nothing.
  if (isDerSequence(input)) return undefined;
  return utf8.decode(input);
}

/** The certificates of a PEM bundle; other blocks (a key, a CRL) and text around them are ignored. */
function pemBlocks(text: string, name: string): Uint8Array[] {
  return pemDers(text, 'CERTIFICATE', { what: name || 'certificate input', code: 'E_CERT_INPUT' });
}

/** A THIM body saved to a file: read by the IMDS parser (input/thim.ts), its chain and cacheControl optional. */
function thimBody(text: string, pre: string): { ders: Uint8Array[]; thim: ThimInfo } {
  const j = parseJsonBounded(text, { what: `${pre}THIM body`, code: 'E_CERT_INPUT', maxDepth: 8 });
  const f = thimFields(j, { complete: false, fail: (m, cause) => new ParseError('E_CERT_INPUT', `${pre}${m}`, cause === undefined ? undefined : { cause }) });
  return { ders: f.ders, thim: { tcbm: f.tcbm.toLowerCase(), ...(f.cacheControl !== undefined ? { cacheControl: f.cacheControl } : {}) } };
}

/** Parses certificate input (PEM, DER, PEM bundle or THIM JSON) and sorts it by role. Throws ParseError. */
export function parseCertificateBundle(input: Uint8Array | string, options: BundleOptions = {}): CertificateBundle {
  const name = options.name ?? 'certificate input';
  const pre = name ? `${name}: ` : '';
  const parse = options.parse ?? parseCertificate;
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) throw new ParseError('E_CERT_INPUT', `${pre}expected bytes or text`);
  if (input.length > MAX_BUNDLE_SIZE) throw new ParseError('E_CERT_INPUT', `${pre}too large (${input.length} bytes)`);
  if (input.length === 0) throw new ParseError('E_CERT_INPUT', `${pre}empty`);
  const text = toText(input);
  let ders: Uint8Array[];
  let thim: ThimInfo | undefined;
  if (text === undefined) ders = [input as Uint8Array];
  else if (text.trimStart().startsWith('{')) ({ ders, thim } = thimBody(text, pre));
  else {
    ders = pemBlocks(text, name);
    if (ders.length === 0) throw new ParseError('E_CERT_INPUT', `${pre}no PEM certificate, DER certificate or THIM JSON found`);
  }
  const out: { -readonly [K in keyof CertificateBundle]: CertificateBundle[K] } = {};
  const key = { VCEK: 'vcek', VLEK: 'vlek', ASK: 'ask', ASVK: 'asvk', ARK: 'ark' } as const;
  for (const der of ders) {
    let cert: Certificate;
    try {
      cert = parse(der);
    } catch (e) {
      throw new ParseError('E_CERT_INPUT', `${pre}${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    const role = certificateRole(cert);
    if (!role) throw new ParseError('E_CERT_INPUT', `${pre}certificate "${cert.subject.text}" is not an AMD SEV certificate`);
    const k = key[role];
    const prev = out[k];
    if (prev && prev.sha256 !== cert.sha256) throw new ParseError('E_CERT_INPUT', `${pre}holds two different ${role} certificates`);
    out[k] = cert;
  }
  if (thim) out.thim = thim;
  return out;
}

/** Merges bundles (e.g. --vcek and --chain); the same role twice must be the same certificate. */
export function mergeBundles(a: CertificateBundle, b: CertificateBundle, name = 'certificate inputs'): CertificateBundle {
  const out: { -readonly [K in keyof CertificateBundle]: CertificateBundle[K] } = { ...a };
  for (const k of ['vcek', 'vlek', 'ask', 'asvk', 'ark'] as const) {
    const x = b[k];
    if (!x) continue;
    const prev = out[k];
    if (prev && prev.sha256 !== x.sha256) throw new ParseError('E_CERT_INPUT', `${name} give two different ${k.toUpperCase()} certificates`);
    out[k] = x;
  }
  if (b.thim && !out.thim) out.thim = b.thim;
  return out;
}
