// The README stays true: its first command block is the Quick start, its settings tables are the
// schemas', its troubleshooting section lists exactly the ErrorCode union (src/base/errors.ts), it links every
// docs/*.md, and every command's --help (and the top-level one) shows examples.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { LAYERS } from '../architecture/layers.js';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cvmAttestSync } from '../helpers/cli.js';
import { README, ROOT, errorCodesInSrc, withSettingsTables } from './tables.js';
import { ERROR_CODES, TPM_RC_CODE_PREFIX } from '../../src/base/errors.js';
import { validatePublicSettings, validateProtectedSettings, deepMerge } from '../../src/extension/settings.js';
import { parseSinksSettings } from '../../src/sinks/settings.js';

const readme = readFileSync(README, 'utf8');

/** The Quick start: the first fenced block, within the first lines, exactly these two commands. */
export function quickStart(text: string): { block: string[]; startLine: number } {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('```'));
  const end = lines.findIndex((l, i) => i > start && l.startsWith('```'));
  return { block: lines.slice(start + 1, end), startLine: start };
}

describe('README', () => {
  test('opens with the Quick start: `npm ci && npm run demo`, then `npm test`', () => {
    const { block, startLine } = quickStart(readme);
    assert.ok(startLine >= 0 && startLine <= 3, `the first command block starts on line ${startLine + 1}`);
    assert.deepEqual(block, ['npm ci && npm run demo', 'npm test']);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.match(pkg.scripts['demo'] ?? '', /scripts\/build\.mjs.*&&.*scripts\/demo\.mjs/, 'npm run demo builds, then runs the demo');
    assert.match(pkg.scripts['test'] ?? '', /scripts\/build\.mjs.*&&.*scripts\/test\.mjs/, 'npm test builds, then runs the tests');
  });

  test('the settings reference is the one generated from extension/*.schema.json', () => {
    assert.equal(readme, withSettingsTables(readme), 'README settings tables are stale: run `node --import tsx test/readme/tables.ts --write`');
    for (const key of ['intervalMinutes', 'sinks.azureMonitor.endpoint', 'policy.requireFreshness', 'protectedSettings.policy']) {
      assert.ok(readme.includes(`| \`${key}\` |`), key);
    }
  });

  test('troubleshooting lists exactly the error codes of the ErrorCode union', () => {
    const start = readme.indexOf('## Troubleshooting by error code');
    const end = readme.indexOf('\n## ', start + 5);
    assert.ok(start > 0 && end > start);
    const section = readme.slice(start, end);
    const missing = ERROR_CODES.filter((c) => !section.includes(`\`${c}\``)).sort();
    assert.deepEqual(missing, [], `codes of ERROR_CODES not in the README: ${missing.join(', ')}`);
    assert.ok(section.includes(`\`${TPM_RC_CODE_PREFIX}<NAME>\``), `the ${TPM_RC_CODE_PREFIX}* family`);
    // And nothing documented that is not a code (stale rows mislead).
    const known = new Set<string>(ERROR_CODES);
    const documented = [...section.matchAll(/`(E_[A-Z0-9_]+)`/g)].map((m) => m[1]!).filter((c) => !c.startsWith(TPM_RC_CODE_PREFIX));
    const stale = [...new Set(documented)].filter((c) => !known.has(c));
    assert.deepEqual(stale, [], `codes in the README that ERROR_CODES does not have: ${stale.join(', ')}`);
  });

  test('every code of the ErrorCode union is used in src/ (the compiler checks the converse)', () => {
    const { codes, families } = errorCodesInSrc();
    assert.ok(codes.size > 50, `only ${codes.size} codes found: the scan is broken`);
    assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length, 'ERROR_CODES has no duplicates');
    const unused = ERROR_CODES.filter((c) => !codes.has(c));
    assert.deepEqual(unused, [], `codes no source file throws: ${unused.join(', ')}`);
    assert.deepEqual([...families], [TPM_RC_CODE_PREFIX]);
  });

  test("the `az vm extension set` example's settings are valid settings", () => {
    const pub = /--settings '([^']+)'/.exec(readme)?.[1];
    const prot = /--protected-settings '([^']+)'/.exec(readme)?.[1];
    assert.ok(pub && prot, 'the example is there');
    // Placeholders the reader fills in, with values of the right shape.
    const filled = prot
      .replace('https://<dcr-endpoint>', 'https://dcr-x-abcd.westeurope-1.ingest.monitor.azure.com')
      .replace('dcr-<32 hex>', `dcr-${'0'.repeat(32)}`);
    const s = validatePublicSettings(JSON.parse(pub) as Record<string, unknown>);
    const p = validateProtectedSettings(JSON.parse(filled));
    const sinks = parseSinksSettings(deepMerge(s.sinks, p.sinks));
    assert.equal(sinks.azureMonitor?.dcrImmutableId, `dcr-${'0'.repeat(32)}`);
    assert.equal(s.intervalMinutes, 60);
  });

  test('the layout table names every layer of src/ (test/architecture/layers.ts)', () => {
    for (const l of LAYERS.filter((x) => x.folder !== '.')) {
      assert.ok(readme.includes(`| \`src/${l.folder}/\` |`), `src/${l.folder}/ is not in the layout table`);
    }
  });

  test('links every docs/*.md', () => {
    for (const f of readdirSync(join(ROOT, 'docs')).filter((n) => n.endsWith('.md'))) {
      assert.ok(readme.includes(`](docs/${f})`), `docs/${f} is not linked`);
    }
  });

  test('every file path it names in backticks exists', () => {
    const paths = [...readme.matchAll(/`((?:extension|scripts|test|src|docs)\/[A-Za-z0-9_./-]+)`/g)].map((m) => m[1]!).filter((p) => !p.includes('<'));
    assert.ok(paths.length > 10);
    const missing = [...new Set(paths)].filter((p) => {
      try {
        readFileSync(join(ROOT, p));
        return false;
      } catch (e) {
        return (e as NodeJS.ErrnoException).code !== 'EISDIR';
      }
    });
    assert.deepEqual(missing, []);
  });
});

describe('--help shows examples', () => {
  const main = readFileSync(join(ROOT, 'src/cli/main.ts'), 'utf8');
  const commands = [...main.matchAll(/^\s+(\w+): \['/gm)].map((m) => m[1]!);
  const help = (args: string[]) => cvmAttestSync([...args, '--help'], { source: true });

  test('the router knows the commands', () => {
    assert.deepEqual(commands, ['verify', 'collect', 'attest', 'status', 'serve', 'handler']);
  });
  for (const args of [[], ...commands.map((c) => [c])]) {
    test(`cvm-attest ${args.join(' ') || '(no command)'} --help`, () => {
      const r = help(args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /\nExamples:\n\s+\S/, 'an Examples section');
      assert.match(r.stdout, /Examples:[\s\S]*(cvm-attest|npm run|handler\.sh)/);
    });
  }
});
