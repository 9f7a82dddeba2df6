// The `x5c` of each published JWKS key: a self-signed certificate for the signing key, as MAA's /certs
// carries, so relying parties that pin or inspect certificates can. Made with @peculiar/x509, which
// is loaded only by `serve` (it needs a Reflect polyfill and costs start-up time).
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { SigningKey } from './keys.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** DER certificate, base64 (the x5c encoding), valid from one hour ago for ten years. */
export async function selfSignedCertificate(key: SigningKey, now: Date = new Date()): Promise<string> {
  const ec = key.alg === 'ES256';
  const alg = ec ? { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const privateKey = await webcrypto.subtle.importKey('pkcs8', key.privateKey.export({ format: 'der', type: 'pkcs8' }), alg, false, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('spki', key.publicKey.export({ format: 'der', type: 'spki' }), alg, true, ['verify']);
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - 3600_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    // Positive serial from the kid: the same key gets the same serial on every replica.
    serialNumber: '01' + Buffer.from(key.kid, 'base64url').subarray(0, 15).toString('hex'),
    name: `CN=cvm-attest token signing ${key.kid.slice(0, 16)}`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + 10 * 365 * 86400_000),
    signingAlgorithm: ec ? { name: 'ECDSA', hash: 'SHA-256' } : alg,
    keys: { privateKey, publicKey },
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  return Buffer.from(cert.rawData).toString('base64');
}
