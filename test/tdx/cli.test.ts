// `cvm-attest verify` on an Intel TDX HCL report, through yargs (src/cli/main.ts) and through the fast
// path bin/cvm-attest.js uses (fastVerify): --td-quote, --collateral FILE|DIR (repeatable), exit codes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cvmAttest, ROOT, runNode, type Run } from '../helpers/cli.js';
import { fixturePath as F } from '../helpers/fixtures.js';
import { COLLATERAL_NAMES } from './helpers.js';

const run = (fast: boolean, args: string[]): Promise<Run> =>
  fast
    ? runNode([
        '--import',
        'tsx',
        '-e',
        `import(${JSON.stringify(join(ROOT, 'src/cli/commands/verify.ts'))}).then(async (m) => { const c = await m.fastVerify(${JSON.stringify(args)}); process.exitCode = c === undefined ? 99 : c; })`,
      ])
    : cvmAttest(['verify', ...args], { source: true });

function oneCleanLine(stderr: string, ...mustMention: string[]): void {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0]!, /^cvm-attest: .+ \[E_[A-Z_]+\]$/);
  for (const m of mustMention) assert.ok(stderr.includes(m), `stderr should mention ${m}: ${stderr}`);
}

describe('cvm-attest verify (Intel TDX)', () => {
  let tmp: string;
  let dir: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'cvm-tdx-'));
    dir = join(tmp, 'collateral');
    mkdirSync(dir);
    for (const n of COLLATERAL_NAMES) copyFileSync(F(`intel/${n}`), join(dir, n));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const base = ['--evidence', F('azure-tdx/hcl-report.bin'), '--td-quote', F('azure-tdx/td-quote.bin')];
  const now = ['--now', '2025-03-01T00:00:00Z'];

  for (const fast of [false, true]) {
    const how = fast ? 'fast path' : 'yargs';
    it(`${how}: a collateral folder, inside the window: exit 0, TD measurements and TCB status shown`, async () => {
      const r = await run(fast, [...base, '--collateral', dir, ...now]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /^Verdict: PASS {3}Intel TDX/);
      assert.match(r.stdout, /TCB status {4}OutOfDate \(FMSPC 00806f050000/);
      assert.match(r.stdout, /MRTD {10}024a32b070383331/);
    });
    it(`${how}: repeated --collateral files, JSON output; collateral enforce at the real clock: exit 1`, async () => {
      const files = COLLATERAL_NAMES.flatMap((n) => ['--collateral', F(`intel/${n}`)]);
      const r = await run(fast, [...base, ...files, ...now, '--format', 'json']);
      assert.equal(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout) as { platform: string; claims: Record<string, unknown> };
      assert.equal(j.platform, 'TDX');
      assert.equal(j.claims.attester_tcb_status, 'OutOfDate');
      const pol = join(tmp, 'enforce.json');
      writeFileSync(pol, '{"collateral":"enforce"}');
      const e = await run(fast, [...base, '--collateral', dir, '--policy', pol, '--now', '2026-12-01T00:00:00Z']);
      assert.equal(e.code, 1, e.stderr);
      assert.match(e.stdout, /\[FAIL\] collateral.freshness +stale collateral/);
    });
    it(`${how}: without --td-quote, exit 2 and one line saying what to give`, async () => {
      const r = await run(fast, ['--evidence', F('azure-tdx/hcl-report.bin'), '--collateral', dir]);
      assert.equal(r.code, 2);
      oneCleanLine(r.stderr, '--td-quote', 'E_TDX_QUOTE_MISSING');
    });
  }

  it('a broken quote file, an unknown collateral file, a symlinked one: exit 2 naming the file', async () => {
    const bad = join(tmp, 'bad-quote.bin');
    writeFileSync(bad, Buffer.concat([Buffer.from([4, 0, 2, 0, 0x81, 0, 0, 0]), Buffer.alloc(100)]));
    const r = await run(true, ['--evidence', F('azure-tdx/hcl-report.bin'), '--td-quote', bad, '--collateral', dir]);
    assert.equal(r.code, 2);
    oneCleanLine(r.stderr, bad, 'E_TDX_QUOTE');
    const junk = join(tmp, 'junk.txt');
    writeFileSync(junk, 'not collateral');
    const j = await run(true, [...base, '--collateral', junk]);
    assert.equal(j.code, 2);
    oneCleanLine(j.stderr, junk, 'E_COLLATERAL');
    const link = join(tmp, 'link.json');
    symlinkSync(F('intel/tcbinfov3_00806f050000.json'), link);
    const l = await run(true, [...base, '--collateral', link]);
    assert.equal(l.code, 2);
    oneCleanLine(l.stderr, 'symbolic link');
  });

  it('base64url text and the IMDS JSON answer are accepted as the TD quote', async () => {
    const b64 = join(tmp, 'quote.b64');
    const raw = (await import('node:fs')).readFileSync(F('azure-tdx/td-quote.bin'));
    writeFileSync(b64, raw.toString('base64url'));
    const js = join(tmp, 'quote.json');
    writeFileSync(js, JSON.stringify({ quote: raw.toString('base64url') }));
    for (const q of [b64, js]) {
      const r = await run(true, ['--evidence', F('azure-tdx/hcl-report.bin'), '--td-quote', q, '--collateral', dir, ...now]);
      assert.equal(r.code, 0, r.stderr);
    }
  });
});
