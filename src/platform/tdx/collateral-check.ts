// TDX check 8: the TCB info (for the PCK's FMSPC) and the TD QE identity are signed by the Intel SGX
// TCB Signing certificate, which must chain to the pinned root; then their freshness. Past
// `nextUpdate`, or a TCB signing certificate expired at `now`, is stale collateral: a warning by
// default (the signing certificate is then judged at the collateral's own issue time), a failure under
// policy `collateral: "enforce"`.
import type { Certificate } from '../../x509/certificate.js';
import type { TdxCollateral } from './collateral.js';
import type { QeIdentity } from './qe-identity.js';
import type { TcbInfo } from './tcb-info.js';
import type { CertStore } from '../../x509/cert-store.js';
import type { CertificateInfo, CheckResult } from '../../result/result.js';
import { certKey, ecdsaRawVerifies, ecdsaSignedBy, isPinnedIntelRoot, pinnedIntelRoot } from './ecdsa.js';
import { certificateInfo } from '../../result/certificate-info.js';
import { validityProblem } from '../../x509/certificate.js';

export const TCB_SIGNING_CN = 'Intel SGX TCB Signing';

export interface CollateralOutcome {
  readonly checks: CheckResult[];
  readonly tcbInfo?: TcbInfo;
  readonly qeIdentity?: QeIdentity;
  readonly tcbSigning?: Certificate;
  readonly certificates: CertificateInfo[];
}

export function checkCollateral(
  col: TdxCollateral,
  fmspc: string | undefined,
  pceId: string | undefined,
  store: CertStore,
  now: Date,
  enforce: boolean,
  cache: boolean,
): CollateralOutcome {
  const base = { id: 'collateral', group: 'collateral' } as const;
  const fail = (reason: string, certificates: CertificateInfo[] = []): CollateralOutcome => ({
    checks: [{ id: base.id, group: base.group, status: 'fail', reason }],
    certificates,
  });
  const root = pinnedIntelRoot();
  for (const c of col.certificates) {
    if (c.subject.cn === 'Intel SGX Root CA' && !isPinnedIntelRoot(c))
      return fail('a collateral certificate claims to be the Intel SGX Root CA but its key is not the pinned one');
  }
  const signers = col.certificates.filter((c) => c.subject.cn === TCB_SIGNING_CN);
  if (signers.length === 0) return fail(`no "${TCB_SIGNING_CN}" certificate in the collateral (PCS sends it in TCB-Info-Issuer-Chain)`);
  let signer: Certificate | undefined;
  let why = '';
  for (const s of signers) {
    const r = ecdsaSignedBy(store, s, root, cache);
    if (r === true) {
      signer = s;
      break;
    }
    why = r;
  }
  if (!signer) return fail(`the ${TCB_SIGNING_CN} certificate is not signed by the pinned Intel SGX Root CA: ${why}`);
  const certificates = [certificateInfo(signer, 'TCB-SIGNING')];
  const id = (what: string, raw: Uint8Array, sig: Uint8Array): string | undefined =>
    cache ? `${what}:${signer.sha256}:${Buffer.from(sig).toString('hex')}:${Buffer.from(raw).toString('latin1')}` : undefined;
  if (!fmspc)
    return {
      checks: [{ id: base.id, group: base.group, status: 'skip', reason: 'no verified PCK certificate: its FMSPC selects the TCB info' }],
      certificates,
      tcbSigning: signer,
    };
  // Several versions may be given (a cache and a newer download): the newest one Intel signed wins.
  const newest = <T extends { tcbEvaluationDataNumber: number; issueDate: Date; raw: Uint8Array; signature: Uint8Array }>(
    xs: readonly T[],
    what: string,
  ): T | undefined =>
    [...xs]
      .sort((a, b) => b.tcbEvaluationDataNumber - a.tcbEvaluationDataNumber || b.issueDate.getTime() - a.issueDate.getTime())
      .find((x) => ecdsaRawVerifies(x.raw, x.signature, certKey(store, signer, cache), id(what, x.raw, x.signature)));
  const forPlatform = col.tcbInfos.filter((t) => t.fmspc === fmspc && t.pceId === pceId);
  const tcbInfo = newest(forPlatform, 'tcb') ?? forPlatform[0];
  if (!tcbInfo) {
    const have = col.tcbInfos.map((t) => t.fmspc).join(', ');
    return fail(
      have
        ? `the TCB info is for FMSPC ${have}, not the PCK's ${fmspc} (PCE-ID ${pceId})`
        : `no TCB info given for FMSPC ${fmspc} (PCS /tdx/certification/v4/tcb?fmspc=${fmspc})`,
      certificates,
    );
  }
  const qeIdentity = newest(col.qeIdentities, 'qe') ?? col.qeIdentities[0];
  if (!qeIdentity) return fail('no TD QE identity given (PCS /tdx/certification/v4/qe/identity)', certificates);
  const key = certKey(store, signer, cache);
  if (!ecdsaRawVerifies(tcbInfo.raw, tcbInfo.signature, key, id('tcb', tcbInfo.raw, tcbInfo.signature)))
    return fail(`the TCB info for FMSPC ${fmspc} is not signed by ${TCB_SIGNING_CN}`, certificates);
  if (!ecdsaRawVerifies(qeIdentity.raw, qeIdentity.signature, key, id('qe', qeIdentity.raw, qeIdentity.signature)))
    return fail(`the TD QE identity is not signed by ${TCB_SIGNING_CN}`, certificates);
  const signed: CheckResult = {
    id: base.id,
    group: base.group,
    status: 'pass',
    reason: `TCB info (FMSPC ${fmspc}, evaluation data ${tcbInfo.tcbEvaluationDataNumber}) and TD QE identity signed by ${TCB_SIGNING_CN} under the pinned root`,
  };

  const stale: string[] = [];
  for (const [what, doc] of [
    ['TCB info', tcbInfo],
    ['QE identity', qeIdentity],
  ] as const) {
    if (now > doc.nextUpdate) stale.push(`${what} nextUpdate ${doc.nextUpdate.toISOString()} has passed`);
    else if (now < doc.issueDate) stale.push(`${what} is issued in the future (${doc.issueDate.toISOString()})`);
  }
  const signerNow = validityProblem(signer, TCB_SIGNING_CN, now);
  if (signerNow) stale.push(signerNow);
  const fresh: { id: string; group: 'collateral' } = { id: 'collateral.freshness', group: 'collateral' };
  if (stale.length === 0)
    return {
      checks: [
        signed,
        {
          ...fresh,
          status: 'pass',
          reason: `current until ${new Date(Math.min(tcbInfo.nextUpdate.getTime(), qeIdentity.nextUpdate.getTime())).toISOString()}`,
        },
      ],
      tcbInfo,
      qeIdentity,
      tcbSigning: signer,
      certificates,
    };
  // Stale: the signature must still have been good when the collateral was issued.
  for (const [what, doc] of [
    ['TCB info', tcbInfo],
    ['QE identity', qeIdentity],
  ] as const) {
    const p = validityProblem(signer, TCB_SIGNING_CN, doc.issueDate);
    if (p)
      return { checks: [{ id: base.id, group: base.group, status: 'fail', reason: `${what} issued ${doc.issueDate.toISOString()} but ${p}` }], certificates };
  }
  const reason = `stale collateral: ${stale.join('; ')}${enforce ? ' (policy collateral: enforce)' : "; signatures checked at the collateral's issue time"}`;
  return { checks: [signed, { ...fresh, status: enforce ? 'fail' : 'warn', reason }], tcbInfo, qeIdentity, tcbSigning: signer, certificates };
}
