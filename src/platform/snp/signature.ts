// Check 2: the report's ECDSA P-384 signature over the raw bytes 0x000..0x29F, as received.
// High-S signatures are accepted on purpose: the AMD Secure Processor does not normalise S (of the
// twelve genuine reports in test/fixtures, six have s > n/2), so refusing them would fail genuine
// evidence. (r, n - s) is then a second valid encoding of the same signed bytes; it changes nothing
// signed, and nothing here keys a cache or a replay check on the whole report's bytes (certificates
// are cached by their own bytes, verdicts never), so it cannot be used to pass anything twice.
import { verify, type KeyObject } from 'node:crypto';
import { isAllZero } from '../../base/bytes.js';
import { SNP_SIGNED_SIZE, type SnpReport } from './report.js';
import type { CheckResult } from '../../result/result.js';

export function checkSignature(report: SnpReport, key: KeyObject | undefined, keyName: string): CheckResult {
  const r: CheckResult = { id: 'signature', group: 'signature', status: 'fail', reason: '' };
  if (report.signatureAlgo !== 1) return { ...r, reason: `signature algorithm ${report.signatureAlgo} is not ECDSA P-384 SHA-384` };
  if (report.signingKey === 'none' || report.maskChipKey) return { ...r, reason: 'the report is not signed (MASK_CHIP_KEY or SIGNING_KEY none)' };
  if (!key) return { ...r, reason: `no usable ${keyName} public key to check the signature with` };
  const { r: sr, s } = report.signature;
  if (isAllZero(sr) || isAllZero(s)) return { ...r, reason: 'the signature is all zero' };
  const sig = new Uint8Array(96);
  sig.set(sr, 0);
  sig.set(s, 48);
  let ok = false;
  try {
    ok = verify('sha384', report.bytes.subarray(0, SNP_SIGNED_SIZE), { key, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    ok = false;
  }
  return ok
    ? { ...r, status: 'pass', reason: `ECDSA P-384 signature over bytes 0x000-0x29F verifies with the ${keyName} key` }
    : { ...r, reason: `the ECDSA P-384 signature does not verify with the ${keyName} key (wrong key, or the report was altered)` };
}
