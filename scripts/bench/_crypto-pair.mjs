// The crypto of one challenge+attest pair, timed for the serve bench (a helper, not a bench): one ECDSA
// P-384 verify of a report-sized message plus one RS256 signature. Imported, it gives `cryptoPair(ms)`
// (ms per pair on this thread, looped for `ms`); run as a worker thread, it answers each message `ms`
// with that figure, so the bench can time the same loop on every core at once.
import { generateKeyPairSync, sign, verify, randomBytes } from 'node:crypto';
import { isMainThread, parentPort } from 'node:worker_threads';

const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const msg = randomBytes(0x2a0);
const ecSig = sign('sha384', msg, p384.privateKey);

/** ms per (verify + sign), over at least `ms` milliseconds and 20 pairs. */
export function cryptoPair(ms) {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms || n < 20) {
    verify('sha384', msg, p384.publicKey, ecSig);
    sign('sha256', msg, rsa.privateKey);
    n++;
  }
  return (performance.now() - t0) / n;
}

cryptoPair(100); // warm-up
if (!isMainThread) parentPort.on('message', (ms) => parentPort.postMessage(cryptoPair(ms)));
