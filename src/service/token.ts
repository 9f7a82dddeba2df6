// The attestation token: a JWT shaped like MAA's. Header: alg, kid, jku (our /certs), typ JWT. Claims:
// the MAA-style claims `verify` prints, the same nested under x-ms-isolation-tee (MAA's Guest
// Attestation layout), x-ms-policy-hash, the nonce, the standard iss/iat/nbf/exp/jti, and
// x-ms-cvm-attest-fresh (did a quote over this nonce prove the evidence is fresh).
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { VerificationResult } from '../result/result.js';
import type { SigningKey } from './keys.js';

export interface TokenInput {
  readonly result: VerificationResult;
  readonly nonce: string;
  readonly fresh: boolean;
  readonly issuer: string;
  readonly jwksUri: string;
  readonly lifetimeSeconds: number;
  readonly now?: Date;
}

export interface SignedToken {
  readonly token: string;
  readonly jti: string;
  readonly exp: number;
}

/** The claims of the token, without the registered ones (iss, iat, nbf, exp, jti) that signing adds. */
export function tokenClaims(result: VerificationResult, nonce: string, fresh: boolean): Record<string, unknown> {
  const c = result.claims;
  const tee: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c)) if (k.startsWith('x-ms-')) tee[k] = v;
  return {
    ...c,
    'x-ms-ver': '1.0',
    'x-ms-isolation-tee': tee,
    // MAA encodes its policy hash as base64url of SHA-256; ours is over the effective policy's canonical JSON.
    'x-ms-policy-hash': Buffer.from(result.policy.hash, 'hex').toString('base64url'),
    'x-ms-cvm-attest-fresh': fresh,
    'x-ms-cvm-attest-verdict': result.verdict,
    nonce,
  };
}

export async function signToken(key: SigningKey, i: TokenInput): Promise<SignedToken> {
  const iat = Math.floor((i.now ?? new Date()).getTime() / 1000);
  const jti = createHash('sha256').update(randomUUID()).update(i.nonce).digest('hex');
  const exp = iat + i.lifetimeSeconds;
  const token = await new SignJWT(tokenClaims(i.result, i.nonce, i.fresh))
    .setProtectedHeader({ alg: key.alg, kid: key.kid, jku: i.jwksUri, typ: 'JWT' })
    .setIssuer(i.issuer)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(key.privateKey);
  return { token, jti, exp };
}
