// TDX check 4: the PCK certificate chain from the quote's certification data, PCK -> Intel SGX PCK
// Platform (or Processor) CA -> Intel SGX Root CA, anchored only in the pinned root: a root in the
// quote is accepted only when its key is the pinned one. Every certificate must be valid at `now`.
import type { KeyObject } from 'node:crypto';
import { CvmAttestError } from '../../base/errors.js';
import { validityProblem, type Certificate } from '../../x509/certificate.js';
import { certificateInfo } from '../../result/certificate-info.js';
import { parsePckExtensions, type PckExtensions } from './pck-extensions.js';
import type { TdQuote } from './quote.js';
import type { CertStore } from '../../x509/cert-store.js';
import type { CertificateInfo, CheckResult } from '../../result/result.js';
import { certKey, ecdsaSignedBy, isP256, isPinnedIntelRoot, pinnedIntelRoot } from './ecdsa.js';

export const PCK_CN = 'Intel SGX PCK Certificate';
export const PCK_CA_CNS = ['Intel SGX PCK Platform CA', 'Intel SGX PCK Processor CA'];

export interface PckChainOutcome {
  readonly check: CheckResult;
  readonly pck?: Certificate;
  readonly pckCa?: Certificate;
  /** The PCK's key when the whole chain verified. */
  readonly pckKey?: KeyObject;
  readonly extensions?: PckExtensions;
  readonly certificates: CertificateInfo[];
}

const extensionMemo = new Map<string, PckExtensions>();

/** The reason of a chain that verified at `now`. */
export function chainPassReason(extensions: PckExtensions, pckCa: Certificate, nowIso: string): string {
  return `PCK (FMSPC ${extensions.fmspc}) -> ${pckCa.subject.cn} -> pinned Intel SGX Root CA, valid at ${nowIso}`;
}

export function checkPckChain(quote: TdQuote, store: CertStore, now: Date, cache: boolean): PckChainOutcome {
  const fail = (reason: string, certificates: CertificateInfo[] = [], extra: Partial<PckChainOutcome> = {}): PckChainOutcome => ({
    check: { id: 'chain', group: 'chain', status: 'fail', reason },
    certificates,
    ...extra,
  });
  const root = pinnedIntelRoot();
  let certs: Certificate[];
  try {
    certs = quote.pckChainDer.map((der) => store.parse(der));
  } catch (e) {
    return fail(`a certificate of the quote's PCK chain is unusable: ${e instanceof CvmAttestError ? e.message : String(e)}`);
  }
  const pcks = certs.filter((c) => c.subject.cn === PCK_CN);
  const cas = certs.filter((c) => PCK_CA_CNS.includes(c.subject.cn ?? ''));
  const roots = certs.filter((c) => c.subject.cn === 'Intel SGX Root CA' || Buffer.compare(Buffer.from(c.subject.der), Buffer.from(c.issuer.der)) === 0);
  const infos: CertificateInfo[] = [];
  if (pcks.length !== 1) return fail(`the quote's PCK chain has ${pcks.length} PCK certificates ("${PCK_CN}"), expected 1`);
  const pck = pcks[0]!;
  infos.push(certificateInfo(pck, 'PCK'));
  const pckCa = cas.find((c) => Buffer.compare(Buffer.from(c.subject.der), Buffer.from(pck.issuer.der)) === 0);
  if (!pckCa) return fail(`the PCK's issuer "${pck.issuer.cn}" is not in the quote's chain`, infos);
  infos.push(certificateInfo(pckCa, 'PCK-CA'));
  for (const r of roots) {
    if (!isPinnedIntelRoot(r))
      return fail(`the chain's root "${r.subject.cn}" is not the pinned Intel SGX Root CA (its key differs): refused as a trust anchor`, infos);
  }
  infos.push(certificateInfo(root, 'SGX-ROOT', true));
  if (certs.length !== 1 + 1 + roots.length) return fail(`the quote's PCK chain holds ${certs.length - 2 - roots.length} unexpected certificate(s)`, infos);
  if (!isP256(pck)) return fail('the PCK certificate has no P-256 key', infos);
  const caSig = ecdsaSignedBy(store, pckCa, root, cache);
  if (caSig !== true) return fail(`${pckCa.subject.cn} is not signed by the pinned Intel SGX Root CA: ${caSig}`, infos);
  const pckSig = ecdsaSignedBy(store, pck, pckCa, cache);
  if (pckSig !== true) return fail(`the PCK certificate is not signed by ${pckCa.subject.cn}: ${pckSig}`, infos);
  for (const [c, what] of [
    [pck, 'the PCK certificate'],
    [pckCa, pckCa.subject.cn ?? 'the PCK CA'],
    [root, 'the Intel SGX Root CA'],
  ] as const) {
    const p = validityProblem(c, what, now);
    if (p) return fail(p, infos, { pck, pckCa });
  }
  let extensions: PckExtensions;
  try {
    extensions = (cache ? extensionMemo.get(pck.sha256) : undefined) ?? parsePckExtensions(pck.der);
    if (cache) {
      if (extensionMemo.size >= 256) extensionMemo.clear();
      extensionMemo.set(pck.sha256, extensions);
    }
  } catch (e) {
    return fail(e instanceof CvmAttestError ? e.message : 'unusable SGX extensions', infos, { pck, pckCa });
  }
  return {
    check: {
      id: 'chain',
      group: 'chain',
      status: 'pass',
      reason: chainPassReason(extensions, pckCa, now.toISOString()),
    },
    pck,
    pckCa,
    pckKey: certKey(store, pck, cache),
    extensions,
    certificates: infos,
  };
}
