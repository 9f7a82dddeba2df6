// Policy rules on the guest (platform-independent): the AK certificate, the quoted PCR values, and the
// boot state replayed from the TCG event log. Each rule appears only when the policy sets it; data
// that is missing or not proven (no quote, a log that does not replay) fails the rule.
import type { BootState } from '../tpm/boot-state.js';
import type { CheckResult, CheckStatus } from '../result/result.js';
import type { Policy } from './policy.js';

export interface GuestPolicyContext {
  readonly akCertificate: CheckStatus;
  /** PCR values a verified quote covers. */
  readonly attestedPcrs?: Readonly<Record<number, string>>;
  /** Boot state from a log that replays to the quoted PCRs. */
  readonly boot?: BootState;
}

const check = (name: string, ok: boolean, pass: string, fail: string): CheckResult => ({
  id: `policy.${name}`,
  group: 'policy',
  status: ok ? 'pass' : 'fail',
  reason: ok ? pass : fail,
});
const short = (h: string): string => `${h.slice(0, 16)}...`;

/** requireFreshness, judged alike on both platforms: the freshness check passed (by report, quote or both). */
export function freshnessRule(p: Policy, freshness: CheckStatus): CheckResult | undefined {
  if (!p.requireFreshness) return undefined;
  return check(
    'freshness',
    freshness === 'pass',
    'freshness was verified (a report carrying the nonce, or a quote over it)',
    'policy requires freshness: neither a report carrying the nonce nor a quote over it was verified',
  );
}

/** The PCRs a quote must cover for this policy to be judged: 0-7 plus allowedPcrs' and, for the kernel command line, 8 (grub) and 9. */
export function pcrsForPolicy(p: Policy | undefined, base: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7]): number[] {
  const out = new Set(base);
  for (const k of Object.keys(p?.allowedPcrs ?? {})) out.add(Number(k));
  if (p?.allowedKernelCmdlines) [8, 9].forEach((i) => out.add(i));
  return [...out].sort((a, b) => a - b);
}

export function evaluateGuestPolicy(p: Policy, ctx: GuestPolicyContext): CheckResult[] {
  const out: CheckResult[] = [];
  if (p.requireAkCertificate)
    out.push(
      check(
        'ak-certificate',
        ctx.akCertificate === 'pass',
        'the AK certificate chains to the pinned Azure Virtual TPM root and is for HCLAkPub',
        ctx.akCertificate === 'skip' ? 'policy requires the vTPM AK certificate, none was given' : 'policy requires a valid vTPM AK certificate for HCLAkPub',
      ),
    );
  if (p.allowedPcrs) {
    const bad: string[] = [];
    for (const [k, list] of Object.entries(p.allowedPcrs)) {
      const v = ctx.attestedPcrs?.[Number(k)];
      if (v === undefined) bad.push(`PCR ${k} is not covered by a verified quote`);
      else if (!list.includes(v)) bad.push(`PCR ${k} is ${short(v)}`);
    }
    out.push(
      check('pcrs', bad.length === 0, `quoted PCRs ${Object.keys(p.allowedPcrs).join(',')} have allowed values`, `${bad.join('; ')} (not in allowedPcrs)`),
    );
  }
  const boot = ctx.boot;
  const noLog = 'no event log that replays to the quoted PCRs';
  if (p.requireSecureBoot) {
    out.push(
      check(
        'secure-boot',
        boot?.secureBoot === true,
        'the replayed event log shows Secure Boot on',
        !boot
          ? `policy requires Secure Boot, but there is ${noLog}`
          : boot.secureBoot === undefined
            ? 'policy requires Secure Boot, but the quoted PCR 7 events do not measure the SecureBoot variable'
            : 'Secure Boot is OFF (the SecureBoot variable measured into PCR 7 is not 1)',
      ),
    );
  }
  if (p.allowedBootApplicationDigests) {
    const apps = boot?.bootApplications ?? [];
    const unknown = apps.filter((d) => !p.allowedBootApplicationDigests!.includes(d));
    out.push(
      check(
        'boot-applications',
        !!boot && apps.length > 0 && unknown.length === 0,
        `all ${apps.length} boot applications are allowed`,
        !boot
          ? `policy restricts boot applications, but there is ${noLog}`
          : apps.length === 0
            ? 'policy restricts boot applications, but the quoted PCR 4 events measure none'
            : `boot application(s) ${unknown.map(short).join(', ')} not in allowedBootApplicationDigests`,
      ),
    );
  }
  if (p.allowedKernelCmdlines) {
    const c = boot?.kernelCmdline;
    out.push(
      check(
        'kernel-cmdline',
        c !== undefined && p.allowedKernelCmdlines.includes(c),
        'the measured kernel command line is allowed',
        !boot
          ? `policy restricts the kernel command line, but there is ${noLog}`
          : c === undefined
            ? 'policy restricts the kernel command line, but no quoted PCR 8 event measures one (quote PCR 8)'
            : `kernel command line "${c.slice(0, 120)}" is not in allowedKernelCmdlines`,
      ),
    );
  }
  return out;
}
