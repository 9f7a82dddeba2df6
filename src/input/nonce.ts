// A nonce given as hex text: the --nonce option, a bundle's nonce.hex, a replayed folder's nonce.hex.
// One format everywhere (1-64 bytes, the most a TPM2B_DATA and the report's user-data hold); each
// caller names the input and keeps its own error code. Pure.
import { InputError, type ErrorCode } from '../base/errors.js';

export const NONCE_MAX_BYTES = 64;

export interface HexInputOptions {
  /** The error code users see for this input (e.g. E_NONCE, E_BUNDLE_FORMAT). */
  readonly code: ErrorCode;
  /** Names the input in the message (e.g. "--nonce", "bundle nonce.hex"). */
  readonly what: string;
}

/** 1-64 bytes of hex: surrounding whitespace and a 0x prefix allowed, an even number of digits. Throws InputError. */
export function parseNonceHex(text: string, o: HexInputOptions): Uint8Array {
  const t = text.trim().replace(/^0x/i, '');
  if (t.length < 2 || t.length > 2 * NONCE_MAX_BYTES || t.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(t)) {
    throw new InputError(o.code, `${o.what} must be 1-${NONCE_MAX_BYTES} bytes of hex (2-${2 * NONCE_MAX_BYTES} hex digits)`);
  }
  return Uint8Array.from(Buffer.from(t, 'hex'));
}
