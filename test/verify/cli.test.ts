// The `verify` command end to end (spawned through tsx): exit 0 pass, 1 evaluated and failed, 2 unusable
// input or usage with one line on stderr naming the file and never a stack trace.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cvmAttest, type Run } from '../helpers/cli.js';
import { fixturePath as F } from '../helpers/fixtures.js';

const cli = (...args: string[]): Promise<Run> => cvmAttest(['verify', ...args], { source: true });

function oneCleanLine(stderr: string, ...mustMention: string[]): void {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0]!, /^cvm-attest: .+ \[E_[A-Z_]+\]$/);
  assert.doesNotMatch(stderr, /\n\s+at /);
  for (const m of mustMention) assert.ok(stderr.includes(m), `stderr should mention ${m}: ${stderr}`);
}

describe('cvm-attest verify', () => {
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'cvm-verify-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const hcl = 'azure-hcl/milan-v3-a';

  it('a genuine HCL report with its quote: exit 0 and a passing checklist', async () => {
    const r = await cli(
      '--evidence',
      F(`${hcl}/hcl-report.bin`),
      '--vcek',
      F(`${hcl}/vcek.pem`),
      '--quote-msg',
      F(`${hcl}/quote.msg`),
      '--quote-sig',
      F(`${hcl}/quote.sig`),
      '--nonce',
      '6368616c6c656e6765',
      '--pcrs',
      F(`${hcl}/pcrs.json`),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Verdict: PASS {3}Milan, HCL report v1, SNP report v3/);
    for (const id of ['structure', 'signature', 'chain', 'tcb', 'chip-id', 'runtime-data', 'freshness'])
      assert.match(r.stdout, new RegExp(`\\[pass\\] ${id} `));
    assert.match(r.stdout, /ARK +ARK-Milan .*\(pinned AMD root\)/);
  });

  it('the foreign-VCEK report: exit 1, the failed checks and what to do', async () => {
    const r = await cli('--evidence', F('negative/hcl-report-foreign-vcek.bin'), '--vcek', F('negative/hcl-report-foreign-vcek-chain.pem'));
    assert.equal(r.code, 1);
    assert.match(r.stdout, /\[FAIL\] signature/);
    assert.match(r.stdout, /\[FAIL\] chip-id/);
    assert.match(r.stdout, /What to do \(2 failed\):/);
    assert.equal(r.stderr, '');
  });

  it('--format json prints the result object; same result through the yargs path', async () => {
    const args = ['--evidence', F('snp/milan-v2-report.hex'), '--vcek', F('snp/milan-v2-vcek.der'), '--format', 'json', '--now', '2026-11-28T12:00:00Z'];
    const fast = await cli(...args);
    assert.equal(fast.code, 0, fast.stderr);
    const j = JSON.parse(fast.stdout) as { verdict: string; product: string; claims: Record<string, unknown>; verifiedAt: string };
    assert.equal(j.verdict, 'pass');
    assert.equal(j.product, 'Milan');
    assert.equal(j.claims['x-ms-attestation-type'], 'sevsnpvm');
    assert.equal(j.verifiedAt, '2026-11-28T12:00:00.000Z');
    const slow = await cli(...args, '--no-replayed'); // a negated flag goes through yargs
    assert.equal(slow.code, 0);
    assert.equal(slow.stdout, fast.stdout);
  });

  it('--now and --policy: the expired VLEK vector passes within its validity under a VLEK/VMPL 1 policy', async () => {
    const policy = join(tmp, 'vlek.json');
    writeFileSync(policy, JSON.stringify({ allowVlek: true, maxVmpl: 1 }));
    const args = ['--evidence', F('negative/vmpl1-vlek-report.bin'), '--vcek', F('negative/vmpl1-vlek.der'), '--policy', policy];
    assert.equal((await cli(...args, '--now', '2025-06-01T00:00:00Z')).code, 0);
    const expired = await cli(...args);
    assert.equal(expired.code, 1);
    assert.match(expired.stdout, /\[FAIL\] chain .*VLEK expired/);
  });

  it('unusable input: exit 2 with one line naming the file', async () => {
    const missing = await cli('--evidence', join(tmp, 'nope.bin'), '--vcek', F(`${hcl}/vcek.pem`));
    assert.equal(missing.code, 2);
    oneCleanLine(missing.stderr, 'nope.bin', 'ENOENT');
    const badEvidence = await cli('--evidence', F('amd/crl_milan.pem'), '--vcek', F(`${hcl}/vcek.pem`));
    assert.equal(badEvidence.code, 2);
    oneCleanLine(badEvidence.stderr, 'crl_milan.pem', 'evidence');
    const badVcek = await cli('--evidence', F(`${hcl}/hcl-report.bin`), '--vcek', F(`${hcl}/quote.msg`));
    assert.equal(badVcek.code, 2);
    oneCleanLine(badVcek.stderr, 'quote.msg', 'VCEK');
    const badCrl = await cli('--evidence', F(`${hcl}/hcl-report.bin`), '--vcek', F(`${hcl}/vcek.pem`), '--crl', F(`${hcl}/vcek.pem`));
    assert.equal(badCrl.code, 2);
    oneCleanLine(badCrl.stderr, 'vcek.pem', 'CRL');
    const policy = join(tmp, 'typo.json');
    writeFileSync(policy, JSON.stringify({ allowDebg: true }));
    const badPolicy = await cli('--evidence', F(`${hcl}/hcl-report.bin`), '--vcek', F(`${hcl}/vcek.pem`), '--policy', policy);
    assert.equal(badPolicy.code, 2);
    oneCleanLine(badPolicy.stderr, 'typo.json', 'allowDebg');
  });

  it('a 20 MB file or a directory is refused with one line', async () => {
    const big = join(tmp, 'big.bin');
    writeFileSync(big, new Uint8Array(20 * 1024 * 1024));
    const r = await cli('--evidence', big, '--vcek', F(`${hcl}/vcek.pem`));
    assert.equal(r.code, 2);
    oneCleanLine(r.stderr, 'big.bin', 'too large');
    const d = await cli('--evidence', tmp, '--vcek', F(`${hcl}/vcek.pem`));
    assert.equal(d.code, 2);
    oneCleanLine(d.stderr, 'is a directory');
  });

  it('usage errors: exit 2 with one line', async () => {
    for (const args of [
      ['--vcek', F(`${hcl}/vcek.pem`)],
      ['--evidence', F(`${hcl}/hcl-report.bin`), '--quote-msg', F(`${hcl}/quote.msg`)],
      ['--evidence', F(`${hcl}/hcl-report.bin`), '--now', 'yesterday'],
      ['--evidence', F(`${hcl}/hcl-report.bin`), '--unknown-flag', 'x'],
      ['--evidence', F(`${hcl}/hcl-report.bin`), '--quote-msg', F(`${hcl}/quote.msg`), '--quote-sig', F(`${hcl}/quote.sig`), '--nonce', 'zz'],
    ]) {
      const r = await cli(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      assert.match(r.stderr, /^cvm-attest: /);
    }
  });
});
