// TDX check 5 on its own: a CRL of the PCK CA that lists the PCK's serial fails; one signed by another
// key fails; a stale one warns (fails under enforce) and its revocations still apply. A CA and CRL of
// our own stand in for Intel's (whose keys we do not have); the logic is the same code path.
import 'reflect-metadata';
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { parseCertificate, type Certificate } from '../../src/x509/certificate.js';
import { parseCrl } from '../../src/x509/crl.js';
import { CertStore } from '../../src/x509/cert-store.js';
import { checkTdxCrls } from '../../src/platform/tdx/crls.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const gen = () => webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
const CA = 'CN=Intel SGX PCK Platform CA, O=Test';

describe('TDX CRL check', () => {
  let ca: Certificate;
  let pck: Certificate;
  let caKeys: webcrypto.CryptoKeyPair;
  const crl = async (serials: string[], next: Date, key = caKeys.privateKey) =>
    parseCrl(
      new Uint8Array(
        (
          await x509.X509CrlGenerator.create({
            issuer: CA,
            thisUpdate: new Date('2025-01-01T00:00:00Z'),
            nextUpdate: next,
            signingAlgorithm: alg,
            signingKey: key,
            entries: serials.map((s) => ({ serialNumber: s, revocationDate: new Date('2025-01-02T00:00:00Z') })),
          })
        ).rawData,
      ),
    );
  before(async () => {
    caKeys = await gen();
    const pk = await gen();
    const when = { notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2030-01-01T00:00:00Z') };
    ca = parseCertificate(
      new Uint8Array(
        (await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '0a', name: CA, keys: caKeys, signingAlgorithm: alg, ...when })).rawData,
      ),
    );
    pck = parseCertificate(
      new Uint8Array(
        (
          await x509.X509CertificateGenerator.create({
            serialNumber: '0b1c',
            subject: 'CN=Intel SGX PCK Certificate, O=Test',
            issuer: CA,
            publicKey: pk.publicKey,
            signingKey: caKeys.privateKey,
            signingAlgorithm: alg,
            ...when,
          })
        ).rawData,
      ),
    );
  });
  const now = new Date('2025-03-01T00:00:00Z');
  const check = (crls: Awaited<ReturnType<typeof crl>>[], enforce = false) =>
    checkTdxCrls(crls, pck, ca, undefined, new CertStore(false), now, enforce, false).check;

  it('a revoked PCK fails, even from a stale CRL', async () => {
    const c = check([await crl(['0b1c'], new Date('2025-06-01T00:00:00Z'))]);
    assert.equal(c.status, 'fail');
    assert.match(c.reason, /Intel SGX PCK Certificate \(serial 0xb1c\) is revoked/);
    assert.equal(check([await crl(['0B1C'], new Date('2025-02-01T00:00:00Z'))]).status, 'fail');
  });
  it('a CRL signed by another key fails; a current one that revokes others warns only for the missing root CRL', async () => {
    const other = await gen();
    assert.match(check([await crl([], new Date('2025-06-01T00:00:00Z'), other.privateKey)]).reason, /not signed by it/);
    const ok = check([await crl(['99'], new Date('2025-06-01T00:00:00Z'))]);
    assert.equal(ok.status, 'warn');
    assert.match(ok.reason, /no CRL of Intel SGX Root CA/);
    assert.equal(check([await crl(['99'], new Date('2025-06-01T00:00:00Z'))], true).status, 'fail');
  });
  it('a stale CRL that revokes nothing of ours warns, and fails under collateral enforce', async () => {
    const stale = await crl([], new Date('2025-02-01T00:00:00Z'));
    assert.match(check([stale]).reason, /CRL is stale/);
    assert.equal(check([stale], true).status, 'fail');
  });
});
