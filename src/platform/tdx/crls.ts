// TDX check 5: the PCK CA's CRL and the Intel SGX Root CA's CRL, each signed by its issuer; a revoked
// PCK, PCK CA or TCB signing certificate fails. A revocation never expires, so a stale CRL is still
// applied; staleness and a missing CRL are judged like the rest of the collateral (policy
// `collateral`: warn by default, fail with "enforce").
import type { Certificate } from '../../x509/certificate.js';
import type { Crl } from '../../x509/crl.js';
import type { CertStore } from '../../x509/cert-store.js';
import type { CheckResult } from '../../result/result.js';
import { ecdsaDerVerifies, pinnedIntelRoot } from './ecdsa.js';

export interface CrlDates {
  readonly issuer: string;
  readonly thisUpdate: string;
  readonly nextUpdate?: string;
}

export interface CrlOutcome {
  readonly check: CheckResult;
  readonly dates: CrlDates[];
}

const sameName = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
const norm = (s: string): string => s.replace(/^0+(?=.)/, '').toLowerCase();

export function checkTdxCrls(
  crls: readonly Crl[],
  pck: Certificate | undefined,
  pckCa: Certificate | undefined,
  tcbSigning: Certificate | undefined,
  store: CertStore,
  now: Date,
  enforce: boolean,
  cache: boolean,
): CrlOutcome {
  const base = { id: 'crl', group: 'crl' } as const;
  const root = pinnedIntelRoot();
  const dates: CrlDates[] = [];
  if (!pckCa) return { check: { id: base.id, group: base.group, status: 'skip', reason: 'no verified PCK CA to check CRLs against' }, dates };
  const soft: string[] = [];
  const good: string[] = [];
  const judge = (issuer: Certificate, subjects: readonly (Certificate | undefined)[]): string | undefined => {
    const mine = crls.filter((c) => sameName(c.issuer.der, issuer.subject.der));
    if (mine.length === 0) {
      soft.push(`no CRL of ${issuer.subject.cn} given`);
      return undefined;
    }
    // The newest one that verifies.
    const signed = mine
      .filter((c) => ecdsaDerVerifies(store, c.tbs, c.signature, issuer, cache, `crl:${Buffer.from(c.signature).toString('hex')}`))
      .sort((a, b) => b.thisUpdate.getTime() - a.thisUpdate.getTime());
    const crl = signed[0];
    if (!crl) return `the CRL of ${issuer.subject.cn} is not signed by it`;
    dates.push({
      issuer: issuer.subject.cn ?? '',
      thisUpdate: crl.thisUpdate.toISOString(),
      ...(crl.nextUpdate ? { nextUpdate: crl.nextUpdate.toISOString() } : {}),
    });
    for (const s of subjects)
      if (s && crl.revoked.has(norm(s.serialNumber))) return `${s.subject.cn} (serial 0x${s.serialNumber}) is revoked by ${issuer.subject.cn}'s CRL`;
    if (now < crl.thisUpdate) soft.push(`${issuer.subject.cn}'s CRL is not valid before ${crl.thisUpdate.toISOString()}`);
    else if (crl.nextUpdate && now > crl.nextUpdate)
      soft.push(`${issuer.subject.cn}'s CRL is stale (nextUpdate ${crl.nextUpdate.toISOString()}; its ${crl.revoked.size} revocations were applied)`);
    else good.push(`${issuer.subject.cn} (${crl.revoked.size} revoked, none of ours)`);
    return undefined;
  };
  const hard = judge(pckCa, [pck]) ?? judge(root, [pckCa, tcbSigning]);
  if (hard) return { check: { id: base.id, group: base.group, status: 'fail', reason: hard }, dates };
  if (soft.length)
    return {
      check: {
        id: base.id,
        group: base.group,
        status: enforce ? 'fail' : 'warn',
        reason: `stale collateral: ${soft.join('; ')}${enforce ? ' (policy collateral: enforce)' : ''}`,
      },
      dates,
    };
  return { check: { id: base.id, group: base.group, status: 'pass', reason: `current CRLs of ${good.join(' and ')}` }, dates };
}
