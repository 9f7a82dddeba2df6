// Wires the worker to the real parts: the collector + verifier (attest), the policy parser and the
// sinks. Imported lazily by `handler worker` only, so install/enable never load them.
import { attest, type Policy } from '../collect/attest.js';
import { policyFromSettings } from './policy-settings.js';
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
    return policyFromSettings(o);
  },
  async createSinks(settings, ctx) {
    const { createSinks } = await import('../sinks/index.js');
    try {
      const set = await createSinks(settings, { stateDir: ctx.stateDir, logger: ctx.logger, signal: ctx.signal, agentVersion: ctx.agentVersion });
      return { deliver: (o) => set.deliver(o as Parameters<typeof set.deliver>[0]), close: () => set.close() };
    } catch (e) {
      if (e instanceof ParseError) throw new SettingsError('publicSettings.sinks', e.message, { cause: e });
      throw e;
    }
  },
};
