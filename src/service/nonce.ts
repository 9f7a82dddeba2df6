// Challenge nonces that authenticate themselves: 32 bytes = expiry (u32 seconds, big-endian) || 12
// random bytes || the first 16 bytes of HMAC-SHA256(key, first 16 bytes). Any replica holding the key
// checks any replica's nonce without shared state; only "used once" needs the replay store.
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ServiceError } from './errors.js';

export const NONCE_BYTES = 32;
const BODY = 16;
const DOMAIN = Buffer.from('cvm-attest nonce v1\0');

export interface IssuedNonce {
  readonly nonce: string;
  readonly expiresAt: Date;
}

/** A nonce that passed its MAC and expiry checks. */
export interface CheckedNonce {
  readonly bytes: Buffer;
  readonly hex: string;
  readonly expiresAt: Date;
}

/** Derives the HMAC key from secret key material (the service uses its signing keys), so replicas given the same keys agree. */
export function deriveNonceKey(material: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', material, Buffer.from('cvm-attest'), Buffer.from('challenge nonce hmac v1'), 32));
}

export class NonceAuthority {
  readonly #key: Buffer;
  readonly lifetimeMs: number;
  constructor(key: Uint8Array, lifetimeMs = 5 * 60_000) {
    if (key.length < 32) throw new Error('nonce key must be at least 32 bytes');
    this.#key = Buffer.from(key);
    this.lifetimeMs = lifetimeMs;
  }

  #mac(body: Uint8Array): Buffer {
    return createHmac('sha256', this.#key)
      .update(DOMAIN)
      .update(body)
      .digest()
      .subarray(0, NONCE_BYTES - BODY);
  }

  issue(now: Date = new Date()): IssuedNonce {
    const expiry = Math.ceil((now.getTime() + this.lifetimeMs) / 1000);
    const body = Buffer.alloc(BODY);
    body.writeUInt32BE(expiry, 0);
    randomBytes(BODY - 4).copy(body, 4);
    const nonce = Buffer.concat([body, this.#mac(body)]);
    return { nonce: nonce.toString('hex'), expiresAt: new Date(expiry * 1000) };
  }

  /** Checks form, MAC and expiry (not use: that is the replay store's job). Throws ServiceError 400. */
  check(hex: unknown, now: Date = new Date()): CheckedNonce {
    if (typeof hex !== 'string' || !/^[0-9a-f]{64}$/.test(hex))
      throw new ServiceError('E_NONCE_MALFORMED', 'nonce must be 64 lowercase hex digits from POST /v1/challenge', 400);
    const bytes = Buffer.from(hex, 'hex');
    if (!timingSafeEqual(this.#mac(bytes.subarray(0, BODY)), bytes.subarray(BODY)))
      throw new ServiceError('E_NONCE_UNKNOWN', 'nonce was not issued by this verifier', 400);
    const expiresAt = new Date(bytes.readUInt32BE(0) * 1000);
    if (expiresAt.getTime() <= now.getTime())
      throw new ServiceError('E_NONCE_EXPIRED', `nonce expired at ${expiresAt.toISOString()}: ask for a new challenge`, 400);
    return { bytes, hex, expiresAt };
  }
}
