// Intel TDX verification speed (issue 10, "Figures"): in-process full verification with certificates
// and collateral already verified and cached, against the two ECDSA P-256 verifies that remain (quote
// signature, QE report signature) plus the SHA-256s over the quote, measured in the same run; the
// first verification of a quote with every certificate, CRL and collateral signature checked; and the
// whole `verify` process of a TDX HCL report against the machine's own `node -e ''`.
import { floor } from './_floors.mjs';
import { median, ms, pairedMedians } from './_timing.mjs';
import { readFileSync, existsSync, mkdtempSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { createHash, createPublicKey, verify } from 'node:crypto';

const root = join(fileURLToPath(import.meta.url), '../../..');
const fx = (p) => readFileSync(join(root, 'test/fixtures', p));
// The built code (`npm run bench` builds first): what the product runs.
const { verifyEvidenceSync } = await import(join(root, 'dist/verify/verify-evidence.js'));
const { parseTdQuote } = await import(join(root, 'dist/platform/tdx/quote.js'));
const { parseTdxHclReport } = await import(join(root, 'dist/platform/tdx/hcl.js'));

const NAMES = ['tcb_signing_cert.pem', 'tcbinfov3_00806f050000.json', 'qeidentityv2_apiv4.json', 'pck_platform_crl.der', 'intel_root_ca_crl.der'];
const collateral = NAMES.map((n) => ({ name: n, bytes: fx(`intel/${n}`) }));
const evidence = fx('azure-tdx/hcl-report.bin');
const tdQuote = fx('azure-tdx/td-quote.bin');
const now = new Date('2025-03-01T00:00:00Z');

// What must be done again for every quote: two P-256 verifies and the SHA-256s (QE REPORTDATA, the
// quote's digest in the result, runtime data). The HCL report's own digest is left on the measured side.
const q = parseTdQuote(tdQuote);
const hcl = parseTdxHclReport(evidence);
const att = createPublicKey({
  key: {
    kty: 'EC',
    crv: 'P-256',
    x: Buffer.from(q.attestationKey.subarray(0, 32)).toString('base64url'),
    y: Buffer.from(q.attestationKey.subarray(32)).toString('base64url'),
  },
  format: 'jwk',
});
const pck = createPublicKey(q.pckChainPem[0]);
const remaining = () => {
  verify('sha256', q.signedBytes, { key: att, dsaEncoding: 'ieee-p1363' }, q.signature);
  verify('sha256', q.qeReport.bytes, { key: pck, dsaEncoding: 'ieee-p1363' }, q.qeReportSignature);
  createHash('sha256').update(q.attestationKey).update(q.qeAuthData).digest();
  createHash('sha256').update(tdQuote).digest('hex');
  createHash('sha256').update(hcl.runtimeData.raw).digest();
};

const opts = { evidence, tdQuote, collateral, now };
const probe = verifyEvidenceSync(opts);
if (probe.verdict !== 'pass') throw new Error(`the TDX vector does not pass: ${probe.checks.filter((c) => c.status === 'fail').map((c) => c.id)}`);
// Alternated call by call, so the ratio does not depend on what the machine's neighbours do meanwhile.
const [base, cached] = pairedMedians(remaining, () => verifyEvidenceSync(opts));
const first = median(() => verifyEvidenceSync({ ...opts, cache: false }), { warmup: 20, runs: 200 });

console.log('in-process (median, real DCesv5 TD quote + Intel collateral):');
console.log(`  2 x ECDSA P-256 verify + SHA-256s (floor)    ${ms(base)}`);
console.log(
  `  full TDX verification, cached certs/collat.  ${ms(cached)}   ratio ${(cached / base).toFixed(2)}x ${floor('TDX cached verification / 2 P-256 verifies + SHA-256s', Number((cached / base).toFixed(2)), 1.5, 'x')}`,
);
console.log(`  first verification, every signature checked ${ms(first)}   ${floor('TDX first verification', first, 5)}`);

const bin = join(root, 'bin/cvm-attest.js');
if (!existsSync(join(root, 'dist/bundle/verify.cjs'))) {
  console.log('process: dist/bundle/verify.cjs missing (run `npm run build`); skipped');
} else {
  const dir = mkdtempSync(join(tmpdir(), 'cvm-attest-bench-tdx-'));
  for (const n of NAMES) copyFileSync(join(root, 'test/fixtures/intel', n), join(dir, n));
  const args = [
    bin,
    'verify',
    '--evidence',
    join(root, 'test/fixtures/azure-tdx/hcl-report.bin'),
    '--td-quote',
    join(root, 'test/fixtures/azure-tdx/td-quote.bin'),
    '--collateral',
    dir,
    '--now',
    '2025-03-01T00:00:00Z',
    '--format',
    'json',
  ];
  const p = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (p.status !== 0) console.log(`process: verify exited ${p.status}: ${p.stderr.trim().split('\n')[0]}`);
  const time = (argv) => {
    const t0 = process.hrtime.bigint();
    spawnSync(process.execPath, argv, { stdio: 'ignore' });
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  for (let i = 0; i < 3; i++) {
    time(['-e', '']);
    time(args);
  }
  const base = [],
    cli = [];
  for (let i = 0; i < 15; i++) {
    base.push(time(['-e', '']));
    cli.push(time(args));
  }
  const med = (a) => a.sort((x, y) => x - y)[a.length >> 1];
  const b = med(base),
    c = med(cli);
  console.log('process (median of 15, spawn to exit):');
  console.log(`  node -e ''                                   ${ms(b)}`);
  console.log(
    `  cvm-attest verify (TDX HCL report)           ${ms(c)}   ratio ${(c / b).toFixed(2)}x ${floor('TDX verify process / node -e', Number((c / b).toFixed(2)), 1.3, 'x')}`,
  );
  rmSync(dir, { recursive: true, force: true });
}
