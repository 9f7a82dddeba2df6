// The service signs its tokens itself (src/service/jws.ts, node:crypto in the worker); a relying party
// verifies them with a standard library. Here that library is panva/jose, for each algorithm: it must
// accept our tokens, and refuse one with a changed payload, header or signature, or the wrong key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { compactVerify, decodeProtectedHeader, jwtVerify } from 'jose';
import { signCompactJws } from '../../src/service/jws.js';
import type { TokenAlg } from '../../src/service/keys.js';

const keys: Record<TokenAlg, () => { privateKey: KeyObject; publicKey: KeyObject }> = {
  RS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
  PS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
  ES256: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }),
};

for (const alg of ['RS256', 'PS256', 'ES256'] as const) {
  test(`${alg}: jose verifies our compact JWS, and refuses it altered or under another key`, async () => {
    const { privateKey, publicKey } = keys[alg]();
    const now = Math.floor(Date.now() / 1000);
    const payload = { iss: 'https://v.example', iat: now, exp: now + 60, 'x-ms-attestation-type': 'sevsnpvm', note: 'ünïcödé €' };
    const token = signCompactJws(alg, { kid: 'k1', jku: 'https://v.example/certs', typ: 'JWT' }, payload, privateKey);
    assert.deepEqual(decodeProtectedHeader(token), { alg, kid: 'k1', jku: 'https://v.example/certs', typ: 'JWT' });
    const { payload: got } = await jwtVerify(token, publicKey, { issuer: 'https://v.example', algorithms: [alg] });
    assert.deepEqual(got, payload);

    const [h, p, s] = token.split('.') as [string, string, string];
    const otherPayload = Buffer.from(JSON.stringify({ ...payload, 'x-ms-attestation-type': 'tdxvm' })).toString('base64url');
    await assert.rejects(compactVerify(`${h}.${otherPayload}.${s}`, publicKey), /signature verification failed/);
    const otherHeader = Buffer.from(JSON.stringify({ alg, kid: 'k2', typ: 'JWT' })).toString('base64url');
    await assert.rejects(compactVerify(`${otherHeader}.${p}.${s}`, publicKey), /signature verification failed/);
    const sig = Buffer.from(s, 'base64url');
    sig[sig.length >> 1]! ^= 1;
    await assert.rejects(compactVerify(`${h}.${p}.${sig.toString('base64url')}`, publicKey), /signature verification failed/);
    await assert.rejects(compactVerify(token, keys[alg]().publicKey), /signature verification failed/);
    // Another algorithm than the header's is not accepted by a relying party that pins its own.
    await assert.rejects(jwtVerify(token, publicKey, { algorithms: [alg === 'ES256' ? 'RS256' : 'ES256'] }));
  });
}
