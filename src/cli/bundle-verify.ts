// `verify --bundle DIR`: verify an evidence bundle (written by `collect`) offline. Every file is
// checked against manifest.json first. A bundle's quote is recorded, so freshness is a warning,
// unless the verifier gives --nonce: the nonce it chose itself, which the quote must carry.
import { InputError } from '../base/errors.js';
import { readBundle } from '../collect/bundle.js';
import { verifyCollected } from '../collect/attest.js';
import type { VerificationResult } from '../result/result.js';
import { loadPolicyAndCrl, type VerifyFiles } from './verify-inputs.js';
import { NONCE_OPTION } from './collector-options.js';
import { parseNonceHex } from '../input/nonce.js';

export async function verifyBundleDir(dir: string, files: VerifyFiles, now?: Date): Promise<VerificationResult> {
  const clash = (['evidence', 'vcek', 'chain', 'quoteMsg', 'quoteSig', 'pcrs', 'tdQuote', 'akCert', 'eventLog'] as const).filter((k) => files[k] !== undefined);
  if (clash.length)
    throw new InputError(
      'E_USAGE',
      `--bundle supplies the evidence, certificates and quote: drop --${clash.map((k) => k.replace(/[A-Z]/, (c) => '-' + c.toLowerCase())).join(', --')}`,
    );
  const { evidence } = await readBundle(dir);
  // Policy and CRL files are read and checked as verify does it; the evidence is the bundle's, read once, checked.
  const extra = loadPolicyAndCrl(files);
  let ev = evidence;
  let nonce: Uint8Array | undefined;
  if (files.nonce !== undefined) {
    // Your own nonce: the quote must carry it, or the report its zero-padded user-data.
    nonce = parseNonceHex(files.nonce, NONCE_OPTION);
    ev = { ...evidence, ...(evidence.quote ? { quote: { ...evidence.quote, nonce } } : {}), replayed: false };
  }
  // Newer collateral than the bundle's may be given (TDX): it replaces the bundle's.
  if (files.collateral?.length) {
    const { readCollateralPaths } = await import('../collect/tdx-inputs.js');
    ev = { ...ev, collateral: readCollateralPaths(files.collateral) };
  }
  return verifyCollected(ev, {
    ...(nonce ? { nonce } : {}),
    ...(extra.policy ? { policy: extra.policy } : {}),
    ...(extra.crl !== undefined ? { crl: extra.crl } : {}),
    ...(now ? { now } : {}),
  });
}
