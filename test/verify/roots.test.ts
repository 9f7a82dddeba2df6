// The embedded AMD roots (src/platform/snp/amd-roots.ts) are AMD's: the same bytes as the KDS chains in
// test/fixtures/amd, each ARK self-signed and matching its published fingerprints, and each embedded
// ASK/ASVK signed by its ARK, checked here with Node's X509Certificate (independent of our DER reader).
// The verifier relies on this test instead of re-verifying the compiled-in ASK at every start-up.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { AMD_CERTIFICATES, PINNED_ARK_SPKI_SHA256 } from '../../src/platform/snp/amd-roots.js';
import { fixture } from '../helpers/fixtures.js';

const ARK_DER_SHA256 = {
  Milan: '69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd',
  Genoa: '4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1',
  Turin: '1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a',
} as const;

const certs = (pem: string): X509Certificate[] =>
  pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!.map((p) => new X509Certificate(p));

describe('embedded AMD roots', () => {
  for (const product of ['Milan', 'Genoa', 'Turin'] as const) {
    it(`${product}: embedded chains equal the KDS files; ARK pinned; ASK and ASVK signed by it`, () => {
      const lower = product.toLowerCase();
      const same = (a: string, b: string) =>
        assert.deepEqual(
          certs(a).map((c) => c.raw.toString('hex')),
          certs(b).map((c) => c.raw.toString('hex')),
        );
      const embedded = AMD_CERTIFICATES[product];
      // One certificate per PEM; the KDS files are ASK then ARK and ASVK then ARK.
      for (const pem of Object.values(embedded)) assert.equal(certs(pem).length, 1);
      same(embedded.ask + embedded.ark, fixture(`amd/ask_ark_${lower}.pem`).toString());
      same(embedded.asvk + embedded.ark, fixture(`amd/ask_ark_${lower}_vlek.pem`).toString());
      // The PEM text too, but for line ends (the Turin files as served use CRLF and end with a blank line).
      const lf = (f: string) => fixture(f).toString().replace(/\r\n/g, '\n').replace(/\n+$/, '\n');
      assert.equal(embedded.ask + embedded.ark, lf(`amd/ask_ark_${lower}.pem`));
      assert.equal(embedded.asvk + embedded.ark, lf(`amd/ask_ark_${lower}_vlek.pem`));
      const [ark, ask, asvk] = [embedded.ark, embedded.ask, embedded.asvk].map((p) => certs(p)[0]);
      assert.equal(createHash('sha256').update(ark!.raw).digest('hex'), ARK_DER_SHA256[product]);
      assert.equal(
        createHash('sha256')
          .update(ark!.publicKey.export({ type: 'spki', format: 'der' }))
          .digest('hex'),
        PINNED_ARK_SPKI_SHA256[product],
      );
      assert.ok(ark!.verify(ark!.publicKey), 'ARK self-signature');
      assert.ok(ask!.verify(ark!.publicKey), 'ASK signed by ARK');
      assert.ok(asvk!.verify(ark!.publicKey), 'ASVK signed by ARK');
      assert.match(ask!.subject, new RegExp(`CN=SEV-${product}`));
      assert.match(asvk!.subject, new RegExp(`CN=SEV-VLEK-${product}`));
    });
  }
});
