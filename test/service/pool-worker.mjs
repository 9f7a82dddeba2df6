// A stand-in verification worker for test/service/pool.test.ts: it speaks the pool's message contract
// ({id, request} in; {id, ok, answer} out) and does what the request's nonce says: "crash" exits the
// thread, "hang" never answers, anything else answers after `ms` milliseconds with the nonce echoed.
import { parentPort } from 'node:worker_threads';

parentPort.on('message', ({ id, request }) => {
  if (request.nonce === 'crash') setTimeout(() => process.exit(3), 20);
  else if (request.nonce === 'hang') return;
  else
    setTimeout(
      () =>
        parentPort.postMessage({
          id,
          ok: true,
          answer: {
            body: JSON.stringify({ verdict: 'pass', checks: [], claims: { nonce: request.nonce } }),
            verdict: 'pass',
            platform: 'sevsnp',
            fresh: false,
            failed: [],
          },
        }),
      request.ms ?? 10,
    );
});
