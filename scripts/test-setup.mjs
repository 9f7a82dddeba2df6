// The test suite's own set-up, run by `npm test` (and by scripts/test.mjs) before any test: every
// Debian package of scripts/apt-packages.txt must be installed. Missing ones are installed when that
// is possible (root and apt-get: one `apt-get update`, then a non-interactive install); otherwise it
// stops at once with one line naming them and the command that installs them. No test ever runs
// without its tools, so none has to skip for a missing one.
//   node scripts/test-setup.mjs          exit 0 when everything is installed (installing first if it can)
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '../..');
export const LIST = join(root, 'scripts/apt-packages.txt');

/** Package names of an apt-packages.txt text: `#` comments, one or more names a line. */
export function parsePackageList(text) {
  return text
    .split('\n')
    .map((l) => l.replace(/#.*/, ''))
    .flatMap((l) => l.split(/\s+/))
    .filter(Boolean);
}

const run = (cmd, args, env, stdio = 'pipe') => spawnSync(cmd, args, { env, encoding: 'utf8', stdio });
const onPath = (cmd, env) => run('sh', ['-c', `command -v ${cmd}`], env).status === 0;

/**
 * The packages of `pkgs` dpkg does not have installed. Throws when dpkg-query cannot be run at all.
 * dpkg-query -W exits 1 when some name is unknown, so its exit code alone says nothing: read its lines.
 */
export function missingPackages(pkgs, env = process.env) {
  const r = run('dpkg-query', ['-W', '-f=${Package}\t${db:Status-Status}\n', ...pkgs], env);
  if (r.error) throw new Error(`dpkg-query cannot be run (${r.error.code ?? r.error.message})`);
  const installed = new Set(
    r.stdout
      .split('\n')
      .map((l) => l.split('\t'))
      .filter(([, s]) => s === 'installed')
      .map(([p]) => p.replace(/:.*/, '')),
  );
  return pkgs.filter((p) => !installed.has(p));
}

/** The one command that installs `pkgs` on Debian, as the user should type it. */
export function installCommand(pkgs, uid) {
  const sudo = uid === 0 ? '' : 'sudo ';
  return `${sudo}apt-get update && ${sudo}env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
}

/**
 * Checks (and when it can, installs) the packages. Returns { ok: true, installed: [...] } or
 * { ok: false, line } where line is the single line to print. `env` (its PATH finds dpkg-query and
 * apt-get), `uid` and `log` are injectable for tests.
 */
export function ensurePackages({
  pkgs = parsePackageList(readFileSync(LIST, 'utf8')),
  env = process.env,
  uid = process.getuid?.() ?? -1,
  log = (s) => process.stderr.write(`${s}\n`),
} = {}) {
  let missing;
  try {
    missing = missingPackages(pkgs, env);
  } catch (e) {
    return {
      ok: false,
      line: `npm test: cannot check the Debian packages of scripts/apt-packages.txt: ${e.message}; it needs a Debian machine with: ${pkgs.join(' ')}`,
    };
  }
  if (missing.length === 0) return { ok: true, installed: [] };
  const stop = (why) => ({
    ok: false,
    line: `npm test: missing Debian packages: ${missing.join(' ')}${why}; install them with: ${installCommand(missing, uid)}`,
  });
  if (uid !== 0) return stop(' (not root, so not installed)');
  if (!onPath('apt-get', env)) return stop(' (apt-get not found)');
  log(`npm test: installing missing Debian packages: ${missing.join(' ')}`);
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  // apt's own messages go to stderr (inherited) so a failure says why; -qq keeps the success path quiet.
  const u = run('apt-get', ['update', '-qq'], aptEnv, ['ignore', 'ignore', 'inherit']);
  if (u.status !== 0) return stop(` (apt-get update failed with exit ${u.status})`);
  const i = run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], aptEnv, ['ignore', 'ignore', 'inherit']);
  if (i.status !== 0) return stop(` (apt-get install failed with exit ${i.status})`);
  const still = missingPackages(missing, env);
  if (still.length > 0) {
    missing = still;
    return stop(' (still not installed after apt-get install)');
  }
  return { ok: true, installed: missing };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = ensurePackages();
  if (!r.ok) {
    process.stderr.write(`${r.line}\n`);
    process.exit(1);
  }
}
