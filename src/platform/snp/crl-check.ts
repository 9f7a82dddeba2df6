// Check 6: the CRL, when given, must be signed by the pinned ARK of the product; revoked ASK/ASVK or
// VCEK/VLEK serials fail. A stale CRL (nextUpdate passed) still applies its revocations (a revocation
// never expires) but only warns under policy crl "warn"; under "enforce" it fails, as does a missing CRL.
import { constants, verify } from 'node:crypto';
import type { Certificate } from '../../x509/certificate.js';
import type { Crl } from '../../x509/crl.js';
import type { CrlMode } from '../../policy/policy.js';
import type { CertStore } from '../../x509/cert-store.js';
import type { CertificateInfo, CheckResult } from '../../result/result.js';

const base = { id: 'crl', group: 'crl' } as const;

export function checkCrl(
  crl: Crl | undefined,
  mode: CrlMode,
  ark: Certificate | undefined,
  certs: readonly CertificateInfo[],
  store: CertStore,
  now: Date,
): CheckResult {
  if (mode === 'off') return { id: base.id, group: base.group, status: 'skip', reason: 'CRL checking is off by policy' };
  if (!crl)
    return mode === 'enforce'
      ? { id: base.id, group: base.group, status: 'fail', reason: 'policy requires a CRL (crl: enforce) and none was given' }
      : { id: base.id, group: base.group, status: 'skip', reason: 'no CRL given' };
  if (!ark) return { id: base.id, group: base.group, status: 'fail', reason: "cannot check the CRL: the product's ARK is unknown" };
  if (Buffer.compare(Buffer.from(crl.issuer.der), Buffer.from(ark.subject.der)) !== 0) {
    return { id: base.id, group: base.group, status: 'fail', reason: `the CRL is issued by "${crl.issuer.cn}", not ${ark.subject.cn}` };
  }
  const p = crl.signatureAlgorithm.pss;
  let ok = false;
  if (p && p.hash === 'sha384' && p.mgfHash === 'sha384' && p.saltLength === 48) {
    try {
      ok = verify('sha384', crl.tbs, { key: store.publicKey(ark), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }, crl.signature);
    } catch {
      ok = false;
    }
  }
  if (!ok) return { id: base.id, group: base.group, status: 'fail', reason: `the CRL's signature does not verify with the pinned ${ark.subject.cn}` };
  const revoked = certs.filter((c) => c.role !== 'ARK' && crl.revoked.has(c.serialNumber.replace(/^0+(?=.)/, '')));
  if (revoked.length)
    return {
      id: base.id,
      group: base.group,
      status: 'fail',
      reason: `revoked by ${ark.subject.cn}'s CRL: ${revoked.map((c) => `${c.role} serial 0x${c.serialNumber}`).join(', ')}`,
    };
  if (now < crl.thisUpdate)
    return {
      id: base.id,
      group: base.group,
      status: mode === 'enforce' ? 'fail' : 'warn',
      reason: `the CRL is not valid before ${crl.thisUpdate.toISOString()}`,
    };
  if (crl.nextUpdate && now > crl.nextUpdate) {
    const reason = `the CRL is stale (nextUpdate ${crl.nextUpdate.toISOString()}); its ${crl.revoked.size} revocation(s) were applied and none matches`;
    return {
      id: base.id,
      group: base.group,
      status: mode === 'enforce' ? 'fail' : 'warn',
      reason: mode === 'enforce' ? `${reason}; policy requires a current CRL` : `${reason}; fetch a current CRL from AMD KDS`,
    };
  }
  return {
    id: base.id,
    group: base.group,
    status: 'pass',
    reason: `signed by ${ark.subject.cn}, current until ${crl.nextUpdate?.toISOString() ?? 'unspecified'}; no certificate of the chain is revoked`,
  };
}
