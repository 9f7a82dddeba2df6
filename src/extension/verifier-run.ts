// One run in verifier mode: remote attestation (challenge, quote over the verifier's nonce, submit);
// if the verifier gives no verdict (down, timing out, refusing), the evidence is still judged locally
// and the status says why the remote verdict is missing. Collection failures stay failures.
import { attest, type AttestOptions } from '../collect/attest.js';
import { attestRemotely } from '../remote/attest-remote.js';
import { VerifierRefusedError, VerifierUnavailableError } from '../remote/verifier-client.js';
import type { VerifierSettings } from './verifier-settings.js';
import type { WorkerOutcome } from './worker.js';

const VERIFIER_TIMEOUT_MS = 30_000;

export async function attestForExtension(v: VerifierSettings, options: AttestOptions): Promise<WorkerOutcome> {
  const endpoint = { endpoint: v.endpoint, ...(v.caCertificate ? { caCertificate: v.caCertificate } : {}), timeoutMs: VERIFIER_TIMEOUT_MS };
  try {
    const { remote, local } = await attestRemotely(endpoint, options);
    return {
      ...local,
      remote: {
        endpoint: v.endpoint,
        verdict: remote.verdict,
        ...(remote.jti ? { jti: remote.jti } : {}),
        ...(remote.fresh !== undefined ? { fresh: remote.fresh } : {}),
        failed: remote.checks.filter((c) => c.status === 'fail').map((c) => c.id),
      },
    };
  } catch (e) {
    if (!(e instanceof VerifierUnavailableError || e instanceof VerifierRefusedError)) throw e;
    const local = await attest(options);
    return { ...local, remote: { endpoint: v.endpoint, error: `${e.message} [${e.code}]` } };
  }
}
