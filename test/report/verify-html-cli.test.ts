// `cvm-attest verify --format html [--out FILE]` as a user runs it: the real CLI in a child process on real
// vectors. Exit codes, where the report goes, and clean usage/write errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cvmAttest, type Run } from '../helpers/cli.js';
import { fixturePath as fx } from '../helpers/fixtures.js';

const GENOA = ['--evidence', fx('azure-hcl/genoa/hcl-report.bin'), '--vcek', fx('azure-hcl/genoa/vcek.pem'), '--now', '2026-11-28T12:00:00Z'];
const DEBUG = ['--evidence', fx('negative/debug-enabled-report.bin'), '--vcek', fx('negative/debug-enabled-vcek.der'), '--now', '2026-11-28T12:00:00Z'];

const cli = (args: string[]): Promise<Run> => cvmAttest(['verify', ...args], { source: true });

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cvm-attest-html-cli-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('verify --format html: file with --out, stdout without, exit codes of the verdict, clean errors', async () => {
  const out = join(dir, 'report.html');
  const missing = join(dir, 'no-such-dir', 'r.html');
  const [pass, fail, usage, unwritable] = await Promise.all([
    cli([...GENOA, '--format', 'html', '--out', out]),
    cli([...DEBUG, '--format', 'html']),
    cli([...GENOA, '--out', join(dir, 'text.html')]),
    cli([...GENOA, '--format', 'html', '--out', missing]),
  ]);

  // Pass: exit 0, nothing on stdout, the report in the file (complete, 0644, no temp file left).
  assert.equal(pass.code, 0, pass.stderr);
  assert.equal(pass.stdout, '');
  const html = readFileSync(out, 'utf8');
  assert.ok(html.startsWith('<!DOCTYPE html>') && html.trimEnd().endsWith('</html>'));
  assert.ok(html.includes('<div class="verdict-word">PASS</div>'));
  assert.ok(html.includes('2026-11-28 12:00:00 UTC'), '--now is the evaluation time shown');
  assert.equal(statSync(out).mode & 0o777, 0o644);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
  );

  // Fail: exit 1, the report on stdout naming the failing policy check.
  assert.equal(fail.code, 1, fail.stderr);
  assert.ok(fail.stdout.startsWith('<!DOCTYPE html>'));
  assert.ok(fail.stdout.includes('<div class="verdict-word">FAIL</div>'));
  assert.ok(/<section class="failures"[\s\S]*policy\.debug[\s\S]*<\/section>/.test(fail.stdout), 'policy.debug in the failures section');

  // --out without --format html: usage error, one line, nothing written.
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^cvm-attest: --out is for --format html.*\[E_USAGE\]\n$/);
  assert.equal(existsSync(join(dir, 'text.html')), false);

  // An unwritable --out: one line naming the file, exit 2, no stack trace.
  assert.equal(unwritable.code, 2);
  assert.equal(unwritable.stderr.split('\n').filter(Boolean).length, 1, unwritable.stderr);
  assert.ok(unwritable.stderr.includes(missing) && unwritable.stderr.includes('[E_OUT]'), unwritable.stderr);
});
