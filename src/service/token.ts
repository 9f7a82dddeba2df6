// The attestation token: a JWT shaped like MAA's. Header: alg, kid, jku (our /certs), typ JWT. Claims:
// the MAA-style claims `verify` prints, the same nested under x-ms-isolation-tee (MAA's Guest
// Attestation layout), x-ms-policy-hash, the nonce, the standard iss/iat/nbf/exp/jti, and
// x-ms-cvm-attest-fresh (did a quote over this nonce prove the evidence is fresh).
import { createHash, randomUUID } from 'node:crypto';
import { signCompactJws } from './jws.js';
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
  // Copied key by key, then added to: V8 adds keys to a `{ ...c }` spread copy through its slow path.
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(c)) {
    out[k] = c[k];
    if (k.startsWith('x-ms-')) tee[k] = c[k];
  }
  out['x-ms-ver'] = '1.0';
  out['x-ms-isolation-tee'] = tee;
  // MAA encodes its policy hash as base64url of SHA-256; ours is over the effective policy's canonical JSON.
  out['x-ms-policy-hash'] = Buffer.from(result.policy.hash, 'hex').toString('base64url');
  out['x-ms-cvm-attest-fresh'] = fresh;
  out['x-ms-cvm-attest-verdict'] = result.verdict;
  out.nonce = nonce;
  return out;
}

export function signToken(key: SigningKey, i: TokenInput): SignedToken {
  const iat = Math.floor((i.now ?? new Date()).getTime() / 1000);
  const jti = createHash('sha256').update(randomUUID()).update(i.nonce).digest('hex');
  const exp = iat + i.lifetimeSeconds;
  // Registered claims last, after the attestation claims (a claim named like one can never override it).
  const payload: Record<string, unknown> = tokenClaims(i.result, i.nonce, i.fresh);
  payload.iss = i.issuer;
  payload.iat = iat;
  payload.nbf = iat;
  payload.exp = exp;
  payload.jti = jti;
  const token = signCompactJws(key.alg, { kid: key.kid, jku: i.jwksUri, typ: 'JWT' }, payload, key.privateKey);
  return { token, jti, exp };
}
