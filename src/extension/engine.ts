// Wires the worker to the real parts: the collector + verifier (attest), the policy parser and the
// sinks. Imported lazily by `handler worker` only, so install/enable never load them.
import { attest, type Policy } from '../collect/attest.js';
import { parsePolicy, defaultPolicy } from '../policy/policy.js';
import { ParseError } from '../errors.js';
import { SettingsError } from './settings.js';
import type { Engine, OutcomeLike } from './worker.js';

export const engine: Engine = {
  async attest(o) {
    const outcome = await attest({
      ...(o.tpm ? { tpm: o.tpm } : {}),
      ...(o.imdsEndpoint ? { imdsEndpoint: o.imdsEndpoint } : {}),
      ...(o.policy ? { policy: o.policy as Policy } : {}),
      cacheDir: o.cacheDir,
      quote: o.quote,
      signal: o.signal,
    });
    return outcome as unknown as OutcomeLike;
  },
  async buildPolicy(o) {
    try {
      if (!o.policy && !o.minimumTcb) return defaultPolicy;
      const doc: Record<string, unknown> = { ...(o.policy ?? {}) };
      if (o.minimumTcb) doc['minimumTcb'] = { ...((o.policy?.['minimumTcb'] as object | undefined) ?? {}), ...o.minimumTcb };
      return parsePolicy(doc);
    } catch (e) {
      if (e instanceof ParseError) throw new SettingsError(o.policy ? o.from : 'publicSettings.minimumTcb', e.message, { cause: e });
      throw e;
    }
  },
  async createSinks() {
    // TODO(integration): src/sinks/index.ts createSinks once it lands.
    throw new SettingsError('publicSettings.sinks', 'sinks are not available in this build yet');
  },
};
