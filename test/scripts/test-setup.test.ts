// `npm test`'s own set-up (scripts/test-setup.mjs). The Debian tools are replaced by stub dpkg-query /
// apt-get scripts on PATH (an edge case: a real apt install cannot be undone in a test); a last test
// runs the real dpkg-query on this machine, where the suite's packages are installed.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error plain ESM script without types
import { ensurePackages, parsePackageList, LIST } from '../../scripts/test-setup.mjs';

const root = join(fileURLToPath(import.meta.url), '../../..');
interface Result {
  ok: boolean;
  line?: string;
  installed?: string[];
}
const ensure = ensurePackages as (o: { pkgs?: string[]; env?: NodeJS.ProcessEnv; uid?: number; log?: (s: string) => void }) => Result;

/** A PATH holding only sh and stubs. `installed` lines are "name<TAB>status"; apt-get logs its argv and DEBIAN_FRONTEND. */
function stubs(opts: { installed: string[]; apt?: boolean; aptInstallExit?: number; aptInstalls?: boolean }): {
  env: NodeJS.ProcessEnv;
  dir: string;
  aptLog: () => string[];
} {
  const dir = mkdtempSync(join(tmpdir(), 'cvm-test-setup-'));
  chmodSync(dir, 0o755); // readable by the unprivileged user of the last tests
  symlinkSync('/bin/sh', join(dir, 'sh'));
  writeFileSync(join(dir, 'db'), opts.installed.map((l) => `${l}\n`).join(''));
  // Like dpkg-query -W -f: one line per known package, "no packages found" and exit 1 for unknown ones.
  writeFileSync(
    join(dir, 'dpkg-query'),
    `#!/bin/sh
shift 2; rc=0
for p in "$@"; do
  l=$(/usr/bin/grep "^$p	" "${dir}/db" | /usr/bin/tail -n 1)
  if [ -n "$l" ]; then printf '%s\\n' "$l"; else echo "dpkg-query: no packages found matching $p" >&2; rc=1; fi
done
exit $rc
`,
  );
  if (opts.apt !== false) {
    writeFileSync(
      join(dir, 'apt-get'),
      `#!/bin/sh
echo "$DEBIAN_FRONTEND $*" >> "${dir}/apt.log"
if [ "$1" = install ]; then :
  ${opts.aptInstallExit ? `echo "E: Unable to locate package" >&2; exit ${opts.aptInstallExit}` : ''}
  ${opts.aptInstalls === false ? '' : `for p in "$@"; do case "$p" in -*|install) ;; *) printf '%s\\tinstalled\\n' "$p" >> "${dir}/db";; esac; done`}
fi
exit 0
`,
    );
  }
  for (const f of ['dpkg-query', 'apt-get']) if (existsSync(join(dir, f))) chmodSync(join(dir, f), 0o755);
  return { env: { PATH: dir }, dir, aptLog: () => (existsSync(join(dir, 'apt.log')) ? readFileSync(join(dir, 'apt.log'), 'utf8').trim().split('\n') : []) };
}

const PKGS = ['openssl', 'rsyslog', 'chromium'];
const quiet = (): void => {};

describe('npm test set-up: the Debian packages of scripts/apt-packages.txt', () => {
  test('the list parses: comments dropped, several names a line', () => {
    assert.deepEqual(parsePackageList('# c\nopenssl\nswtpm swtpm-tools  # tpm\n\n\tchromium\n'), ['openssl', 'swtpm', 'swtpm-tools', 'chromium']);
    const real = parsePackageList(readFileSync(LIST, 'utf8')) as string[];
    for (const p of ['rsyslog', 'chromium', 'swtpm', 'python3-distro', 'unzip', 'openssl']) assert.ok(real.includes(p), p);
  });

  test('all installed: nothing to do, apt never runs', (t) => {
    const s = stubs({ installed: PKGS.map((p) => `${p}\tinstalled`) });
    t.after(() => rmSync(s.dir, { recursive: true, force: true }));
    assert.deepEqual(ensure({ pkgs: PKGS, env: s.env, uid: 0, log: quiet }), { ok: true, installed: [] });
    assert.deepEqual(s.aptLog(), []);
  });

  test('root with apt-get: one `apt-get update`, then a non-interactive install of exactly the missing ones', (t) => {
    // rsyslog unknown to dpkg, chromium removed with its config files left (not installed)
    const s = stubs({ installed: ['openssl\tinstalled', 'chromium\tconfig-files'] });
    t.after(() => rmSync(s.dir, { recursive: true, force: true }));
    const logs: string[] = [];
    const r = ensure({ pkgs: PKGS, env: s.env, uid: 0, log: (l) => logs.push(l) });
    assert.deepEqual(r, { ok: true, installed: ['rsyslog', 'chromium'] });
    assert.deepEqual(s.aptLog(), ['noninteractive update -qq', 'noninteractive install -y -qq --no-install-recommends rsyslog chromium']);
    assert.deepEqual(logs, ['npm test: installing missing Debian packages: rsyslog chromium']);
  });

  test('not root: stops with one line naming the missing packages and the exact command; apt never runs', (t) => {
    const s = stubs({ installed: ['openssl\tinstalled'] });
    t.after(() => rmSync(s.dir, { recursive: true, force: true }));
    const r = ensure({ pkgs: PKGS, env: s.env, uid: 1000, log: quiet });
    assert.equal(r.ok, false);
    assert.equal(
      r.line,
      'npm test: missing Debian packages: rsyslog chromium (not root, so not installed); install them with: sudo apt-get update && sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends rsyslog chromium',
    );
    assert.deepEqual(s.aptLog(), []);
  });

  test('root without apt-get, a failing install, an install that does not install: one line each', (t) => {
    const noApt = stubs({ installed: [], apt: false });
    const failing = stubs({ installed: [], aptInstallExit: 100 });
    const hollow = stubs({ installed: [], aptInstalls: false });
    t.after(() => {
      for (const s of [noApt, failing, hollow]) rmSync(s.dir, { recursive: true, force: true });
    });
    const cmd = 'install them with: apt-get update && env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssl rsyslog chromium';
    const a = ensure({ pkgs: PKGS, env: noApt.env, uid: 0, log: quiet });
    assert.equal(a.line, `npm test: missing Debian packages: openssl rsyslog chromium (apt-get not found); ${cmd}`);
    const b = ensure({ pkgs: PKGS, env: failing.env, uid: 0, log: quiet });
    assert.equal(b.line, `npm test: missing Debian packages: openssl rsyslog chromium (apt-get install failed with exit 100); ${cmd}`);
    const c = ensure({ pkgs: PKGS, env: hollow.env, uid: 0, log: quiet });
    assert.equal(c.ok, false);
    assert.match(c.line ?? '', /still not installed after apt-get install/);
    for (const r of [a, b, c]) assert.doesNotMatch(r.line ?? '', /\n/);
  });

  test('no dpkg-query at all (not Debian): one line, not a crash', () => {
    const r = ensure({ pkgs: PKGS, env: { PATH: '/nonexistent' }, uid: 0, log: quiet });
    assert.equal(r.ok, false);
    assert.match(
      r.line ?? '',
      /^npm test: cannot check the Debian packages of scripts\/apt-packages\.txt: dpkg-query cannot be run \(ENOENT\); it needs a Debian machine with: openssl rsyslog chromium$/,
    );
  });

  test('the scripts as `npm test` runs them: test-setup.mjs and test.mjs stop at once with one line and exit 1, running no test', (t) => {
    const s = stubs({ installed: [] });
    t.after(() => rmSync(s.dir, { recursive: true, force: true }));
    // As a non-root user when we are root (nobody), else as ourselves: either way apt is not tried.
    const asUser = process.geteuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    for (const script of ['scripts/test-setup.mjs', 'scripts/test.mjs']) {
      const r = spawnSync(process.execPath, [join(root, script), 'report'], { cwd: root, env: s.env, encoding: 'utf8', timeout: 30_000, ...asUser });
      assert.equal(r.status, 1, `${script}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(
        r.stderr,
        /^npm test: missing Debian packages: openssl .*chromium .*; install them with: sudo apt-get update && sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssl .*\n$/,
      );
      assert.equal(r.stderr.split('\n').length, 2, 'exactly one line');
    }
    assert.deepEqual(s.aptLog(), []);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.match(
      pkg.scripts['test'] ?? '',
      /^node scripts\/test-setup\.mjs && node scripts\/build\.mjs && node scripts\/check\.mjs && node scripts\/test\.mjs$/,
      'set-up before the build, the static checks (type-check, lint, format) before the suite',
    );
  });

  test('on this machine (real dpkg-query): every package of the list is installed', () => {
    const r = ensure({ uid: 1000, log: quiet });
    assert.deepEqual(r, { ok: true, installed: [] }, r.line);
  });
});
