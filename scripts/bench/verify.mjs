// Verifier speed (issue 2, "Speed"): in-process full verification with a fresh and a cached VCEK, the
// crypto primitives it cannot avoid, certificate parsing, and the whole `verify` process against the
// machine's own `node -e ''`. Run by `npm run bench` (after a build) via `node --import tsx`.
import { floor } from './_floors.mjs';
import { median, medianAsync, ms, pairedMediansAsync } from './_timing.mjs';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { constants, verify, X509Certificate } from 'node:crypto';

const root = join(fileURLToPath(import.meta.url), '../../..');
const fx = (p) => readFileSync(join(root, 'test/fixtures', p));
// The built code (`npm run bench` builds first): what the product runs.
const { verifyEvidence, verifyEvidenceSync, parseEvidence, parseCertificate, parseCertificateBundle } = await import(join(root, 'dist/index.js'));

const dir = 'azure-hcl/milan-v3-a';
const evidence = fx(`${dir}/hcl-report.bin`);
const vcekPem = fx(`${dir}/vcek.pem`);
const quote = { message: fx(`${dir}/quote.msg`), signature: fx(`${dir}/quote.sig`), nonce: Buffer.from('challenge'), pcrs: JSON.parse(fx(`${dir}/pcrs.json`)) };
const now = new Date('2026-11-28T12:00:00Z');

// Primitives.
const bundle = parseCertificateBundle(vcekPem);
const vcekDer = bundle.vcek.der;
const report = parseEvidence(evidence).report;
const sig = Buffer.concat([report.signature.r, report.signature.s]);
const vcekKey = new X509Certificate(vcekDer).publicKey;
const ecdsaOnce = () => verify('sha384', report.bytes.subarray(0, 0x2a0), { key: vcekKey, dsaEncoding: 'ieee-p1363' }, sig);
const askPem = fx('amd/ask_ark_milan.pem').toString();
const askX = new X509Certificate(askPem);
const arkKey = new X509Certificate(askPem.slice(askPem.indexOf('-----END CERTIFICATE-----') + 26)).publicKey;
const askParsed = parseCertificate(new Uint8Array(askX.raw));
const rsaPss = median(() => verify('sha384', askParsed.tbs, { key: arkKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }, askParsed.signature));
const x509Parse = median(() => new X509Certificate(vcekDer));
const ownParse = median(() => parseCertificate(vcekDer));

// Full verification (roots prepared once per process by the first call).
verifyEvidenceSync({ evidence, vcek: vcekPem, now });
const fresh = await medianAsync(() => verifyEvidence({ evidence, vcek: vcekPem, now, cache: false }));
// The ratio's two sides alternate call by call, so both see the same machine.
const [ecdsa, cached] = await pairedMediansAsync(ecdsaOnce, () => verifyEvidence({ evidence, vcek: vcekPem, now }));
const freshSync = median(() => verifyEvidenceSync({ evidence, vcek: vcekPem, now, cache: false }));
const withQuote = await medianAsync(() => verifyEvidence({ evidence, vcek: vcekPem, now, quote }));

console.log('in-process (median, milan-v3-a HCL report):');
console.log(`  ECDSA P-384 report signature verify     ${ms(ecdsa)}`);
console.log(`  RSA-4096 PSS certificate signature      ${ms(rsaPss)}`);
console.log(`  certificate parse: node X509Certificate ${ms(x509Parse)}, our DER reader ${ms(ownParse)}`);
console.log(`  full verification, VCEK fresh           ${ms(fresh)}   ${floor('full verification, VCEK fresh', fresh, 1.0)}`);
console.log(
  `  full verification, VCEK cached          ${ms(cached)}   ${floor('full verification, VCEK cached', cached, 0.72)} ${floor('cached verification / ECDSA', Number((cached / ecdsa).toFixed(2)), 1.15, 'x')} (${(cached / ecdsa).toFixed(2)}x ECDSA)`,
);
console.log(`  full verification + quote, cached       ${ms(withQuote)}`);
console.log(`  verifyEvidenceSync, VCEK fresh          ${ms(freshSync)}   (createPublicKey instead of WebCrypto raw import)`);

// Whole process.
const bin = join(root, 'bin/cvm-attest.js');
if (!existsSync(join(root, 'dist/bundle/cli.mjs'))) {
  console.log('process: dist/bundle/cli.mjs missing (run `node scripts/build.mjs --no-tsc`); skipped');
} else {
  const args = [
    bin,
    'verify',
    '--evidence',
    join(root, 'test/fixtures', dir, 'hcl-report.bin'),
    '--vcek',
    join(root, 'test/fixtures', dir, 'vcek.pem'),
    '--format',
    'json',
  ];
  const probe = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (probe.status !== 0) console.log(`process: verify exited ${probe.status}: ${probe.stderr.trim().split('\n')[0]}`);
  const time = (argv, n) => {
    const t = [];
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      spawnSync(process.execPath, argv, { stdio: 'ignore' });
      t.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    t.sort((a, b) => a - b);
    return t[n >> 1];
  };
  time(['-e', ''], 3);
  time(args, 3);
  // Interleave to share the machine's noise.
  const base = [],
    cli = [];
  for (let i = 0; i < 15; i++) {
    base.push(time(['-e', ''], 1));
    cli.push(time(args, 1));
  }
  const med = (a) => a.sort((x, y) => x - y)[a.length >> 1];
  const b = med(base),
    c = med(cli);
  console.log('process (median of 15, spawn to exit):');
  console.log(`  node -e ''                              ${ms(b)}`);
  console.log(
    `  cvm-attest verify (bundle)              ${ms(c)}   ratio ${(c / b).toFixed(2)}x ${floor('verify process / node -e', Number((c / b).toFixed(2)), 1.25, 'x')}`,
  );
}
