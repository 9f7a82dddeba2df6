// src/x509/pem.ts: the one PEM block reader (certificates, CRLs, THIM bodies, collateral, AK chains).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { ParseError } from '../../src/base/errors.js';
import { pemDer, pemDers, readPem } from '../../src/x509/pem.js';

const fx = (p: string): string => readFileSync(new URL(`../fixtures/${p}`, import.meta.url), 'utf8');
const o = { what: 'test PEM', code: 'E_CERT_INPUT' } as const;
const refused = (text: string, message: RegExp): void => {
  assert.throws(
    () => readPem(text, o),
    (e: unknown) => e instanceof ParseError && e.code === 'E_CERT_INPUT' && message.test(e.message),
  );
};

describe('readPem', () => {
  it('reads the blocks of real files, with their labels, DER and text', () => {
    const chain = readPem(fx('amd/ask_ark_milan.pem'), o);
    assert.equal(chain.blocks.length, 2);
    assert.equal(chain.outside, '');
    for (const b of chain.blocks) {
      assert.equal(b.label, 'CERTIFICATE');
      assert.equal(b.der[0], 0x30);
      assert.match(b.pem, /^-----BEGIN CERTIFICATE-----[\s\S]*-----END CERTIFICATE-----$/);
    }
    const crl = readPem(fx('amd/crl_milan.pem'), o);
    assert.deepEqual(
      crl.blocks.map((b) => b.label),
      ['X509 CRL'],
    );
  });

  it('keeps text outside the blocks apart and skips other labels in pemDers', () => {
    const cert = fx('snp/milan-v3-vcek.pem');
    const text = `subject=SEV-VCEK\n${cert}\n-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\ntrailer`;
    const r = readPem(text, o);
    assert.deepEqual(
      r.blocks.map((b) => b.label),
      ['CERTIFICATE', 'X509 CRL'],
    );
    assert.match(r.outside, /^subject=SEV-VCEK\s+trailer$/);
    assert.equal(pemDers(text, 'CERTIFICATE', o).length, 1);
  });

  it('refuses unterminated, mismatched and non-base64 blocks', () => {
    refused('-----BEGIN CERTIFICATE-----\nAAAA\n', /no END line/);
    refused('-----BEGIN CERTIFICATE-----\nAAAA\n-----END X509 CRL-----\n', /no END line/);
    refused('-----BEGIN CERTIFICATE-----\nAA*A\n-----END CERTIFICATE-----', /not valid base64/);
    refused('-----BEGIN CERTIFICATE-----\nA=AA\n-----END CERTIFICATE-----', /not valid base64/);
    refused('-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----', /not valid base64/);
    refused('-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----', /not valid base64/);
    refused('-----BEGIN certificate-----\nAAAA\n-----END certificate-----', /no valid label/);
    refused('-----BEGIN CERTIFICATE', /no valid label/);
  });

  it('bounds the number of blocks', () => {
    const block = '-----BEGIN A-----\nAAAA\n-----END A-----\n';
    assert.equal(readPem(block.repeat(3), { ...o, maxBlocks: 3 }).blocks.length, 3);
    assert.throws(() => readPem(block.repeat(4), { ...o, maxBlocks: 3 }), /more than 3 PEM blocks/);
  });

  it('round-trips any DER bytes, and never throws anything but its ParseError (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (b) => {
        const b64 = Buffer.from(b)
          .toString('base64')
          .replace(/.{1,64}/g, '$&\n');
        const r = readPem(`-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`, o);
        assert.deepEqual(r.blocks[0]!.der, b);
      }),
      { numRuns: 300 },
    );
    const piece = fc.oneof(fc.string(), fc.constantFrom('-----BEGIN ', '-----END ', 'CERTIFICATE', '-----', 'AAAA', '=', '\n', 'X509 CRL'));
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 12 }).map((a) => a.join('')),
        (t) => {
          try {
            readPem(t, { ...o, maxBlocks: 4 });
          } catch (e) {
            assert.ok(e instanceof ParseError && e.code === 'E_CERT_INPUT', String(e));
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('pemDer', () => {
  it("the DER of exactly one block with the label, else the caller's ParseError", () => {
    const cert = fx('snp/milan-v3-vcek.pem');
    assert.deepEqual(pemDer(cert, 'CERTIFICATE', o), readPem(cert, o).blocks[0]!.der);
    for (const bad of [cert + cert, 'x' + cert, fx('amd/crl_milan.pem'), '']) {
      assert.throws(
        () => pemDer(bad, 'CERTIFICATE', o),
        (e: unknown) => e instanceof ParseError && e.code === 'E_CERT_INPUT',
      );
    }
  });
});

describe('THIM bodies read by the one THIM parser', () => {
  it('a saved THIM body as a certificate input: its errors name the input once', async () => {
    const { parseCertificateBundle } = await import('../../src/input/certificates.js');
    const thim = JSON.parse(fx('azure-hcl/thim-response.json')) as Record<string, string>;
    assert.ok(parseCertificateBundle(JSON.stringify(thim), { name: 'f.json' }).vcek);
    const bad = JSON.stringify({ ...thim, vcekCert: 'junk\n' + thim['vcekCert'] });
    assert.throws(
      () => parseCertificateBundle(bad, { name: 'f.json' }),
      (e: unknown) => e instanceof ParseError && e.code === 'E_CERT_INPUT' && /^f\.json: THIM vcekCert: unexpected text outside/.test(e.message),
    );
    const cut = JSON.stringify({ ...thim, vcekCert: thim['vcekCert']!.slice(0, 200) });
    assert.throws(
      () => parseCertificateBundle(cut, { name: 'f.json' }),
      (e: unknown) =>
        e instanceof ParseError && e.code === 'E_CERT_INPUT' && /^f\.json: THIM vcekCert: the PEM CERTIFICATE block has no END line/.test(e.message),
    );
  });
});
