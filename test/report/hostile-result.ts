// A hand-built result whose every evidence-derived string is an injection attempt. Real evidence could
// carry these: the runtime-data JSON and certificate subjects are chosen by whoever made the evidence.
// (Edge-case fixture only; the real verifier's results are rendered in html-browser.test.ts.)
import type { VerificationResult } from '../../src/result/result.js';

export const HOSTILE = {
  script: '<script>window.__pwned = "script"</script>',
  img: '"><img src=x onerror="window.__pwned=\'img\'">',
  attr: "' onmouseover='window.__pwned=1' x='",
  svg: '<svg onload="window.__pwned=\'svg\'"></svg>',
  link: '<a href="javascript:window.__pwned=1">click</a><style>body{display:none}</style>',
} as const;

export function hostileResult(): VerificationResult {
  return {
    verdict: 'fail',
    product: 'Genoa',
    verifiedAt: '2026-11-28T12:00:00.000Z',
    checks: [
      { id: 'signature', group: 'signature', status: 'pass', reason: `signature ok ${HOSTILE.attr}` },
      { id: `policy.${HOSTILE.img}`, group: 'policy', status: 'fail', reason: `reason ${HOSTILE.script}` },
    ],
    claims: {
      'x-ms-attestation-type': 'sevsnpvm',
      'x-ms-runtime': { 'vm-configuration': { vmUniqueId: HOSTILE.img, 'user-data': HOSTILE.svg } },
      [`cvm-attest-${HOSTILE.script}`]: HOSTILE.link,
    },
    warnings: [HOSTILE.svg, HOSTILE.link],
    certificates: [
      {
        role: 'VCEK',
        subject: `CN=SEV-VCEK, O=${HOSTILE.img}`,
        issuer: `CN=${HOSTILE.script}`,
        serialNumber: HOSTILE.attr,
        notBefore: HOSTILE.svg,
        notAfter: '2030-01-01T00:00:00Z',
        sha256: HOSTILE.link,
        pinned: false,
      },
      {
        role: 'ARK',
        subject: 'CN=ARK-Genoa, O=Advanced Micro Devices',
        issuer: 'CN=ARK-Genoa, O=Advanced Micro Devices',
        serialNumber: '00',
        notBefore: '2022-10-31T00:00:00Z',
        notAfter: '2047-10-31T00:00:00Z',
        sha256: '00'.repeat(32),
        pinned: false,
      },
    ],
    policy: {
      hash: HOSTILE.img,
      minimumTcb: { snp: 10 },
      rules: { allowDebug: false, minimumTcb: { snp: 10 }, [HOSTILE.script]: [HOSTILE.attr], allowedProducts: [HOSTILE.link] },
    },
    evidence: { sha256: HOSTILE.svg, nonce: HOSTILE.img },
  };
}
