// Check 9: judge verified evidence against a policy. Each rule is its own `policy.<name>` check so a
// person sees exactly which rule failed; optional rules appear only when the policy sets them.
import { toHex } from '../../base/bytes.js';
import type { SnpReport } from './report.js';
import type { TcbVersion } from './tcb.js';
import type { CheckResult, CheckStatus, Product } from '../../result/result.js';
import { TCB_COMPONENT_NAMES, type Policy } from '../../policy/policy.js';
import { freshnessRule } from '../../policy/guest.js';

export interface PolicyContext {
  readonly report: SnpReport;
  readonly kind: 'hcl' | 'snp';
  readonly product: Product | undefined;
  /** The freshness check's outcome. */
  readonly freshness: CheckStatus;
}

const check = (name: string, ok: boolean, pass: string, fail: string): CheckResult => ({
  id: `policy.${name}`,
  group: 'policy',
  status: ok ? 'pass' : 'fail',
  reason: ok ? pass : fail,
});

function tcbBelow(t: TcbVersion, min: Policy['minimumTcb'], product: Product | undefined): string[] {
  const out: string[] = [];
  for (const k of TCB_COMPONENT_NAMES) {
    const want = min?.[k];
    if (want === undefined) continue;
    if (k === 'fmc' && product !== 'Turin') continue; // only Turin has an FMC
    const got = t[k] ?? 0;
    if (got < want) out.push(`${k} ${got} < ${want}`);
  }
  return out;
}

function versionTuple(v: string): [number, number, number] {
  const [a = 0, b = 0, c = 0] = v.split('.').map(Number);
  return [a, b, c];
}

function allow(name: string, label: string, list: readonly string[] | undefined, value: Uint8Array): CheckResult[] {
  if (!list) return [];
  const hex = toHex(value);
  return [check(name, list.includes(hex), `${label} ${hex.slice(0, 16)}... is allowed`, `${label} ${hex} is not in the policy's allowlist`)];
}

export function evaluatePolicy(p: Policy, ctx: PolicyContext): CheckResult[] {
  const r = ctx.report;
  const out: CheckResult[] = [
    check(
      'debug',
      p.allowDebug || !r.policy.debug,
      r.policy.debug ? 'debug is on (allowed by policy)' : 'debug is off',
      'the guest policy allows debugging (POLICY.DEBUG = 1): the hypervisor can read and alter guest memory',
    ),
    check('vmpl', r.vmpl <= p.maxVmpl, `VMPL ${r.vmpl} <= ${p.maxVmpl}`, `the report was requested at VMPL ${r.vmpl}; policy allows at most ${p.maxVmpl}`),
    check(
      'migration',
      p.allowMigrationAgent || !r.policy.migrateMa,
      r.policy.migrateMa ? 'a migration agent is allowed (by policy)' : 'no migration agent',
      'the guest policy allows a migration agent (POLICY.MIGRATE_MA = 1)',
    ),
    check(
      'signing-key',
      r.signingKey === 'vcek' || (r.signingKey === 'vlek' && p.allowVlek),
      `signed by a ${r.signingKey?.toUpperCase()}`,
      r.signingKey === 'vlek'
        ? 'signed by a VLEK; policy accepts only a VCEK (set allowVlek)'
        : `signing key ${r.signingKey ?? 'reserved value'} is not accepted`,
    ),
  ];
  const fresh = freshnessRule(p, ctx.freshness);
  if (fresh) out.push(fresh);
  if (p.minimumTcb) {
    const below = tcbBelow(r.reportedTcb, p.minimumTcb, ctx.product);
    out.push(check('minimum-tcb', below.length === 0, 'REPORTED_TCB meets the minimum TCB', `REPORTED_TCB is below the minimum: ${below.join(', ')}`));
    if (p.minimumTcbCommitted) {
      const belowC = tcbBelow(r.committedTcb, p.minimumTcb, ctx.product);
      out.push(
        check('minimum-tcb-committed', belowC.length === 0, 'COMMITTED_TCB meets the minimum TCB', `COMMITTED_TCB is below the minimum: ${belowC.join(', ')}`),
      );
    }
  }
  if (p.minimumGuestSvn !== undefined)
    out.push(
      check('guest-svn', r.guestSvn >= p.minimumGuestSvn, `GUEST_SVN ${r.guestSvn} >= ${p.minimumGuestSvn}`, `GUEST_SVN ${r.guestSvn} < ${p.minimumGuestSvn}`),
    );
  out.push(...allow('measurement', 'MEASUREMENT', p.allowedMeasurements, r.measurement));
  out.push(...allow('host-data', 'HOST_DATA', p.allowedHostData, r.hostData));
  out.push(...allow('id-key-digest', 'ID_KEY_DIGEST', p.allowedIdKeyDigests, r.idKeyDigest));
  out.push(...allow('family-id', 'FAMILY_ID', p.allowedFamilyIds, r.familyId));
  out.push(...allow('image-id', 'IMAGE_ID', p.allowedImageIds, r.imageId));
  if (p.allowedProducts)
    out.push(
      check(
        'product',
        ctx.product !== undefined && p.allowedProducts.includes(ctx.product),
        `product ${ctx.product} is allowed`,
        `product ${ctx.product ?? 'unknown'} is not an allowed product (allowed: ${p.allowedProducts.join(', ')})`,
      ),
    );
  if (p.minimumFirmwareVersion) {
    const v = r.currentVersion;
    const [a, b, c] = versionTuple(p.minimumFirmwareVersion);
    const have = `${v.major}.${v.minor}.${v.build}`;
    const ok = v.major !== a ? v.major > a : v.minor !== b ? v.minor > b : v.build >= c;
    out.push(
      check('firmware-version', ok, `SNP firmware ${have} >= ${p.minimumFirmwareVersion}`, `SNP firmware ${have} is older than ${p.minimumFirmwareVersion}`),
    );
  }
  return out;
}
