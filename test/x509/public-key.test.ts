// importSpki (src/x509/public-key.ts) imports RSA keys and P-256 points as JWKs, the fast path, and
// everything else through OpenSSL's DER decoder. It must give exactly the key the DER decoder gives,
// for every real certificate in the fixtures, and refuse what the DER decoder refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { importP256, importSpki, spkiJwk } from '../../src/x509/public-key.js';
import { parseCertificate } from '../../src/x509/certificate.js';
import { readPem } from '../../src/x509/pem.js';
import { FIXTURES } from '../verify/fixtures.js';

function fixtureCertificates(): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith('.pem')) {
        let blocks;
        try {
          blocks = readPem(readFileSync(p, 'utf8'), { what: n, code: 'E_CERT' }).blocks;
        } catch {
          continue; // negative vectors: not ours to read here
        }
        for (const b of blocks) if (b.label === 'CERTIFICATE') out.push([p.slice(FIXTURES.length + 1), b.der]);
      }
    }
  };
  walk(FIXTURES);
  return out;
}

test('every fixture certificate key imports to exactly the key the DER decoder gives', () => {
  const certs = fixtureCertificates();
  assert.ok(certs.length >= 20, `${certs.length} certificates`);
  const kinds = new Set<string>();
  for (const [file, der] of certs) {
    let c;
    try {
      c = parseCertificate(der);
    } catch {
      continue;
    }
    const viaDer = createPublicKey({ key: Buffer.from(c.spki), format: 'der', type: 'spki' });
    const ours = importSpki(c.spki);
    assert.ok(ours.equals(viaDer), file);
    assert.deepEqual(ours.export({ format: 'der', type: 'spki' }), viaDer.export({ format: 'der', type: 'spki' }), file);
    kinds.add(
      `${viaDer.asymmetricKeyType}${viaDer.asymmetricKeyDetails?.namedCurve ? ` ${viaDer.asymmetricKeyDetails.namedCurve}` : ''} ${spkiJwk(c.spki) ? 'jwk' : 'der'}`,
    );
  }
  // Both fast paths and the DER path are exercised by real certificates (AMD RSA, Intel P-256, VCEK P-384).
  for (const k of ['rsa jwk', 'ec prime256v1 jwk', 'ec secp384r1 der']) assert.ok(kinds.has(k), `${k} in ${[...kinds].join(', ')}`);
});

test('a P-256 point not on the curve, or of the wrong length, is refused', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const xy = Buffer.concat([Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  const k = importP256(xy);
  const sig = sign('sha256', Buffer.from('m'), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  assert.ok(verify('sha256', Buffer.from('m'), { key: k, dsaEncoding: 'ieee-p1363' }, sig));
  const off = Buffer.from(xy);
  off[63]! ^= 1;
  assert.throws(() => importP256(off));
  assert.throws(() => importP256(Buffer.alloc(64)));
  assert.throws(() => importP256(xy.subarray(0, 63)), RangeError);
  // The same point inside an SPKI, altered: the DER decoder's refusal is kept.
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const bad = Buffer.from(spki);
  bad[bad.length - 1]! ^= 1;
  assert.throws(() => importSpki(bad));
  assert.throws(() => createPublicKey({ key: bad, format: 'der', type: 'spki' }));
});

test('SPKIs outside the two exact shapes go to the DER decoder (same key, or the same refusal)', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'der', type: 'spki' });
  assert.ok(spkiJwk(rsa));
  // Trailing bytes after the SPKI, a truncated one, non-NULL RSA parameters: no JWK.
  assert.equal(spkiJwk(Buffer.concat([rsa, Buffer.from([0])])), undefined);
  assert.equal(spkiJwk(rsa.subarray(0, rsa.length - 1)), undefined);
  const params = Buffer.from(rsa);
  const nullAt = params.indexOf(Buffer.from([0x05, 0x00]));
  params[nullAt] = 0x04; // NULL -> empty OCTET STRING
  assert.equal(spkiJwk(params), undefined);
  let der: ReturnType<typeof createPublicKey> | undefined;
  try {
    der = createPublicKey({ key: params, format: 'der', type: 'spki' });
  } catch {
    der = undefined;
  }
  if (der) assert.ok(importSpki(params).equals(der));
  else assert.throws(() => importSpki(params));
  for (const [t, o] of [
    ['ec', { namedCurve: 'P-384' }],
    ['ec', { namedCurve: 'P-521' }],
    ['ed25519', {}],
    ['rsa-pss', { modulusLength: 2048 }],
  ] as const) {
    const k = generateKeyPairSync(t as 'ec', o as { namedCurve: string }).publicKey;
    const der = k.export({ format: 'der', type: 'spki' });
    assert.equal(spkiJwk(der), undefined, t);
    assert.ok(importSpki(der).equals(k), t);
  }
});
