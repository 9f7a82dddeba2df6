// The ak-certificate check: the vTPM attestation-key certificate Azure provisions at NV 0x01C101D0,
// verified to the pinned "Azure Virtual TPM Root Certificate Authority 2023" through a "Global Virtual
// TPM CA - NN" intermediate (the shipped ones, or others given that the root signed), valid at `now`,
// for the TCG AIK purpose, and for the very key the runtime data names HCLAkPub. The certificate adds
// Microsoft's statement that this AK lives in an Azure vTPM; the AK is still trusted through the
// hardware-signed runtime data, never for its certificate alone. Pure; platform-independent.
import { constants, verify, type KeyObject } from 'node:crypto';
import { ParseError } from '../base/errors.js';
import { bytesEqual } from '../base/bytes.js';
import { readTlv } from '../x509/der.js';
import { pemDers } from '../x509/pem.js';
import { parseCertificate, type Certificate } from '../x509/certificate.js';
import { chainExtensions } from '../x509/extensions.js';
import { importSpki } from '../x509/public-key.js';
import { spkiSha256 } from '../x509/cert-store.js';
import { akPublicKey, type RuntimeData } from '../hcl/runtime-data.js';
import { AZURE_VTPM_INTERMEDIATES, AZURE_VTPM_ROOT_2023, AZURE_VTPM_ROOT_SPKI_SHA256 } from './azure-vtpm-roots.js';
import type { CheckResult } from '../result/result.js';
import { perObject } from '../base/object-memo.js';

/** Far above a real AK certificate (~1 KiB); the NV index is a few KiB at most. */
export const MAX_AK_CERT_INPUT = 16 * 1024;
/** TCG EK credential profile: tcg-kp-AIKCertificate. */
export const OID_TCG_KP_AIK_CERTIFICATE = '2.23.133.8.3';

export interface AkCertificateInfo {
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** SHA-256 of the DER certificate, lowercase hex. */
  readonly sha256: string;
}

export interface AkCertificateOutcome {
  readonly check: CheckResult;
  /** The leaf as read (also when the check fails, for reports). */
  readonly info?: AkCertificateInfo;
}

/**
 * The DER certificate inside NV contents (DER, possibly followed by padding; its length comes from the
 * DER header) or PEM text. ParseError when neither.
 */
export function akCertificateDer(input: Uint8Array): Uint8Array {
  if (!(input instanceof Uint8Array) || input.length === 0) throw new ParseError('E_AK_CERT', 'the AK certificate is empty');
  if (input.length > MAX_AK_CERT_INPUT)
    throw new ParseError('E_AK_CERT', `the AK certificate input is too large (${input.length} bytes, at most ${MAX_AK_CERT_INPUT})`);
  const byDer = (b: Uint8Array): Uint8Array => b.slice(0, readTlv(b, 0, b.length, 'AK certificate').end);
  if (input[0] === 0x30) return byDer(input);
  const text = Buffer.from(input).toString('latin1');
  const m = pemDers(text, 'CERTIFICATE', { what: 'the AK certificate', code: 'E_AK_CERT' });
  // PEM of an NV dump carries the index's padding too: cut at the DER's own length.
  if (m.length === 1) {
    const der = m[0]!;
    if (der[0] === 0x30) return byDer(der);
  }
  throw new ParseError(
    'E_AK_CERT',
    m.length > 1 ? 'the AK certificate input holds more than one certificate' : 'the AK certificate is neither DER nor one PEM certificate',
  );
}

/** Extra intermediates given by the user (PEM bundle): used only when the pinned root signed them. */
export function parseIntermediates(input: Uint8Array | string): Certificate[] {
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
  const out: Certificate[] = [];
  for (const der of pemDers(text, 'CERTIFICATE', { what: 'the AK intermediates', code: 'E_AK_CHAIN' })) {
    try {
      out.push(parseCertificate(der));
    } catch (e) {
      throw new ParseError('E_AK_CHAIN', 'an AK intermediate certificate is malformed', { cause: e });
    }
    if (out.length > 16) throw new ParseError('E_AK_CHAIN', 'more than 16 AK intermediate certificates');
  }
  if (out.length === 0) throw new ParseError('E_AK_CHAIN', 'no PEM certificate in the AK intermediates');
  return out;
}

const pemCert = (pem: string): Certificate => {
  const [der] = pemDers(pem, 'CERTIFICATE', { what: 'an embedded Azure vTPM certificate', code: 'E_INTERNAL' });
  return parseCertificate(der!);
};

let anchors: { root: Certificate; shipped: Certificate[] } | undefined;

function trustAnchors(): { root: Certificate; shipped: Certificate[] } {
  if (!anchors) {
    const root = pemCert(AZURE_VTPM_ROOT_2023);
    // Fail closed if the embedded root was ever swapped: its key must be the pinned one.
    if (spkiSha256(root) !== AZURE_VTPM_ROOT_SPKI_SHA256) throw new Error('embedded Azure vTPM root does not match its pinned key');
    // The shipped intermediates are constants too: checked against the pinned root once per process,
    // as the embedded AMD ASK is against its ARK (a supplied intermediate is checked on every call).
    const shipped = AZURE_VTPM_INTERMEDIATES.map(pemCert);
    for (const c of shipped)
      if (!chainExtensions(c).ca || !signedBy(c, root))
        throw new Error(`embedded ${c.subject.cn ?? 'intermediate'} is not a CA signed by the pinned Azure vTPM root`);
    anchors = { root, shipped };
  }
  return anchors;
}

// Issuer keys by certificate (the anchors', and intermediates' while they are in use).
const keyOf = perObject((c: Certificate): KeyObject => importSpki(c.spki));

const RSA_PKCS1_HASH: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
};
const ECDSA_HASH: Readonly<Record<string, string>> = { '1.2.840.10045.4.3.2': 'sha256', '1.2.840.10045.4.3.3': 'sha384' };

/** `issuer` signed `subject`: the names chain and the signature over the TBS verifies with the issuer's key. */
function signedBy(subject: Certificate, issuer: Certificate): boolean {
  if (!bytesEqual(subject.issuer.der, issuer.subject.der)) return false;
  const alg = subject.signatureAlgorithm;
  try {
    const key = keyOf(issuer);
    const rsa = RSA_PKCS1_HASH[alg.oid];
    if (rsa) return verify(rsa, subject.tbs, { key, padding: constants.RSA_PKCS1_PADDING }, subject.signature);
    const ec = ECDSA_HASH[alg.oid];
    if (ec) return verify(ec, subject.tbs, key, subject.signature);
    if (alg.pss && alg.pss.hash === alg.pss.mgfHash)
      return verify(alg.pss.hash, subject.tbs, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: alg.pss.saltLength }, subject.signature);
  } catch {
    return false; // a key of another type than the algorithm, or an unusable key
  }
  return false;
}

// Certificates whose signatures (leaf by intermediate, intermediate by the pinned root) verified, by
// the SHA-256 of the leaf and of the intermediates offered: signatures never change, validity and the
// key match are still checked on every call. Bounded.
const verifiedChains = new Map<string, Certificate>();
const MAX_CACHED = 64;

const validAt = (c: Certificate, now: Date): boolean => c.notBefore.getTime() <= now.getTime() && now.getTime() <= c.notAfter.getTime();
const cn = (c: Certificate, which: 'subject' | 'issuer'): string => c[which].cn ?? c[which].text;

function infoOf(c: Certificate): AkCertificateInfo {
  return {
    subject: c.subject.text,
    issuer: c.issuer.text,
    serialNumber: c.serialNumber,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    sha256: c.sha256,
  };
}

const base = { id: 'ak-certificate', group: 'ak-certificate' } as const;

export interface AkCertificateInput {
  /** NV 0x01C101D0 contents, a DER or a PEM certificate; undefined = none collected. */
  readonly certificate?: Uint8Array;
  readonly intermediates?: readonly Certificate[];
  readonly runtimeData?: RuntimeData;
  /** The runtime data is bound to the hardware-signed report (else its HCLAkPub proves nothing). */
  readonly bindingOk: boolean;
  readonly now: Date;
  /** Reuse signature checks done before for the same certificates (default true). */
  readonly cache?: boolean;
}

interface LeafFacts {
  readonly info: AkCertificateInfo;
  readonly leaf: Certificate;
  readonly key: KeyObject;
  readonly ca: boolean;
  readonly eku: readonly string[] | undefined;
}

// Parsed leaves by their DER: the worker checks the same certificate on every run.
const leaves = new Map<string, LeafFacts>();

function leafFacts(der: Uint8Array, useCache: boolean): LeafFacts {
  const k = useCache ? Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1') : '';
  const hit = useCache ? leaves.get(k) : undefined;
  if (hit) return hit;
  const leaf = parseCertificate(der);
  const ext = chainExtensions(leaf);
  const f: LeafFacts = { info: infoOf(leaf), leaf, key: importSpki(leaf.spki), ca: ext.ca, eku: ext.extendedKeyUsage };
  if (useCache) {
    if (leaves.size >= MAX_CACHED) leaves.clear();
    leaves.set(k, f);
  }
  return f;
}

export function checkAkCertificate(i: AkCertificateInput): AkCertificateOutcome {
  if (i.certificate === undefined) return { check: { id: base.id, group: base.group, status: 'skip', reason: 'no AK certificate given (vTPM NV 0x01C101D0)' } };
  const fail = (reason: string, info?: AkCertificateInfo): AkCertificateOutcome => ({
    check: { id: base.id, group: base.group, status: 'fail', reason },
    ...(info ? { info } : {}),
  });
  const useCache = i.cache !== false;
  let f: LeafFacts;
  try {
    f = leafFacts(akCertificateDer(i.certificate), useCache);
  } catch (e) {
    return fail(`the AK certificate is malformed: ${e instanceof ParseError ? e.message : 'not an X.509 certificate'}`);
  }
  const { info, leaf } = f;
  const { root, shipped } = trustAnchors();
  if (f.ca) return fail(`the AK certificate ${cn(leaf, 'subject')} is a CA certificate`, info);
  // The issuing intermediate: named by the leaf, signed by the pinned root, a CA, and its signature on the leaf verifies.
  const candidates = [...shipped, ...(i.intermediates ?? [])].filter((c) => bytesEqual(c.subject.der, leaf.issuer.der));
  const cacheKey = `${info.sha256}:${candidates.map((c) => c.sha256).join(',')}`;
  let issuer = useCache ? verifiedChains.get(cacheKey) : undefined;
  if (!issuer) {
    issuer = candidates.find((c) => {
      try {
        return (shipped.includes(c) || (chainExtensions(c).ca && signedBy(c, root))) && signedBy(leaf, c);
      } catch {
        return false; // an intermediate with malformed extensions is no issuer
      }
    });
    if (issuer && useCache) {
      if (verifiedChains.size >= MAX_CACHED) verifiedChains.clear();
      verifiedChains.set(cacheKey, issuer);
    }
  }
  if (!issuer) {
    return fail(
      candidates.length
        ? `the AK certificate's issuer "${cn(leaf, 'issuer')}" is known, but its signature (or the issuer's, by the pinned Azure Virtual TPM root) does not verify`
        : `the AK certificate is issued by "${cn(leaf, 'issuer')}", which is not a Global Virtual TPM CA signed by the pinned Azure Virtual TPM Root Certificate Authority 2023`,
      info,
    );
  }
  if (!validAt(leaf, i.now)) return fail(`the AK certificate is not valid at ${i.now.toISOString()} (${info.notBefore} .. ${info.notAfter})`, info);
  for (const [what, c] of [
    [`intermediate ${cn(issuer, 'subject')}`, issuer],
    ['Azure Virtual TPM root', root],
  ] as const) {
    if (!validAt(c, i.now))
      return fail(`the ${what} is not valid at ${i.now.toISOString()} (${c.notBefore.toISOString()} .. ${c.notAfter.toISOString()})`, info);
  }
  const eku = f.eku;
  if (eku && eku.length > 0 && !eku.includes(OID_TCG_KP_AIK_CERTIFICATE))
    return fail(`the AK certificate is not for attestation keys (extended key usage ${eku.join(', ')} lacks ${OID_TCG_KP_AIK_CERTIFICATE})`, info);
  if (!i.runtimeData) return fail('no runtime data names the attestation key (HCLAkPub) this certificate should be for', info);
  let ak: KeyObject;
  try {
    ak = akPublicKey(i.runtimeData);
  } catch (e) {
    return fail(e instanceof ParseError ? e.message : 'no usable HCLAkPub key', info);
  }
  // KeyObject.equals compares the keys themselves (no SPKI export and hash on every call).
  if (!ak.equals(f.key)) return fail("the AK certificate's public key is not the HCLAkPub of the runtime data: a certificate for another vTPM", info);
  if (!i.bindingOk) return fail('the AK certificate is for HCLAkPub, but the runtime data is not bound to the signed report', info);
  return {
    check: {
      id: base.id,
      group: base.group,
      status: 'pass',
      reason: `${cn(leaf, 'subject')} -> ${cn(issuer, 'subject')} -> pinned Azure Virtual TPM Root CA 2023, valid until ${info.notAfter}, key = HCLAkPub`,
    },
    info,
  };
}
