// Check 11 on TDX: judge verified TD evidence against the policy, one `policy.<name>` check per rule.
// Keys that judge only SEV-SNP are ignored here, with a note naming them.
import { toHex } from '../../base/bytes.js';
import { TCB_STATUSES, type TcbStatus } from '../../result/tdx-tcb-status.js';
import type { TdQuoteBody } from './quote.js';
import { tdDebug } from './td-report.js';
import type { CheckResult, CheckStatus } from '../../result/result.js';
import { defaultPolicy, SNP_ONLY_KEYS, TDX_ONLY_KEYS, type Policy } from '../../policy/policy.js';
import { freshnessRule } from '../../policy/guest.js';

export interface TdxPolicyContext {
  readonly body: TdQuoteBody;
  /** Undefined when the TCB status could not be determined (its own check failed). */
  readonly tcbStatus: TcbStatus | undefined;
  readonly advisoryIds: readonly string[];
  readonly freshness: CheckStatus;
}

const check = (name: string, status: CheckStatus, reason: string): CheckResult => ({ id: `policy.${name}`, group: 'policy', status, reason });
/** Every status but Revoked: what a policy allows unless it says otherwise. */
const DEFAULT_STATUSES: readonly TcbStatus[] = TCB_STATUSES.filter((s) => s !== 'Revoked');

/** Keys of `keys` that the policy sets to something other than the default. */
export function keysSet(p: Policy, keys: readonly string[]): string[] {
  const d = defaultPolicy as unknown as Record<string, unknown>;
  const o = p as unknown as Record<string, unknown>;
  return keys.filter((k) => o[k] !== undefined && JSON.stringify(o[k]) !== JSON.stringify(d[k]));
}

/** The note a policy gets on the platform its keys do not apply to (undefined when there is nothing to note). */
const notes = { SNP: new WeakMap<Policy, CheckResult | null>(), TDX: new WeakMap<Policy, CheckResult | null>() };

export function otherPlatformNote(p: Policy, platform: 'SNP' | 'TDX'): CheckResult | undefined {
  // A parsed policy is frozen: its note is computed once (a copy is returned, results are the caller's).
  const known = notes[platform].get(p);
  if (known !== undefined) return known ? { ...known } : undefined;
  const note = computeNote(p, platform);
  if (Object.isFrozen(p)) notes[platform].set(p, note ?? null);
  return note ? { ...note } : undefined;
}

function computeNote(p: Policy, platform: 'SNP' | 'TDX'): CheckResult | undefined {
  const ignored = keysSet(p, platform === 'TDX' ? SNP_ONLY_KEYS : TDX_ONLY_KEYS);
  if (ignored.length === 0) return undefined;
  return check(
    'other-platform',
    'skip',
    `ignored on ${platform === 'TDX' ? 'Intel TDX' : 'AMD SEV-SNP'}: ${ignored.join(', ')} (they judge ${platform === 'TDX' ? 'SEV-SNP' : 'TDX'} evidence)`,
  );
}

function allow(name: string, label: string, list: readonly string[] | undefined, value: Uint8Array): CheckResult[] {
  if (!list) return [];
  const hex = toHex(value);
  return [
    list.includes(hex)
      ? check(name, 'pass', `${label} ${hex.slice(0, 16)}... is allowed`)
      : check(name, 'fail', `${label} ${hex} is not in the policy's allowlist`),
  ];
}

export function evaluateTdxPolicy(p: Policy, ctx: TdxPolicyContext): CheckResult[] {
  const b = ctx.body;
  const debug = tdDebug(b.tdAttributes);
  const out: CheckResult[] = [
    check(
      'debug',
      !debug || p.allowDebug ? 'pass' : 'fail',
      debug
        ? p.allowDebug
          ? 'the TD is debuggable (allowed by policy)'
          : 'the TD is debuggable (TD ATTRIBUTES.DEBUG = 1): the host can read and change its memory'
        : 'TD ATTRIBUTES.DEBUG is off',
    ),
  ];
  const allowed = p.allowedTdxTcbStatuses ?? DEFAULT_STATUSES;
  const adv = ctx.advisoryIds.length ? ` (advisories ${ctx.advisoryIds.join(', ')})` : '';
  if (ctx.tcbStatus === undefined) out.push(check('tcb-status', 'fail', 'the TCB status could not be determined (see the tcb checks)'));
  else if (!allowed.includes(ctx.tcbStatus))
    out.push(check('tcb-status', 'fail', `TCB status ${ctx.tcbStatus}${adv} is not allowed (allowed: ${allowed.join(', ')})`));
  else if (ctx.tcbStatus !== 'UpToDate')
    out.push(check('tcb-status', 'warn', `TCB status ${ctx.tcbStatus}${adv}: allowed by policy, the platform needs Intel's updates`));
  else out.push(check('tcb-status', 'pass', 'TCB status UpToDate'));
  if (p.deniedAdvisoryIds) {
    const hit = ctx.advisoryIds.filter((a) => p.deniedAdvisoryIds!.includes(a.toUpperCase()));
    out.push(
      hit.length
        ? check('advisories', 'fail', `the TCB level names denied advisories: ${hit.join(', ')}`)
        : check('advisories', 'pass', 'no denied advisory applies'),
    );
  }
  const fresh = freshnessRule(p, ctx.freshness);
  if (fresh) out.push(fresh);
  out.push(...allow('mrtd', 'MRTD', p.allowedMrtd, b.mrTd));
  for (let i = 0; i < 4; i++) out.push(...allow(`rtmr${i}`, `RTMR${i}`, p[`allowedRtmr${i}` as 'allowedRtmr0'], b.rtmr[i]!));
  out.push(...allow('mrconfigid', 'MRCONFIGID', p.allowedMrConfigId, b.mrConfigId));
  out.push(...allow('mrowner', 'MROWNER', p.allowedMrOwner, b.mrOwner));
  if (p.minimumTeeTcbSvn) {
    const want = Buffer.from(p.minimumTeeTcbSvn, 'hex');
    const below = [...want].map((w, i) => (b.teeTcbSvn[i]! < w ? `byte ${i}: ${b.teeTcbSvn[i]} < ${w}` : '')).filter(Boolean);
    out.push(
      below.length
        ? check('tee-tcb-svn', 'fail', `TEE_TCB_SVN ${toHex(b.teeTcbSvn)} is below the minimum ${p.minimumTeeTcbSvn} (${below.join(', ')})`)
        : check('tee-tcb-svn', 'pass', `TEE_TCB_SVN ${toHex(b.teeTcbSvn)} meets the minimum`),
    );
  }
  const note = otherPlatformNote(p, 'TDX');
  if (note) out.push(note);
  return out;
}
