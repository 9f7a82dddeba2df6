// Enforces the import rule (test/architecture/layers.ts, docs/CONTRIBUTING.md): no upward or sideways
// import between layers, no pure layer importing I/O (a layer or a Node I/O module), no cycle between
// files, and every folder of src/ placed in a layer.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAYERS, layerOf } from './layers.js';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '../../src');
/** Node modules that touch files, the network, processes or threads: not for pure layers. */
const IO_MODULES = new Set([
  'fs',
  'fs/promises',
  'net',
  'http',
  'https',
  'http2',
  'dgram',
  'dns',
  'child_process',
  'worker_threads',
  'cluster',
  'tls',
  'readline',
  'os',
]);

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

interface Import {
  readonly from: string;
  readonly spec: string;
  readonly typeOnly: boolean;
}

/** Static and dynamic imports (type-only ones count for layering, not for cycles: they vanish at run time). */
export function importsOf(file: string, text: string): Import[] {
  const out: Import[] = [];
  const stat = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(stat)) out.push({ from: file, spec: m[3]!, typeOnly: m[2] !== undefined });
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ from: file, spec: m[1]!, typeOnly: false });
  return out;
}

const files = walk(SRC).map((f) => relative(SRC, f));
const graph = new Map<string, Import[]>(files.map((f) => [f, importsOf(f, readFileSync(join(SRC, f), 'utf8'))]));
const resolve = (from: string, spec: string): string => normalize(join(dirname(from), spec)).replace(/\.js$/, '.ts');

describe('import rule', () => {
  test('every file of src/ is in a layer', () => {
    const loose = files.filter((f) => layerOf(f) === undefined);
    assert.deepEqual(loose, [], 'add the folder to test/architecture/layers.ts and docs/CONTRIBUTING.md');
  });

  test('imports go only downward (or within a folder), pure layers import no I/O', () => {
    const bad: string[] = [];
    for (const [file, imps] of graph) {
      const from = layerOf(file);
      if (!from) continue;
      for (const i of imps) {
        if (!i.spec.startsWith('.')) {
          const mod = i.spec.replace(/^node:/, '');
          if (from.pure && !i.typeOnly && IO_MODULES.has(mod)) bad.push(`${file}: pure layer ${from.folder} imports ${i.spec}`);
          continue;
        }
        const target = resolve(file, i.spec);
        const to = layerOf(target);
        if (!to) {
          bad.push(`${file}: imports ${i.spec}, outside src/ layers`);
          continue;
        }
        if (to === from) continue;
        if (to.rank >= from.rank) bad.push(`${file} (${from.folder}) imports ${target} (${to.folder}): ${to.rank === from.rank ? 'sideways' : 'upward'}`);
        else if (from.pure && !to.pure) bad.push(`${file}: pure layer ${from.folder} imports I/O layer ${to.folder}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  test('no import cycle between files', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...path.slice(path.indexOf(f)), f].join(' -> '));
        return;
      }
      state.set(f, 'open');
      for (const i of graph.get(f) ?? []) if (i.spec.startsWith('.') && !i.typeOnly) visit(resolve(f, i.spec), [...path, f]);
      state.set(f, 'done');
    };
    for (const f of files) visit(f, []);
    assert.deepEqual(cycles, []);
  });

  test('the checker catches what it should', () => {
    assert.equal(layerOf('platform/snp/report.ts')?.folder, 'platform/snp');
    assert.equal(layerOf('collect/tpm/nv.ts')?.folder, 'collect');
    assert.equal(layerOf('index.ts')?.folder, '.');
    assert.equal(layerOf('nowhere/x.ts'), undefined);
    const imps = importsOf(
      'a.ts',
      "import type { A } from './b.js';\nimport { c } from '../c.js';\nexport { d } from './d.js';\nconst e = await import('./e.js');",
    );
    assert.deepEqual(
      imps.map((i) => [i.spec, i.typeOnly]),
      [
        ['./b.js', true],
        ['../c.js', false],
        ['./d.js', false],
        ['./e.js', false],
      ],
    );
    assert.ok(
      LAYERS.every((l, k) => k === 0 || l.rank >= LAYERS[k - 1]!.rank),
      'LAYERS is listed bottom first',
    );
  });
});
