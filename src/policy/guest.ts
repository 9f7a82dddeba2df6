// Policy rules on the guest (platform-independent): the AK certificate, and (event-log.ts) the boot
// state replayed from the TCG event log. Each rule appears only when the policy sets it.
import type { CheckResult, CheckStatus } from '../verify/result.js';
import type { Policy } from './policy.js';

export interface GuestPolicyContext {
  readonly akCertificate: CheckStatus;
}

const check = (name: string, ok: boolean, pass: string, fail: string): CheckResult => ({ id: `policy.${name}`, group: 'policy', status: ok ? 'pass' : 'fail', reason: ok ? pass : fail });

export function evaluateGuestPolicy(p: Policy, ctx: GuestPolicyContext): CheckResult[] {
  const out: CheckResult[] = [];
  if (p.requireAkCertificate) out.push(check('ak-certificate', ctx.akCertificate === 'pass', 'the AK certificate chains to the pinned Azure Virtual TPM root and is for HCLAkPub', ctx.akCertificate === 'skip' ? 'policy requires the vTPM AK certificate, none was given' : 'policy requires a valid vTPM AK certificate for HCLAkPub'));
  return out;
}
