// Check 8: freshness from a vTPM quote. The AK is the runtime data's HCLAkPub (bound to the SNP report
// by check 7), never an AK trusted for its Azure certificate. The quote must be an RSASSA SHA-256
// signature by that key over a TPMS_ATTEST of type QUOTE whose extraData is the verifier's nonce and
// whose pcrDigest is the digest of the given PCR values (when given).
import { createHash, verify } from 'node:crypto';
import { CvmAttestError } from '../base/errors.js';
import { bytesEqual, toHex } from '../base/bytes.js';
import type { HclEnvelope } from '../hcl/header.js';
import { akPublicKey } from '../hcl/runtime-data.js';
import { TPM_ALG } from '../tpm/constants.js';
import { parseQuoteAttest, rawQuoteSignature } from '../tpm/structures.js';
import type { CheckResult } from '../result/result.js';

export interface QuoteInput {
  /** TPMS_ATTEST bytes. */
  readonly message: Uint8Array;
  /** Raw RSASSA signature or a TPMT_SIGNATURE. */
  readonly signature: Uint8Array;
  /** The qualifying data the verifier chose: 1-64 bytes (verifyEvidence refuses others). */
  readonly nonce: Uint8Array;
  /** SHA-256 PCR values (hex) indexed by PCR number. */
  readonly pcrs?: readonly string[];
}

export interface FreshnessOutcome {
  readonly check: CheckResult;
  /** PCR index -> hex value, for the PCRs the verified quote covers (when values were given). */
  readonly attestedPcrs?: Readonly<Record<number, string>>;
}

const base = { id: 'freshness', group: 'freshness' } as const;
/** The smallest attestation key accepted. */
export const MIN_AK_BITS = 2048;
const fail = (reason: string): FreshnessOutcome => ({ check: { id: base.id, group: base.group, status: 'fail', reason } });

export function checkFreshness(quote: QuoteInput | undefined, hcl: HclEnvelope | undefined, bindingOk: boolean, replayed: boolean): FreshnessOutcome {
  if (!quote) {
    const what = hcl ? 'the HCL report is written at boot' : 'a bare SNP report carries no vTPM key to check a quote with';
    // Keys spelled out, not `...base`: V8 adds keys to a spread copy slowly, and this runs on every verification.
    return {
      check: { id: base.id, group: base.group, status: 'skip', reason: `no quote given: ${what}; it proves the platform, not that this evidence is fresh` },
    };
  }
  if (!hcl) return fail('a quote needs an HCL report: its attestation key is bound through the runtime data');
  if (!bindingOk) return fail('the runtime data is not bound to the report, so its attestation key cannot be trusted');
  let attest;
  try {
    attest = parseQuoteAttest(quote.message);
  } catch (e) {
    return fail(`quote message: ${e instanceof CvmAttestError ? e.message : 'malformed'}`);
  }
  let key;
  try {
    key = akPublicKey(hcl.runtimeData);
  } catch (e) {
    return fail(e instanceof CvmAttestError ? e.message : 'no usable HCLAkPub key');
  }
  // Azure's AK is RSA-2048; anything shorter is factorable and proves nothing about who signed the quote.
  const modulusLength = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (modulusLength < MIN_AK_BITS) return fail(`HCLAkPub is an RSA-${modulusLength} key; at least RSA-${MIN_AK_BITS} is required`);
  const modulusBytes = Math.ceil(modulusLength / 8);
  const sig = rawQuoteSignature(quote.signature, modulusBytes);
  if (!sig) return fail(`quote signature is neither a raw ${modulusBytes}-byte RSASSA signature nor a TPMT_SIGNATURE (RSASSA)`);
  if (sig.hashAlg !== TPM_ALG.SHA256) return fail(`quote signature hash 0x${sig.hashAlg.toString(16)} is not SHA-256`);
  let ok = false;
  try {
    ok = verify('sha256', quote.message, key, sig.sig);
  } catch {
    ok = false;
  }
  if (!ok) return fail('the quote signature does not verify with HCLAkPub from the runtime data');
  if (!bytesEqual(attest.extraData, quote.nonce)) {
    return fail(
      `the quote's nonce (extraData ${toHex(attest.extraData).slice(0, 32)}) is not the expected ${toHex(quote.nonce).slice(0, 32)}: a replayed or foreign quote`,
    );
  }
  let pcrNote = 'PCR values not given: pcrDigest not checked';
  let attestedPcrs: Record<number, string> | undefined;
  if (quote.pcrs) {
    const h = createHash('sha256');
    attestedPcrs = {};
    for (const sel of attest.quote.pcrSelect) {
      if (sel.pcrs.length === 0) continue;
      if (sel.hashAlg !== TPM_ALG.SHA256) return fail(`the quote selects PCRs of hash 0x${sel.hashAlg.toString(16)}; only SHA-256 PCR values can be checked`);
      for (const i of sel.pcrs) {
        const v = quote.pcrs[i];
        if (typeof v !== 'string' || !/^[0-9a-fA-F]{64}$/.test(v)) return fail(`PCR ${i} is selected by the quote but no SHA-256 value was given for it`);
        h.update(Buffer.from(v, 'hex'));
        attestedPcrs[i] = v.toLowerCase();
      }
    }
    if (!bytesEqual(new Uint8Array(h.digest()), attest.quote.pcrDigest)) return fail("the given PCR values do not hash to the quote's pcrDigest");
    pcrNote = `pcrDigest matches PCRs ${Object.keys(attestedPcrs).join(',')}`;
  }
  const reason = `quote signed by HCLAkPub over the expected nonce; ${pcrNote}`;
  const out: FreshnessOutcome = {
    check: {
      id: base.id,
      group: base.group,
      status: replayed ? 'warn' : 'pass',
      reason: replayed ? `evidence replayed from a capture: ${reason} (fresh when captured, not now)` : reason,
    },
  };
  return attestedPcrs ? { ...out, attestedPcrs } : out;
}
