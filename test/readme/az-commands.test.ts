// Every `az` command in the README, docs/fleet.md and docs/azure-monitor.md is checked against az's
// own argument definitions: Debian's azure-cli (scripts/apt-packages.txt) prints each command's
// arguments with --help, offline and without a login. `az graph` comes from the resource-graph az
// extension, which Debian does not ship: its arguments are checked against the extension's documented
// ones instead.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './tables.js';

const run = promisify(execFile);
const DOCS = ['README.md', 'docs/fleet.md', 'docs/azure-monitor.md'];
const AZ = '/usr/bin/az';
// az extension resource-graph: `az graph query` arguments (its documented help).
const EXTENSION_COMMANDS: Record<string, string[]> = {
  'graph query': [
    '--graph-query',
    '-q',
    '--first',
    '--skip',
    '--subscriptions',
    '--management-groups',
    '--skip-token',
    '--allow-partial-scopes',
    '--output',
    '-o',
    '--query',
  ],
};

/** Shell words of one command line (quotes kept together, $(...) as one word). */
function words(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let depth = 0;
  for (const ch of line) {
    if (quote) {
      cur += ch;
      if (ch === quote && depth === 0) quote = null;
      continue;
    }
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if ((ch === '"' || ch === "'") && depth === 0) {
      quote = ch;
      cur += ch;
      continue;
    }
    if (/\s/.test(ch) && depth === 0) {
      if (cur) out.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}
interface AzCommand {
  doc: string;
  path: string;
  flags: string[];
  text: string;
}
function commands(): AzCommand[] {
  const out: AzCommand[] = [];
  for (const doc of DOCS) {
    const md = readFileSync(join(ROOT, doc), 'utf8');
    for (const block of md.matchAll(/```sh\n([\s\S]*?)```/g)) {
      const lines = block[1]!.replace(/\\\n\s*/g, ' ').split('\n');
      for (const raw of lines) {
        const line = raw.replace(/\s+#.*$/, '').trim();
        for (const m of line.matchAll(/(?:^|[;|&(]\s*|\$\(|do\s+)(az\s[^;|)]*)/g)) {
          const w = words(m[1]!.trim());
          const path: string[] = [];
          for (const t of w.slice(1)) {
            if (t.startsWith('-')) break;
            path.push(t);
          }
          const flags = w.filter((t) => /^--?[a-zA-Z]/.test(t)).map((t) => t.split('=')[0]!);
          out.push({ doc, path: path.join(' '), flags, text: m[1]!.trim() });
        }
      }
    }
  }
  return out;
}

const all = commands();
const helpCache = new Map<string, Promise<Set<string>>>();
// az's own config and command index, kept between runs (.cache is not committed): the first --help builds the index.
const azHome = join(ROOT, '.cache/az-config');
mkdirSync(azHome, { recursive: true });
function helpFlags(path: string): Promise<Set<string>> {
  let p = helpCache.get(path);
  if (!p) {
    p = run(AZ, [...path.split(' '), '--help'], {
      env: { PATH: '/usr/bin:/bin', HOME: azHome, AZURE_CONFIG_DIR: azHome, AZURE_CORE_COLLECT_TELEMETRY: 'false', AZURE_CORE_NO_COLOR: 'true' },
      timeout: 120_000,
      maxBuffer: 4 * 1024 * 1024,
    }).then(({ stdout }) => {
      if (!/\nArguments\n|\nGlobal Arguments\n/.test(stdout)) throw new Error(`az ${path} --help has no arguments section`);
      return new Set([...stdout.matchAll(/(?:^|\s)(--?[a-zA-Z][a-zA-Z0-9-]*)/gm)].map((m) => m[1]!));
    });
    helpCache.set(path, p);
  }
  return p;
}

describe('az commands in the docs', () => {
  test("there are commands to check, including the fleet walkthrough's", () => {
    assert.ok(all.length >= 25, `${all.length} commands`);
    for (const p of [
      'deployment group create',
      'policy assignment create',
      'policy remediation create',
      'policy state summarize',
      'graph query',
      'vmss update-instances',
      'rest',
    ])
      assert.ok(
        all.some((c) => c.path === p),
        p,
      );
  });
  test('the Debian azure-cli is installed (scripts/apt-packages.txt)', () => assert.ok(existsSync(AZ), `${AZ} missing: apt-get install azure-cli`));
  test("every command and argument exists in az's own definitions", { timeout: 900_000 }, async () => {
    const paths = [...new Set(all.map((c) => c.path))].filter((p) => !(p in EXTENSION_COMMANDS));
    // Two at a time: each --help starts Python and loads the command table.
    for (let i = 0; i < paths.length; i += 2) await Promise.all(paths.slice(i, i + 2).map((p) => helpFlags(p)));
    for (const c of all) {
      const known = c.path in EXTENSION_COMMANDS ? new Set(EXTENSION_COMMANDS[c.path]) : await helpFlags(c.path);
      for (const f of c.flags) assert.ok(known.has(f), `${c.doc}: az ${c.path}: unknown argument ${f} in: ${c.text}`);
    }
  });
  test('the checker rejects a misspelt argument and a made-up command', async () => {
    const known = await helpFlags('deployment group create');
    assert.ok(known.has('--template-file') && !known.has('--template-fil'));
    await assert.rejects(helpFlags('deployment group creat'));
  });
});
