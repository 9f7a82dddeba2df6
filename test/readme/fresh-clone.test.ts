// The README's Quick start on a fresh clone: `git clone` of the committed HEAD into a temp folder,
// then exactly the README's first command there (`npm ci && npm run demo`, with `npm ci --offline`:
// tests use no network, so the packages come from npm's cache, which any earlier `npm ci` filled).
// The second command (`npm test`) is not run inside the test suite (it would run this test again);
// its script is checked to exist and to build first. This tests what is committed, not the working tree.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './tables.js';

interface Run {
  code: number;
  out: string;
  ms: number;
}

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c) => {
      out += c;
    });
    p.stderr.on('data', (c) => {
      out += c;
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, ms: Date.now() - t0 });
    });
  });
}

describe("fresh clone: the README's Quick start", () => {
  let tmp: string;
  let clone: string;
  let env: NodeJS.ProcessEnv;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'cvm-attest-clone-'));
    clone = join(tmp, 'cvm-attest');
    // The demo's temp folders and HTML reports go under TMPDIR: keep them inside ours.
    env = { ...process.env, TMPDIR: tmp, NODE_NO_WARNINGS: '1', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
    const r = spawnSync('git', ['clone', '--quiet', '--no-hardlinks', ROOT, clone], { encoding: 'utf8' });
    assert.equal(r.status, 0, `git clone failed: ${r.stderr}`);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test("the clone's README opens with the two commands, and both npm scripts exist", () => {
    const lines = readFileSync(join(clone, 'README.md'), 'utf8').split('\n');
    const start = lines.findIndex((l) => l.startsWith('```'));
    assert.ok(start >= 0 && start <= 3, 'the Quick start block is at the top');
    assert.deepEqual(lines.slice(start + 1, start + 4), ['npm ci && npm run demo', 'npm test', '```']);
    const pkg = JSON.parse(readFileSync(join(clone, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.ok(pkg.scripts['demo'], 'npm run demo');
    assert.match(pkg.scripts['test'] ?? '', /test-setup\.mjs.*build\.mjs.*test\.mjs/, 'npm test sets up, builds, then tests');
    assert.ok(existsSync(join(clone, 'package-lock.json')), 'npm ci needs the lock file');
    assert.ok(!existsSync(join(clone, 'node_modules')) && !existsSync(join(clone, 'dist')), 'the clone starts without node_modules and dist');
  });

  test('`npm ci` (offline, from the npm cache) then `npm run demo`: both verdicts, exit 0, nothing left behind', { timeout: 180_000 }, async () => {
    const ci = await sh('npm', ['ci', '--offline'], clone, env, 120_000);
    assert.equal(
      ci.code,
      0,
      /ENOTCACHED/.test(ci.out)
        ? `npm's cache lacks packages of package-lock.json; run \`npm ci\` once with network access, then rerun:\n${ci.out.slice(-1500)}`
        : `npm ci failed:\n${ci.out.slice(-3000)}`,
    );
    const demo = await sh('npm', ['run', 'demo'], clone, env, 120_000);
    process.stderr.write(`fresh clone: npm ci ${ci.ms} ms, npm run demo ${demo.ms} ms\n`);
    assert.equal(demo.code, 0, demo.out.slice(-4000));
    assert.match(demo.out, /^\d+\. VM 1: verdict PASS$/m);
    assert.match(demo.out, /^\d+\. VM 2: verdict FAIL$/m);
    assert.match(demo.out, /^\d+\. VM 3: verdict PASS$/m);
    assert.match(demo.out, /alert: High CvmAttest_DebugEnabled/);
    assert.match(demo.out, /done in \d+\.\d+ s\n/);
    assert.doesNotMatch(demo.out, /UNEXPECTED|WITH PROBLEMS/);
    // The demo ran the clone's own build, and removed its simulated VMs.
    assert.ok(existsSync(join(clone, 'dist/bundle/cli.mjs')));
    assert.deepEqual(
      readdirSync(tmp).filter((n) => n.startsWith('cvm-attest-demo-') && n !== 'cvm-attest-demo-reports'),
      [],
    );
    assert.equal(readdirSync(join(tmp, 'cvm-attest-demo-reports')).length, 3, 'the three HTML reports');
  });
});
