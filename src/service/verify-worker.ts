// Worker thread entry (bundled as dist/bundle/verify-worker.mjs): runs Verifier.attest for the pool.
// Messages in: {id, request}; out: {id, ok: true, answer} (an AttestAnswer) | {id, ok: false, code, message, evidence}.
import { parentPort, workerData } from 'node:worker_threads';
import { CvmAttestError } from '../base/errors.js';
import { answerOf, EvidenceError, Verifier, type VerifierConfig } from './verification.js';
import type { AttestRequest } from './request.js';

const config = workerData as VerifierConfig;
const verifier = new Verifier(config);
const withOutcome = config.withOutcome === true;
parentPort!.on('message', (m: { id: number; request: AttestRequest }) => {
  verifier.attest(m.request).then(
    (outcome) => parentPort!.postMessage({ id: m.id, ok: true, answer: answerOf(outcome, withOutcome) }),
    (e: unknown) =>
      parentPort!.postMessage({
        id: m.id,
        ok: false,
        code: e instanceof CvmAttestError ? e.code : 'E_INTERNAL',
        message: e instanceof CvmAttestError ? e.message : 'internal error during verification',
        evidence: e instanceof EvidenceError,
      }),
  );
});
