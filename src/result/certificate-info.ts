// The report view of a checked certificate (CertificateInfo), made the same way for every chain (AMD's,
// Intel's), and kept per parsed certificate so a cached chain does not rebuild it on every verification.
import type { Certificate } from '../x509/certificate.js';
import type { CertificateInfo } from './result.js';

const infos = new WeakMap<Certificate, CertificateInfo>();

export function certificateInfo(c: Certificate, role: CertificateInfo['role'], pinned = false): CertificateInfo {
  const cached = infos.get(c);
  if (cached && cached.role === role && cached.pinned === pinned) return cached;
  const i: CertificateInfo = {
    role,
    subject: c.subject.text,
    ...(c.subject.cn !== undefined ? { subjectCn: c.subject.cn } : {}),
    issuer: c.issuer.text,
    serialNumber: c.serialNumber,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    sha256: c.sha256,
    pinned,
  };
  infos.set(c, i);
  return i;
}
