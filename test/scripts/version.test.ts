// One version, package.json's, everywhere it appears: HandlerManifest.json, the demo's extension folder,
// the ARM template and README's `az ... --version` (its major.minor), the packaged zip, `cvm-attest status`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error plain ESM script without types
import { layOutExtension } from '../../scripts/demo/vm.mjs';
import { readStatusView } from '../../src/cli/commands/status.js';

const root = join(fileURLToPath(import.meta.url), '../../..');
const read = (p: string): string => readFileSync(join(root, p), 'utf8');
const version = (JSON.parse(read('package.json')) as { version: string }).version;
const majorMinor = version.split('.').slice(0, 2).join('.');

test("package.json's version has the extension protocol's form a.b.c[.d]", () => {
  assert.match(version, /^\d+\.\d+\.\d+(\.\d+)?$/);
});

test('HandlerManifest.json carries it', () => {
  const m = JSON.parse(read('HandlerManifest.json')) as { version: unknown }[];
  assert.equal(m[0]?.version, version);
});

test("README's az command and the ARM template use its major.minor", () => {
  const readme = read('README.md');
  const az = [...readme.matchAll(/az vm extension set[\s\S]*?--version (\S+)/g)].map((m) => m[1]);
  assert.ok(az.length > 0, 'an az vm extension set command');
  for (const v of az) assert.equal(v, majorMinor);
  const arm = JSON.parse(read('extension/arm/azuredeploy.json')) as { parameters: { typeHandlerVersion: { defaultValue: string } } };
  assert.equal(arm.parameters.typeHandlerVersion.defaultValue, majorMinor);
  assert.ok(readme.includes(`SnpAttestation-${version}`), 'README names the versioned folder/zip');
});

test("the demo's extension folder and `cvm-attest status` show it; the package script defaults to it", () => {
  const tmp = mkdtempSync(join(tmpdir(), 'cvm-attest-version-'));
  try {
    const vm = layOutExtension({ root: tmp, repo: root }) as { extDir: string; version: string };
    assert.equal(vm.version, version);
    assert.ok(vm.extDir.endsWith(`CvmAttest.Security.SnpAttestation-${version}`), vm.extDir);
    assert.equal(readStatusView(vm.extDir).version, version);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  // The zip's name and its manifest come from the same variable (built for real in test/extension/agent.test.ts).
  const pkg = read('scripts/package.mjs');
  assert.match(pkg, /const version = values\.version \?\? pkg\.version;/);
  assert.match(pkg, /manifest\[0\]\.version = version;/);
  assert.match(pkg, /`\$\{name\}-\$\{version\}\.zip`/);
});
