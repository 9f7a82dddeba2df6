// The README's Log Analytics queries parse and bind with the Kusto language service against the
// table schemas in extension/azure/azuredeploy.json (the same check test/sinks/kql.test.ts applies
// to the shipped queries): a reader who pastes them gets results, not errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { README, ROOT } from './tables.js';

const require = createRequire(import.meta.url);
require('@kusto/language-service-next/bridge.js');
require('@kusto/language-service-next');
interface Diagnostic { Severity: string; Code: string; Message: string; Start: number }
interface KustoLanguage {
  Symbols: { TableSymbol: { From(schema: string): { WithName(n: string): unknown } }; DatabaseSymbol: { $ctor1: new (name: string, members: unknown[], isOpen: boolean) => unknown } };
  GlobalState: { Default: { WithDatabase(db: unknown): unknown } };
  KustoCode: { ParseAndAnalyze(text: string, globals: unknown): { GetDiagnostics(): { Count: number; getItem(i: number): Diagnostic } } };
}
const K = (globalThis as unknown as { Kusto: { Language: KustoLanguage } }).Kusto.Language;

const tpl = JSON.parse(readFileSync(join(ROOT, 'extension/azure/azuredeploy.json'), 'utf8')) as { resources: { type: string; properties: { schema?: { name: string; columns: { name: string; type: string }[] } } }[] };
type Res = { type: string; properties?: { schema?: { name: string; columns: { name: string; type: string }[] }; template?: { resources: Res[] } } };
// The tables sit in a nested deployment (the workspace may be in another resource group).
const flat = (rs: Res[]): Res[] => rs.flatMap((r) => [r, ...flat(r.properties?.template?.resources ?? [])]);
const tables = flat(tpl.resources as Res[]).filter((r) => r.type === 'Microsoft.OperationalInsights/workspaces/tables').map((r) => r.properties!.schema!);
const globals = K.GlobalState.Default.WithDatabase(new K.Symbols.DatabaseSymbol.$ctor1('workspace', tables.map((t) =>
  K.Symbols.TableSymbol.From(`(${t.columns.map((c) => `${c.name}:${c.type.toLowerCase()}`).join(', ')})`).WithName(t.name)), false));

function errors(query: string): string[] {
  const d = K.KustoCode.ParseAndAnalyze(query, globals).GetDiagnostics();
  const out: string[] = [];
  for (let i = 0; i < d.Count; i++) {
    const x = d.getItem(i);
    if (x.Severity === 'Error') out.push(`${x.Code} ${x.Message} at "${query.slice(x.Start, x.Start + 30)}"`);
  }
  return out;
}

test('the checker rejects an unknown column (so a pass means something)', () => {
  assert.ok(errors('CvmAttestation_CL | project Verdikt').length > 0);
});

test('every query in the README\'s kusto blocks binds against the tables', () => {
  const blocks = [...readFileSync(README, 'utf8').matchAll(/```kusto\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.ok(blocks.length > 0, 'the README has kusto blocks');
  const queries = blocks.flatMap((b) => b.split(/\n\s*\n/)).map((q) => q.trim()).filter((q) => q.length > 0);
  assert.ok(queries.length >= 2);
  for (const q of queries) assert.deepEqual(errors(q), [], q);
});
