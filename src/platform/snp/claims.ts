// Claims: MAA's exact names and value formats for an SNP CVM (lowercase hex, numbers, booleans), emitted
// flat at the top level as MAA does for attestation type "sevsnpvm", plus our own `cvm-attest-*` claims.
import { toHex } from '../../base/bytes.js';
import type { HclReport } from './hcl.js';
import type { SnpReport } from './report.js';
import { tcbComponents, tcbHex, type TcbVersion } from './tcb.js';
import type { Product } from '../../result/result.js';

export interface ClaimsInput {
  readonly report: SnpReport;
  readonly hcl?: HclReport;
  readonly product: Product | undefined;
  /** Include x-ms-runtime only when the runtime data is bound to the report. */
  readonly runtimeBound: boolean;
  readonly policyHash: string;
  readonly attestedPcrs?: Readonly<Record<number, string>>;
}

const tcb = (t: TcbVersion): Record<string, unknown> => ({ raw: tcbHex(t.raw), ...tcbComponents(t) });

/** The claims, as a new object the caller may add its own claims to. */
export function buildClaims(i: ClaimsInput): Record<string, unknown> {
  const r = i.report;
  const t = r.reportedTcb;
  const c: Record<string, unknown> = {
    'x-ms-attestation-type': 'sevsnpvm',
    'x-ms-sevsnpvm-authorkeydigest': toHex(r.authorKeyDigest),
    'x-ms-sevsnpvm-bootloader-svn': t.bootloader,
    'x-ms-sevsnpvm-familyId': toHex(r.familyId),
    'x-ms-sevsnpvm-guestsvn': r.guestSvn,
    'x-ms-sevsnpvm-hostdata': toHex(r.hostData),
    'x-ms-sevsnpvm-idkeydigest': toHex(r.idKeyDigest),
    'x-ms-sevsnpvm-imageId': toHex(r.imageId),
    'x-ms-sevsnpvm-is-debuggable': r.policy.debug,
    'x-ms-sevsnpvm-launchmeasurement': toHex(r.measurement),
    'x-ms-sevsnpvm-microcode-svn': t.microcode,
    'x-ms-sevsnpvm-migration-allowed': r.policy.migrateMa,
    'x-ms-sevsnpvm-reportdata': toHex(r.reportData),
    'x-ms-sevsnpvm-reportid': toHex(r.reportId),
    'x-ms-sevsnpvm-smt-allowed': r.policy.smt,
    'x-ms-sevsnpvm-snpfw-svn': t.snp,
    'x-ms-sevsnpvm-tee-svn': t.tee,
    'x-ms-sevsnpvm-vmpl': r.vmpl,
  };
  if (i.hcl && i.runtimeBound && i.hcl.runtimeData.json) c['x-ms-runtime'] = i.hcl.runtimeData.json;
  const v = (x: { major: number; minor: number; build: number }): string => `${x.major}.${x.minor}.${x.build}`;
  Object.assign(c, {
    'cvm-attest-evidence-kind': i.hcl ? 'hcl' : 'snp',
    ...(i.hcl ? { 'cvm-attest-hcl-header-version': i.hcl.headerVersion } : {}),
    'cvm-attest-report-version': r.version,
    'cvm-attest-product': i.product ?? null,
    ...(r.cpuid ? { 'cvm-attest-cpuid': { family: r.cpuid.family, model: r.cpuid.model, stepping: r.cpuid.stepping } } : {}),
    'cvm-attest-chip-id': toHex(i.product === 'Turin' ? r.chipId.subarray(0, 8) : r.chipId),
    'cvm-attest-signing-key': r.signingKey ?? null,
    'cvm-attest-reported-tcb': tcb(r.reportedTcb),
    'cvm-attest-current-tcb': tcb(r.currentTcb),
    'cvm-attest-committed-tcb': tcb(r.committedTcb),
    'cvm-attest-launch-tcb': tcb(r.launchTcb),
    'cvm-attest-firmware-version': v(r.currentVersion),
    'cvm-attest-committed-firmware-version': v(r.committedVersion),
    'cvm-attest-guest-policy': {
      raw: r.policy.raw.toString(16).padStart(16, '0'),
      abiMajor: r.policy.abiMajor,
      abiMinor: r.policy.abiMinor,
      smt: r.policy.smt,
      migrateMa: r.policy.migrateMa,
      debug: r.policy.debug,
      singleSocket: r.policy.singleSocket,
      cxlAllow: r.policy.cxlAllow,
      memAes256Xts: r.policy.memAes256Xts,
      raplDis: r.policy.raplDis,
      ciphertextHiding: r.policy.ciphertextHiding,
      pageSwapDisable: r.policy.pageSwapDisable,
    },
    'cvm-attest-platform-info': {
      raw: r.platformInfo.raw.toString(16).padStart(16, '0'),
      smtEnabled: r.platformInfo.smtEnabled,
      tsmeEnabled: r.platformInfo.tsmeEnabled,
      eccEnabled: r.platformInfo.eccEnabled,
      raplDisabled: r.platformInfo.raplDisabled,
      ciphertextHidingEnabled: r.platformInfo.ciphertextHidingEnabled,
      aliasCheckComplete: r.platformInfo.aliasCheckComplete,
    },
    'cvm-attest-report-id-ma': toHex(r.reportIdMa),
    'cvm-attest-policy-hash': i.policyHash,
  });
  if (r.launchMitVector !== undefined) {
    c['cvm-attest-launch-mit-vector'] = r.launchMitVector.toString(16).padStart(16, '0');
    c['cvm-attest-current-mit-vector'] = (r.currentMitVector ?? 0n).toString(16).padStart(16, '0');
  }
  if (i.attestedPcrs) c['cvm-attest-pcrs'] = i.attestedPcrs;
  return c;
}
