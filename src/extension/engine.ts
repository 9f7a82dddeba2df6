// Wires the worker to the real parts: the collector + verifier (attest), the policy parser and the
// sinks. Imported lazily by `handler worker` only, so install/enable never load them.
import { attest, type Policy } from '../collect/attest.js';
import { policyFromSettings } from './policy-settings.js';
import { CollectionError, InputError } from '../base/errors.js';
import { SettingsError } from './settings-error.js';
import type { Engine } from './worker.js';
import type { InstanceIdentity } from '../collect/identity.js';
import { isFailedOutcome } from '../sinks/types.js';

/** How long a failed run waits for IMDS to say which VM this is (the run itself is already over). */
export const FAILURE_IDENTITY_TIMEOUT_MS = 5000;

// How to ask IMDS which VM this is, for a run whose evidence could not be collected, keyed by what
// the run threw: the worker hands the error back to deliver(), which asks (only when sinks are
// configured) and puts the identity on the record and alerts (a failing VM stays its own row in
// fleet queries).
const failureIdentity = new WeakMap<object, () => Promise<InstanceIdentity | undefined>>();

async function identityAfterFailure(o: { imdsEndpoint?: string; signal: AbortSignal }): Promise<InstanceIdentity | undefined> {
  if (o.signal.aborted) return undefined;
  const { fetchInstanceIdentity } = await import('../collect/imds.js');
  const signal = AbortSignal.any([o.signal, AbortSignal.timeout(FAILURE_IDENTITY_TIMEOUT_MS)]);
  const id = await fetchInstanceIdentity({ ...(o.imdsEndpoint ? { endpoint: o.imdsEndpoint } : {}), signal, attempts: 2 }).catch(() => undefined);
  return id;
}

export const engine: Engine = {
  async attest(o) {
    try {
      const options = {
        ...(o.tpm ? { tpm: o.tpm } : {}),
        ...(o.imdsEndpoint ? { imdsEndpoint: o.imdsEndpoint } : {}),
        ...(o.pcsEndpoint ? { pcsEndpoint: o.pcsEndpoint } : {}),
        ...(o.policy ? { policy: o.policy as Policy } : {}),
        cacheDir: o.cacheDir,
        quote: o.quote,
        signal: o.signal,
      };
      if (o.verifier) {
        const { attestForExtension } = await import('./verifier-run.js');
        return await attestForExtension(o.verifier, options);
      }
      const outcome = await attest(options);
      return outcome;
    } catch (e) {
      // Only the evidence failed (TPM, certificates): IMDS may still say who this VM is. When IMDS
      // itself failed, asking it again would only add its timeout.
      if (e instanceof CollectionError && !/^E_IMDS_/.test(e.code)) {
        const ask = { ...(o.imdsEndpoint ? { imdsEndpoint: o.imdsEndpoint } : {}), signal: o.signal };
        failureIdentity.set(e, () => identityAfterFailure(ask));
      }
      throw e;
    }
  },
  async buildPolicy(o) {
    return policyFromSettings(o);
  },
  async createSinks(settings, ctx) {
    const { createSinks } = await import('../sinks/index.js');
    try {
      const set = await createSinks(settings, {
        stateDir: ctx.stateDir,
        logger: ctx.logger,
        signal: ctx.signal,
        agentVersion: ctx.agentVersion,
        ...(ctx.onStateChange ? { onStateChange: ctx.onStateChange } : {}),
      });
      return {
        deliver: async (run) => {
          const ask = isFailedOutcome(run) && !run.identity && typeof run.error === 'object' && run.error !== null ? failureIdentity.get(run.error) : undefined;
          const id = ask ? await ask().catch(() => undefined) : undefined;
          return set.deliver(id ? { ...run, identity: id } : run);
        },
        close: () => set.close(),
      };
    } catch (e) {
      // Sink settings (and spool limits) are refused with InputError: a settings error naming sinks.
      if (e instanceof InputError) throw new SettingsError('publicSettings.sinks', e.message, { cause: e });
      throw e;
    }
  },
};
