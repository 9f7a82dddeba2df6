// JWS compact serialisation (RFC 7515) of the service's tokens: base64url(header) . base64url(payload)
// . base64url(signature), signed with node:crypto in the worker thread itself. jose, which relying
// parties (and our tests) verify these tokens with, signs through WebCrypto: a job handed to libuv's
// thread pool plus its algorithm normalisation and claims builder, ~0.5 ms of CPU a token above the
// RSA signature itself (1.42 vs 0.94 ms measured), a fifth of the service's crypto budget per attest.
// The algorithms are RFC 7518's: RS256 (RSASSA-PKCS1-v1_5 SHA-256), PS256 (RSASSA-PSS SHA-256, MGF1
// SHA-256, 32-byte salt), ES256 (ECDSA P-256 SHA-256, r || s, 64 bytes).
import { constants, sign, type KeyObject } from 'node:crypto';
import type { TokenAlg } from './keys.js';

const b64u = (s: string): string => Buffer.from(s, 'utf8').toString('base64url');

function signature(alg: TokenAlg, data: Buffer, key: KeyObject): Buffer {
  switch (alg) {
    case 'RS256':
      return sign('sha256', data, { key, padding: constants.RSA_PKCS1_PADDING });
    case 'PS256':
      return sign('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    case 'ES256':
      return sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
  }
}

/** A compact JWS over the JSON of `payload`; the header's `alg` is set from `alg`. */
export function signCompactJws(alg: TokenAlg, header: Readonly<Record<string, unknown>>, payload: unknown, key: KeyObject): string {
  const input = `${b64u(JSON.stringify({ alg, ...header }))}.${b64u(JSON.stringify(payload))}`;
  return `${input}.${signature(alg, Buffer.from(input, 'latin1'), key).toString('base64url')}`;
}
