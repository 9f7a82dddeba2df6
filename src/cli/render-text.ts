// Text rendering of a VerificationResult: a checklist a person can read and act on (used by `verify`
// and `attest`). Plain ASCII, no colour, stable layout.
import type { CheckGroup, CheckResult, VerificationResult } from '../verify/result.js';

const MARK: Record<CheckResult['status'], string> = { pass: 'pass', fail: 'FAIL', skip: 'skip', warn: 'WARN' };

/** What to do when a check of this group fails. */
const HINTS: Record<CheckGroup, string> = {
  structure: 'the evidence is malformed or was altered: collect it again from the vTPM NV index 0x01400001',
  signature: 'the report was altered, or the VCEK is not the one of the chip that signed it: fetch the VCEK for this report (IMDS THIM or AMD KDS) and retry',
  chain: 'give the VCEK of this report (its ASK/ARK are built in); certificates must be AMD\'s and valid at --now',
  tcb: 'the VCEK is for another TCB: fetch the VCEK matching REPORTED_TCB (IMDS THIM serves it; AMD KDS takes the TCB in the URL)',
  'chip-id': 'the VCEK belongs to another chip: fetch the VCEK for this CHIP_ID',
  crl: 'a certificate is revoked or the CRL is unusable: get a current CRL from AMD KDS (/vcek/v1/<product>/crl)',
  'runtime-data': 'the runtime data does not belong to this report: the HCL report was altered or spliced',
  freshness: 'the quote is not a fresh one by this VM\'s attestation key: take a new quote with your nonce',
  policy: 'the evidence is genuine but does not meet the policy: change the VM, or the policy if that is intended',
};

function pad(s: string, n: number): string {
  return s.length >= n ? s + ' ' : s + ' '.repeat(n - s.length);
}

export function renderText(result: VerificationResult): string {
  const c = result.claims;
  const lines: string[] = [];
  const kind = c['cvm-attest-evidence-kind'] === 'hcl' ? `HCL report v${String(c['cvm-attest-hcl-header-version'])}, SNP report v${String(c['cvm-attest-report-version'])}` : `SNP report v${String(c['cvm-attest-report-version'])}`;
  lines.push(`Verdict: ${result.verdict.toUpperCase()}   ${result.product ?? 'unknown product'}, ${kind}, verified at ${result.verifiedAt}`);
  lines.push('');
  const width = Math.max(12, ...result.checks.map((x) => x.id.length)) + 1;
  for (const x of result.checks) lines.push(`  [${MARK[x.status]}] ${pad(x.id, width)}${x.reason}`);
  const failed = result.checks.filter((x) => x.status === 'fail');
  if (failed.length) {
    lines.push('');
    lines.push(`What to do (${failed.length} failed):`);
    const seen = new Set<CheckGroup>();
    for (const f of failed) {
      if (seen.has(f.group)) continue;
      seen.add(f.group);
      lines.push(`  - ${f.group}: ${HINTS[f.group]}`);
    }
  }
  if (result.certificates.length) {
    lines.push('');
    lines.push('Certificates:');
    for (const cert of result.certificates) {
      const cn = /CN=([^,]+)/.exec(cert.subject)?.[1] ?? cert.subject;
      lines.push(`  ${pad(cert.role, 5)}${pad(cn, 16)}valid ${cert.notBefore.slice(0, 10)} .. ${cert.notAfter.slice(0, 10)}  sha256 ${cert.sha256.slice(0, 16)}...${cert.pinned ? '  (pinned AMD root)' : ''}`);
    }
  }
  lines.push('');
  lines.push('Evidence:');
  const tcb = c['cvm-attest-reported-tcb'] as Record<string, unknown> | undefined;
  if (c['x-ms-sevsnpvm-launchmeasurement']) lines.push(`  measurement   ${String(c['x-ms-sevsnpvm-launchmeasurement'])}`);
  if (tcb) lines.push(`  reported TCB  ${Object.entries(tcb).filter(([k]) => k !== 'raw').map(([k, v]) => `${k} ${String(v)}`).join(', ')} (0x${String(tcb.raw)})`);
  if (c['cvm-attest-firmware-version']) lines.push(`  SNP firmware  ${String(c['cvm-attest-firmware-version'])}`);
  if (c['cvm-attest-chip-id']) lines.push(`  chip id       ${String(c['cvm-attest-chip-id']).slice(0, 32)}...`);
  lines.push(`  guest         vmpl ${String(c['x-ms-sevsnpvm-vmpl'])}, debuggable ${String(c['x-ms-sevsnpvm-is-debuggable'])}, migration ${String(c['x-ms-sevsnpvm-migration-allowed'])}, signing key ${String(c['cvm-attest-signing-key'])}`);
  const rt = c['x-ms-runtime'] as { 'vm-configuration'?: Record<string, unknown> } | undefined;
  if (rt?.['vm-configuration']) {
    const vc = rt['vm-configuration'];
    lines.push(`  vm config     secure-boot ${String(vc['secure-boot'])}, tpm-enabled ${String(vc['tpm-enabled'])}, console-enabled ${String(vc['console-enabled'])}, vmUniqueId ${String(vc.vmUniqueId)}`);
  }
  lines.push(`  policy        sha256 ${result.policy.hash.slice(0, 16)}...${result.policy.minimumTcb ? `, minimum TCB ${Object.entries(result.policy.minimumTcb).map(([k, v]) => `${k} ${v}`).join(', ')}` : ''}`);
  if (result.warnings.length) {
    lines.push('');
    lines.push('Warnings:');
    for (const w of result.warnings) lines.push(`  - ${w}`);
  }
  return lines.join('\n') + '\n';
}
