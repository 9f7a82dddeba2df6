// Text rendering of a VerificationResult: a checklist a person can read and act on (used by `verify`
// and `attest`). Plain ASCII, no colour, stable layout. Every string from the evidence or the host
// (reasons quote runtime data, subjects, bundle warnings, IMDS names) goes through escapeText: a raw
// ESC or CR could otherwise redraw the terminal into a fake verdict.
import { tdxEvidenceLines, tdxHeadline } from './render-text-tdx.js';
import type { CheckGroup, CheckResult, VerificationResult } from '../result/result.js';
import type { InstanceIdentity } from '../collect/identity.js';
import { escapeText as e } from '../base/text-escape.js';

const MARK: Record<CheckResult['status'], string> = { pass: 'pass', fail: 'FAIL', skip: 'skip', warn: 'WARN' };

/** What to do when a check of this group fails. */
const HINTS: Record<CheckGroup, string> = {
  structure: 'the evidence is malformed or was altered: collect it again from the vTPM NV index 0x01400001',
  signature: 'the report was altered, or the {key} is not the one that signed it: fetch the {key} for this report (IMDS THIM or AMD KDS) and retry',
  chain: "give the {key} of this report (its AMD chain is built in); certificates must be AMD's and valid at --now (an expired {key}: fetch a current one)",
  tcb: 'the {key} is for another TCB: fetch the {key} matching REPORTED_TCB (IMDS THIM serves it; AMD KDS takes the TCB in the URL)',
  'chip-id': 'the {key} belongs to another chip: fetch the {key} for this CHIP_ID',
  crl: 'a certificate is revoked or the CRL is unusable: get a current CRL from AMD KDS (/vcek/v1/<product>/crl) or, on TDX, Intel PCS (/sgx/certification/v4/pckcrl)',
  collateral: 'the TDX collateral is missing, for another FMSPC, unsigned or stale: fetch the TCB info and QE identity from Intel PCS v4 (--collateral)',
  'runtime-data': 'the runtime data does not belong to this report: the HCL report was altered or spliced',
  freshness: 'neither the report nor a quote carries your nonce: collect again with your nonce (collect/attest --nonce)',
  'ak-certificate': "the vTPM AK certificate (NV 0x01C101D0) is not Azure's for this AK: read it again from the vTPM",
  'event-log': 'the TCG event log does not replay to the quoted PCRs: collect the log and the quote together, from this VM',
  policy: 'the evidence is genuine but does not meet the policy: change the VM, or the policy if that is intended',
};

function pad(s: string, n: number): string {
  return s.length >= n ? s + ' ' : s + ' '.repeat(n - s.length);
}

export function renderText(result: VerificationResult): string {
  const c = result.claims;
  const lines: string[] = [];
  // The report's own signing key (VLEK reports are not helped by VCEK advice).
  const key = c['cvm-attest-signing-key'] === 'vlek' ? 'VLEK' : 'VCEK';
  const kind =
    c['cvm-attest-evidence-kind'] === 'hcl'
      ? `HCL report v${String(c['cvm-attest-hcl-header-version'])}, SNP report v${String(c['cvm-attest-report-version'])}`
      : `SNP report v${String(c['cvm-attest-report-version'])}`;
  const tdx = result.platform === 'TDX';
  lines.push(
    tdx
      ? tdxHeadline(result)
      : `Verdict: ${result.verdict === 'pass' ? 'PASS' : 'FAIL'}   ${e(result.product ?? 'unknown product')}, ${e(kind)}, verified at ${e(result.verifiedAt)}`,
  );
  lines.push('');
  const width = Math.max(12, ...result.checks.map((x) => e(x.id).length)) + 1;
  for (const x of result.checks) lines.push(`  [${MARK[x.status] ?? '????'}] ${pad(e(x.id), width)}${e(x.reason)}`);
  const failed = result.checks.filter((x) => x.status === 'fail');
  if (failed.length) {
    lines.push('');
    lines.push(`What to do (${failed.length} failed):`);
    const seen = new Set<CheckGroup>();
    for (const f of failed) {
      if (seen.has(f.group)) continue;
      seen.add(f.group);
      lines.push(`  - ${e(f.group)}: ${(HINTS[f.group] ?? '').replaceAll('{key}', key)}`);
    }
  }
  if (result.certificates.length) {
    lines.push('');
    lines.push('Certificates:');
    for (const cert of result.certificates) {
      // The parsed subject's CN attribute: a regex over the subject text finds "CN=" inside another attribute's value.
      const cn = cert.subjectCn ?? cert.subject;
      lines.push(
        `  ${pad(e(cert.role), 5)}${pad(e(cn), 16)}valid ${e(cert.notBefore.slice(0, 10))} .. ${e(cert.notAfter.slice(0, 10))}  sha256 ${e(cert.sha256.slice(0, 16))}...${cert.pinned ? (cert.role === 'SGX-ROOT' ? '  (pinned Intel root)' : '  (pinned AMD root)') : ''}`,
      );
    }
  }
  lines.push('');
  lines.push('Evidence:');
  const tcb = c['cvm-attest-reported-tcb'] as Record<string, unknown> | undefined;
  if (tdx) lines.push(...tdxEvidenceLines(result));
  if (c['x-ms-sevsnpvm-launchmeasurement']) lines.push(`  measurement   ${e(c['x-ms-sevsnpvm-launchmeasurement'])}`);
  if (tcb)
    lines.push(
      `  reported TCB  ${Object.entries(tcb)
        .filter(([k]) => k !== 'raw')
        .map(([k, v]) => `${e(k)} ${e(v)}`)
        .join(', ')} (0x${e(tcb.raw)})`,
    );
  if (c['cvm-attest-firmware-version']) lines.push(`  SNP firmware  ${e(c['cvm-attest-firmware-version'])}`);
  const chipId = c['cvm-attest-chip-id'];
  if (typeof chipId === 'string' && chipId) lines.push(`  chip id       ${e(chipId.slice(0, 32))}...`);
  if (!tdx)
    lines.push(
      `  guest         vmpl ${e(c['x-ms-sevsnpvm-vmpl'])}, debuggable ${e(c['x-ms-sevsnpvm-is-debuggable'])}, migration ${e(c['x-ms-sevsnpvm-migration-allowed'])}, signing key ${e(c['cvm-attest-signing-key'])}`,
    );
  const rt = c['x-ms-runtime'] as { 'vm-configuration'?: Record<string, unknown> } | undefined;
  if (rt?.['vm-configuration']) {
    const vc = rt['vm-configuration'];
    lines.push(
      `  vm config     secure-boot ${e(vc['secure-boot'])}, tpm-enabled ${e(vc['tpm-enabled'])}, console-enabled ${e(vc['console-enabled'])}, vmUniqueId ${e(vc.vmUniqueId)}`,
    );
  }
  lines.push(
    `  policy        sha256 ${e(result.policy.hash.slice(0, 16))}...${
      result.policy.minimumTcb
        ? `, minimum TCB ${Object.entries(result.policy.minimumTcb)
            .map(([k, v]) => `${e(k)} ${e(v)}`)
            .join(', ')}`
        : ''
    }`,
  );
  if (result.warnings.length) {
    lines.push('');
    lines.push('Warnings:');
    for (const w of result.warnings) lines.push(`  - ${e(w)}`);
  }
  return lines.join('\n') + '\n';
}

/** The VM identity IMDS gave (`attest`), or that it was unavailable. */
export function renderIdentity(identity: InstanceIdentity | undefined): string {
  if (!identity) return 'VM (IMDS): identity unavailable\n';
  const bound =
    identity.boundToReport === true
      ? 'matches the vmUniqueId in the report'
      : identity.boundToReport === false
        ? 'DOES NOT match the vmUniqueId in the report'
        : 'not compared';
  return `VM (IMDS): ${e(identity.name)} (${e(identity.vmSize)}, ${e(identity.location)})\n  vmId ${e(identity.vmId)}: ${bound}\n  ${e(identity.resourceId)}\n`;
}
