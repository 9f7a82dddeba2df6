// Remote attestation from this VM: challenge -> collect with the verifier's nonce (the vTPM quote is
// taken over it) -> submit -> the verifier's verdict and token. The local verdict on the same
// evidence is computed too, so both can be shown side by side. Used by `attest --verifier` and the
// extension's verifier mode.
import { attest, type AttestOptions, type AttestOutcome } from '../collect/attest.js';
import { InputError } from '../base/errors.js';
import { requestChallenge, submitEvidence, type RemoteVerdict, type VerifierEndpoint } from './verifier-client.js';

export interface RemoteOutcome {
  readonly remote: RemoteVerdict;
  readonly local: AttestOutcome;
  readonly nonce: string;
}

export async function attestRemotely(verifier: VerifierEndpoint, options: AttestOptions = {}): Promise<RemoteOutcome> {
  if (options.nonce !== undefined) throw new InputError('E_USAGE', 'the verifier chooses the nonce: drop --nonce with --verifier');
  // Without a quote (--no-quote, settings freshness false) the verifier's policy decides: by default it requires one.
  const challenge = await requestChallenge(verifier);
  const local = await attest({ ...options, nonce: challenge.nonce });
  const remote = await submitEvidence(verifier, challenge.hex, local.evidence);
  return { remote, local, nonce: challenge.hex };
}
