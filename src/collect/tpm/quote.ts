// Freshness: PCR_Read of the selected SHA-256 PCRs, TPM2_Quote by the AK with the nonce as qualifying
// data, and ReadPublic of the AK, on one connection. The quote is checked against what we asked for
// (nonce echoed, PCR digest = SHA-256 of the values read) so a PCR change in between is retried, not
// shipped as evidence that can never verify.
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { CollectionError, InputError, isCvmAttestError } from '../../base/errors.js';
import { withTpm, type IoOptions, type TpmClient } from './client.js';
import { decodePcrRead, decodeQuote, decodeReadPublic, encodePcrRead, encodeQuote, encodeReadPublic, quoteCtx } from './commands.js';
import { AZURE_AK_HANDLE, hex32, PCR_COUNT, TPM_ALG } from '../../tpm/constants.js';
import { normalizePcrList, parseQuoteAttest, publicKeyToJwk } from '../../tpm/structures.js';
import type { TpmTransport, TransportSpec } from './transport.js';
import type { QuoteInput } from '../../guest/freshness.js';

export const DEFAULT_PCRS: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7];
export const DEFAULT_NONCE_BYTES = 32;

export interface QuoteOptions extends IoOptions {
  /** Qualifying data (1-64 bytes); default 32 random bytes. */
  readonly nonce?: Uint8Array;
  /** SHA-256 PCRs to quote, default 0-7. */
  readonly pcrs?: readonly number[];
  /** Default 0x81000003 (Azure's AK). */
  readonly akHandle?: number;
  /** Password of the AK (empty on Azure). */
  readonly akPassword?: Uint8Array;
}

/** The verifier's QuoteInput (RSASSA/RSAPSS: the raw signature; ECDSA: r||s; TPMT_SIGNATURE framing stripped) and how it was made. */
export interface QuoteResult extends QuoteInput {
  /** TPM_ALG_ID of the signature scheme (0x14 RSASSA) and its hash (0x0B SHA-256). */
  readonly sigAlg: number;
  readonly hashAlg: number;
  readonly nonce: Uint8Array;
  /** 24 entries indexed by PCR number: lowercase hex SHA-256 value of each selected PCR, '' for PCRs not selected. */
  readonly pcrs: string[];
  readonly pcrSelection: number[];
  readonly akHandle: number;
  /** The AK's public key as read from the TPM (SPKI PEM), for display and bundles; trust comes from the HCL report's HCLAkPub, never from this. */
  readonly akPublicPem: string;
  readonly timings: { readonly pcrReadMs: number; readonly quoteMs: number; readonly totalMs: number };
}

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** PCR_Read returns at most 8 digests per call: ask again for the ones still missing. */
export async function readPcrs(c: TpmClient, pcrs: readonly number[]): Promise<Map<number, Uint8Array>> {
  const values = new Map<number, Uint8Array>();
  let missing = [...pcrs];
  while (missing.length > 0) {
    const res = await c.run('TPM2_PCR_Read', encodePcrRead(missing), decodePcrRead);
    let i = 0;
    for (const sel of res.selection) {
      for (const p of sel.pcrs) {
        const d = res.digests[i++]!;
        if (sel.hashAlg === TPM_ALG.SHA256 && missing.includes(p)) values.set(p, d);
      }
    }
    const next = missing.filter((p) => !values.has(p));
    if (next.length === missing.length) {
      throw new CollectionError('E_TPM_PCR_BANK', `the TPM returned no SHA-256 value for PCR(s) ${next.join(',')}: is the SHA-256 PCR bank allocated?`);
    }
    missing = next;
  }
  return values;
}

function pcrDigest(values: Map<number, Uint8Array>, pcrs: readonly number[]): Buffer {
  const h = createHash('sha256');
  for (const p of pcrs) h.update(values.get(p)!);
  return h.digest();
}

/** TPM2_Quote by the AK over SHA-256 PCRs, with PCR_Read of the same PCRs, on a live transport. */
export async function quote(transport: string | TransportSpec | TpmTransport, opts: QuoteOptions = {}): Promise<QuoteResult> {
  const nonce = opts.nonce ?? new Uint8Array(randomBytes(DEFAULT_NONCE_BYTES));
  if (!(nonce instanceof Uint8Array) || nonce.length < 1 || nonce.length > 64) {
    throw new InputError('E_TPM_NONCE', `the quote nonce must be 1-64 bytes (got ${nonce?.length ?? 'none'})`);
  }
  let pcrs: number[];
  try {
    pcrs = normalizePcrList(opts.pcrs ?? DEFAULT_PCRS);
  } catch (e) {
    throw new InputError('E_TPM_PCRS', (e as Error).message, { cause: e });
  }
  const akHandle = opts.akHandle ?? AZURE_AK_HANDLE;
  const akHints = {
    TPM_RC_HANDLE: `no key at ${hex32(akHandle)}${akHandle === AZURE_AK_HANDLE ? ': the Azure vTPM attestation key is missing (not an Azure Confidential VM, or an unprovisioned simulator)' : ''}.`,
  };
  const t0 = performance.now();
  return withTpm(transport, opts, async (c) => {
    for (let attempt = 1; ; attempt++) {
      const tp = performance.now();
      const values = await readPcrs(c, pcrs);
      const tq = performance.now();
      const q = await c.run('TPM2_Quote', encodeQuote(akHandle, nonce, pcrs, opts.akPassword), (r) => decodeQuote(r, quoteCtx(akHandle, akHints)));
      const tEnd = performance.now();
      let att;
      try {
        att = parseQuoteAttest(q.attest);
      } catch (e) {
        throw new CollectionError('E_TPM_PROTOCOL', `the TPM's quote is malformed: ${(e as Error).message}`, { cause: e });
      }
      if (!Buffer.from(att.extraData).equals(Buffer.from(nonce))) {
        throw new CollectionError('E_TPM_QUOTE_NONCE', 'the TPM quote does not carry the nonce we sent');
      }
      const sel = att.quote.pcrSelect.filter((s) => s.pcrs.length > 0);
      if (sel.length !== 1 || sel[0]!.hashAlg !== TPM_ALG.SHA256 || sel[0]!.pcrs.join() !== pcrs.join()) {
        throw new CollectionError('E_TPM_QUOTE_PCRS', 'the TPM quoted another PCR selection than the one asked for');
      }
      if (!pcrDigest(values, pcrs).equals(Buffer.from(att.quote.pcrDigest))) {
        // A PCR was extended between PCR_Read and Quote: read both again.
        if (attempt < 3) continue;
        throw new CollectionError('E_TPM_PCRS_CHANGED', 'the PCRs kept changing between PCR_Read and Quote (3 attempts)');
      }
      const ak = await c.run('TPM2_ReadPublic', encodeReadPublic(akHandle), (r) => decodeReadPublic(r, akHandle, akHints));
      let akPublicPem: string;
      try {
        akPublicPem = createPublicKey({ key: publicKeyToJwk(ak.key), format: 'jwk' })
          .export({ type: 'spki', format: 'pem' })
          .toString();
      } catch (e) {
        if (isCvmAttestError(e)) throw e;
        throw new CollectionError('E_TPM_PROTOCOL', `the AK public key at ${hex32(akHandle)} is not usable: ${(e as Error).message}`, { cause: e });
      }
      const pcrHex = Array.from({ length: PCR_COUNT }, (_, i) => (values.has(i) ? toHex(values.get(i)!) : ''));
      return {
        message: q.attest,
        signature: q.signature.signature,
        sigAlg: q.signature.sigAlg,
        hashAlg: q.signature.hashAlg,
        nonce: Uint8Array.from(nonce),
        pcrs: pcrHex,
        pcrSelection: pcrs,
        akHandle,
        akPublicPem,
        timings: { pcrReadMs: tq - tp, quoteMs: tEnd - tq, totalMs: performance.now() - t0 },
      };
    }
  });
}
