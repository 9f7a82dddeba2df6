// The effective policy from the settings: inline policy (protected wins over public) plus the
// minimumTcb shortcut. Shared by enable (to reject a bad policy at once) and the worker.
import { parsePolicy, defaultPolicy, type Policy } from '../policy/policy.js';
import { ParseError } from '../base/errors.js';
import { SettingsError } from './settings-error.js';

export interface PolicyInput {
  readonly policy?: Readonly<Record<string, unknown>>;
  readonly minimumTcb?: Readonly<Record<string, number>>;
  /** Which setting the inline policy came from, for the error message. */
  readonly from: string;
}

/** Throws SettingsError naming the setting when the policy is invalid. */
export function policyFromSettings(o: PolicyInput): Policy {
  try {
    if (!o.policy && !o.minimumTcb) return defaultPolicy;
    const doc: Record<string, unknown> = { ...(o.policy ?? {}) };
    if (o.minimumTcb) doc['minimumTcb'] = { ...(o.policy?.['minimumTcb'] ?? {}), ...o.minimumTcb };
    return parsePolicy(doc);
  } catch (e) {
    if (e instanceof ParseError) throw new SettingsError(o.policy ? o.from : 'publicSettings.minimumTcb', e.message, { cause: e });
    throw e;
  }
}
