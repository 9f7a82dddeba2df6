// `node scripts/demo.mjs` options: --help prints usage (exit 0, no VM set up), a bad option is one line (exit 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '../../..');

test('demo --help / -h: usage naming every option, exit 0, nothing created; bad options: one line, exit 2', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'cvm-attest-demo-help-'));
  try {
    const env = { ...process.env, TMPDIR: tmp, NODE_NO_WARNINGS: '1' };
    for (const flag of ['--help', '-h']) {
      const r = spawnSync(process.execPath, [join(root, 'scripts/demo.mjs'), flag], { cwd: root, env, encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, /^Usage: node scripts\/demo\.mjs /);
      for (const o of ['--keep', '--reports-dir DIR', '-h, --help']) assert.ok(r.stdout.includes(o), o);
    }
    for (const [args, msg] of [
      [['--bogus'], /Unknown option '--bogus'/],
      [['--reports-dir'], /argument missing/],
    ] as const) {
      const r = spawnSync(process.execPath, [join(root, 'scripts/demo.mjs'), ...args], { cwd: root, env, encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 2);
      assert.match(r.stderr, msg);
      assert.match(r.stderr, /^demo: [^\n]+ \(see --help\)\n$/, 'one line, no stack trace');
    }
    assert.deepEqual(readdirSync(tmp), [], 'no simulated VM was set up');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
