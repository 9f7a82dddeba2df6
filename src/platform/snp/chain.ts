// Check 3: the chain VCEK (or VLEK) -> ASK (or ASVK) -> ARK, anchored only in the pinned ARK of the
// product. Supplied intermediates must be signed by the pinned ARK; a supplied ARK must equal it.
import type { KeyObject } from 'node:crypto';
import type { CertificateBundle } from '../../input/certificates.js';
import { productFromCertificate } from '../../input/certificates.js';
import { OID, validityProblem, type Certificate } from '../../x509/certificate.js';
import { certificateInfo } from '../../result/certificate-info.js';
import type { SigningKey } from './report.js';
import { spkiSha256, type CertStore } from '../../x509/cert-store.js';
import { AMD_PSS, embeddedIntermediate, pinnedArk } from './amd-certificates.js';
import { PINNED_ARK_SPKI_SHA256 } from './amd-roots.js';
import type { CertificateInfo, CheckResult, Product } from '../../result/result.js';

export interface ChainOutcome {
  readonly check: CheckResult;
  /** The signing certificate (VCEK or VLEK, as the report says) when one was given, even if the chain failed. */
  readonly leaf?: Certificate;
  readonly leafRole?: 'VCEK' | 'VLEK';
  /** Its public key when it is an EC P-384 key. */
  readonly leafKey?: KeyObject;
  readonly product: Product | undefined;
  readonly ark?: Certificate;
  readonly certificates: CertificateInfo[];
}

const fail = (reason: string): CheckResult => ({ id: 'chain', group: 'chain', status: 'fail', reason });

export interface ChainInput {
  readonly bundle: CertificateBundle;
  /** What the report says signed it. */
  readonly signingKey: SigningKey | undefined;
  /** Product from the report's CPUID (v3+), if known. */
  readonly reportProduct: Product | undefined;
  readonly now: Date;
  readonly store: CertStore;
}

export function checkChain(input: ChainInput): ChainOutcome {
  const { bundle, store, now } = input;
  const wantVlek = input.signingKey === 'vlek';
  const leafRole = wantVlek ? 'VLEK' : 'VCEK';
  const leaf = wantVlek ? bundle.vlek : bundle.vcek;
  const certificates: CertificateInfo[] = [];
  const other = wantVlek ? bundle.vcek : bundle.vlek;
  if (!leaf) {
    const why = other ? `the report was signed by a ${leafRole} but a ${wantVlek ? 'VCEK' : 'VLEK'} was given` : `no ${leafRole} certificate was given`;
    return { check: fail(why), product: input.reportProduct ?? (other ? productFromCertificate(other) : undefined), certificates };
  }
  let leafKey: KeyObject | undefined;
  if (leaf.keyAlgorithm === OID.ecPublicKey && leaf.keyCurve === OID.secp384r1) {
    try {
      leafKey = store.publicKey(leaf);
    } catch {
      leafKey = undefined;
    }
  }
  const base = { leaf, leafRole, ...(leafKey ? { leafKey } : {}) } as const;
  const certProduct = productFromCertificate(leaf);
  const product = input.reportProduct ?? certProduct;
  certificates.push(certificateInfo(leaf, leafRole, false));
  if (!product || !certProduct) return { check: fail(`cannot tell the AMD product of ${leafRole} issuer "${leaf.issuer.cn}"`), ...base, product, certificates };
  if (input.reportProduct && certProduct !== input.reportProduct) {
    return { check: fail(`the report is from a ${input.reportProduct} CPU but the ${leafRole} is issued for ${certProduct}`), ...base, product, certificates };
  }
  const ark = pinnedArk(product);
  // Intermediate: the supplied one (must chain to the pinned ARK) or the embedded one.
  const supplied = wantVlek ? bundle.asvk : bundle.ask;
  const interRole = wantVlek ? 'ASVK' : 'ASK';
  const inter = supplied ?? embeddedIntermediate(product, wantVlek);
  certificates.push(certificateInfo(inter, interRole, false));
  certificates.push(certificateInfo(ark, 'ARK', true));
  const problems: string[] = [];
  if (bundle.ark) {
    const arkProduct = productFromCertificate(bundle.ark);
    if (spkiSha256(bundle.ark) !== PINNED_ARK_SPKI_SHA256[product]) {
      problems.push(
        `the supplied ARK ("${bundle.ark.subject.cn}", sha256 ${bundle.ark.sha256.slice(0, 16)}...) is not AMD's pinned ARK-${product}${arkProduct && arkProduct !== product ? ` (it is for ${arkProduct})` : ''}`,
      );
    }
  }
  if (!leafKey) problems.push(`the ${leafRole} key is not an EC P-384 key`);
  if (leaf.amd.productName !== undefined && !leaf.amd.productName.startsWith(product)) {
    problems.push(`the ${leafRole} productName "${leaf.amd.productName}" is not ${product}`);
  }
  if (supplied) {
    const interProduct = productFromCertificate(supplied);
    if (interProduct !== product) problems.push(`the supplied ${interRole} is for ${interProduct ?? 'an unknown product'}, not ${product}`);
    else {
      const ok = store.signedBy(supplied, ark, AMD_PSS);
      if (ok !== true) problems.push(`the supplied ${interRole} is not signed by the pinned ARK-${product}: ${ok}`);
    }
  }
  if (problems.length === 0) {
    const ok = store.signedBy(leaf, inter, AMD_PSS);
    if (ok !== true) problems.push(`the ${leafRole} is not signed by ${interRole} "${inter.subject.cn}": ${ok}`);
  }
  for (const [c, role] of [
    [leaf, leafRole],
    [inter, interRole],
    [ark, 'ARK'],
  ] as const) {
    const v = validityProblem(c, role, now);
    if (v) problems.push(v);
  }
  if (problems.length) return { check: fail(problems.join('; ')), ...base, product, ark: ark, certificates };
  return {
    check: {
      id: 'chain',
      group: 'chain',
      status: 'pass',
      reason: `${leafRole} -> ${interRole} ${inter.subject.cn} -> pinned ARK-${product}, all valid at ${now.toISOString()}`,
    },
    ...base,
    product,
    ark: ark,
    certificates,
  };
}
