// Build: type-check + emit the library (dist/, for `import 'cvm-attest'`) with tsc, then bundle the
// CLI into one ESM file (dist/bundle/cli.mjs) with esbuild. Code split so that lazily imported parts
// (Azure SDK, sinks, extension) are separate chunks loaded only when a command needs them.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync, existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const skipTsc = process.argv.includes('--no-tsc');
rmSync(join(root, 'dist'), { recursive: true, force: true });
if (!skipTsc) {
  try {
    execFileSync(process.execPath, [join(root, 'node_modules/typescript7/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
  } catch {
    console.error('build: type-check failed (see above)');
    process.exit(1);
  }
}
const entry = join(root, 'src/cli/main.ts');
// `cvm-attest --version`: package.json is the one source of the version.
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
if (existsSync(entry)) {
  await build({
    // verify-worker: the thread entry of `serve`'s verification pool (src/service/pool.ts).
    entryPoints: { cli: entry, 'verify-worker': join(root, 'src/service/verify-worker.ts') },
    outdir: join(root, 'dist/bundle'),
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    minifySyntax: true,
    legalComments: 'none',
    logLevel: 'warning',
    // The version records, status and --version carry: package.json's, as in the packaged extension.
    define: { 'process.env.CVM_ATTEST_VERSION': JSON.stringify(version) },
    // CommonJS dependencies (winston, the Azure SDK's deps) call require() for Node built-ins.
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
}
// `verify` also as one CommonJS file: bin/cvm-attest.js requires it directly, skipping the ESM loader and
// the ESM facades of node:crypto/node:fs, which together cost more than the verification itself.
const verifyEntry = join(root, 'src/cli/commands/verify.ts');
if (existsSync(verifyEntry)) {
  await build({
    entryPoints: [verifyEntry],
    outfile: join(root, 'dist/bundle/verify.cjs'),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    minifySyntax: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  execFileSync(process.execPath, [join(root, 'scripts/verify-code-cache.cjs')], { stdio: 'inherit', cwd: root });
}
