// The guest-side checks that follow freshness, independent of the hardware platform: they take the HCL
// runtime data (and whether it is bound to the signed report), the PCRs a verified quote covers, and
// the optional AK certificate and TCG event log. Kept apart from verify-evidence.ts so the SNP and TDX
// paths share them.
import { ParseError } from '../base/errors.js';
import type { Policy } from '../policy/policy.js';
import { evaluateGuestPolicy } from '../policy/guest.js';
import type { RuntimeData } from '../hcl/runtime-data.js';
import { checkAkCertificate, parseIntermediates } from './ak-certificate.js';
import { checkEventLog } from './event-log-check.js';
import type { CheckResult, Claims } from '../result/result.js';

export interface GuestInput {
  readonly options: {
    readonly akCertificate?: Uint8Array;
    readonly akIntermediates?: Uint8Array | string;
    readonly eventLog?: Uint8Array;
    readonly cache?: boolean;
  };
  readonly runtimeData?: RuntimeData;
  readonly bindingOk: boolean;
  readonly now: Date;
  readonly policy: Policy;
  readonly attestedPcrs: Readonly<Record<number, string>> | undefined;
}

export interface GuestOutcome {
  readonly checks: CheckResult[];
  readonly policyChecks: CheckResult[];
  readonly claims: Claims;
}

export function checkGuest(i: GuestInput): GuestOutcome {
  const intermediates = i.options.akIntermediates !== undefined ? parseIntermediates(i.options.akIntermediates) : undefined;
  if (i.options.akCertificate !== undefined && !(i.options.akCertificate instanceof Uint8Array))
    throw new ParseError('E_OPTIONS', 'akCertificate must be bytes');
  const ak = checkAkCertificate({
    ...(i.options.akCertificate !== undefined ? { certificate: i.options.akCertificate } : {}),
    ...(intermediates ? { intermediates } : {}),
    ...(i.runtimeData ? { runtimeData: i.runtimeData } : {}),
    bindingOk: i.bindingOk,
    now: i.now,
    cache: i.options.cache !== false,
  });
  if (i.options.eventLog !== undefined && !(i.options.eventLog instanceof Uint8Array)) throw new ParseError('E_OPTIONS', 'eventLog must be bytes');
  const log = checkEventLog(i.options.eventLog, i.attestedPcrs, i.options.cache !== false);
  const boot = log.boot;
  const claims: Record<string, unknown> = {
    'cvm-attest-ak-certificate': ak.info ? { status: ak.check.status, ...ak.info } : null,
  };
  // MAA's names where one exists: the attested PCR indices, and Secure Boot as MAA's azurevm tokens carry it.
  if (i.attestedPcrs)
    claims['x-ms-azurevm-attested-pcrs'] = Object.keys(i.attestedPcrs)
      .map(Number)
      .sort((a, b) => a - b);
  if (boot?.secureBoot !== undefined) claims['secureboot'] = boot.secureBoot;
  claims['cvm-attest-event-log'] = boot
    ? {
        events: log.events,
        replayedPcrs: log.replayedPcrs,
        secureBoot: boot.secureBoot ?? null,
        firmwareDebugMode: boot.firmwareDebugMode ?? null,
        secureBootVariables: boot.secureBootVariables,
        bootApplications: boot.bootApplications,
        kernelCmdline: boot.kernelCmdline ?? null,
      }
    : null;
  return {
    checks: [ak.check, log.check],
    policyChecks: evaluateGuestPolicy(i.policy, {
      akCertificate: ak.check.status,
      ...(i.attestedPcrs ? { attestedPcrs: i.attestedPcrs } : {}),
      ...(boot ? { boot } : {}),
    }),
    claims,
  };
}
