// A KQL checker for the tests: the Kusto language service binds a query against table schemas (by
// default the Log Analytics tables of extension/azure/azuredeploy.json) and reports its errors.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
// The package is a Bridge.NET build: bridge.js defines the runtime, the main file defines globalThis.Kusto.
require('@kusto/language-service-next/bridge.js');
require('@kusto/language-service-next');

export interface Diagnostic {
  Severity: string;
  Code: string;
  Message: string;
  Start: number;
}
interface KustoLanguage {
  Symbols: {
    TableSymbol: { From(schema: string): { WithName(n: string): unknown } };
    DatabaseSymbol: { $ctor1: new (name: string, members: unknown[], isOpen: boolean) => unknown };
  };
  GlobalState: { Default: { WithDatabase(db: unknown): unknown } };
  KustoCode: { ParseAndAnalyze(text: string, globals: unknown): { GetDiagnostics(): { Count: number; getItem(i: number): Diagnostic } } };
}
const K = (Reflect.get(globalThis, 'Kusto') as { Language: KustoLanguage }).Language;

export interface Table {
  name: string;
  columns: { name: string; type: string }[];
}

/** What a query binds against: one database holding these tables. */
export const globalsFor = (tables: readonly Table[]): unknown =>
  K.GlobalState.Default.WithDatabase(
    new K.Symbols.DatabaseSymbol.$ctor1(
      'db',
      tables.map((t) => K.Symbols.TableSymbol.From(`(${t.columns.map((c) => `['${c.name}']:${c.type.toLowerCase()}`).join(', ')})`).WithName(t.name)),
      false,
    ),
  );

type Res = { type: string; properties?: { schema?: Table; template?: { resources: Res[] } } };
// The tables sit in a nested deployment (the workspace may be in another resource group).
const flat = (rs: Res[]): Res[] => rs.flatMap((r) => [r, ...flat(r.properties?.template?.resources ?? [])]);

/** The Log Analytics tables the ARM template creates. */
export function templateTables(): Table[] {
  const tpl = JSON.parse(readFileSync(join(import.meta.dirname, '../../extension/azure/azuredeploy.json'), 'utf8')) as { resources: Res[] };
  return flat(tpl.resources)
    .filter((r) => r.type === 'Microsoft.OperationalInsights/workspaces/tables')
    .map((r) => r.properties!.schema!);
}

let workspace: unknown;
/** The template's tables as globals (built once). */
export const workspaceGlobals = (): unknown => (workspace ??= globalsFor(templateTables()));

/** The error diagnostics of a query bound against globals. */
export function diagnostics(query: string, globals: unknown = workspaceGlobals()): Diagnostic[] {
  const d = K.KustoCode.ParseAndAnalyze(query, globals).GetDiagnostics();
  const out: Diagnostic[] = [];
  for (let i = 0; i < d.Count; i++) {
    const x = d.getItem(i);
    if (x.Severity === 'Error') out.push(x);
  }
  return out;
}

/** One line a diagnostic: its code, message and where in the query. */
export const describeDiagnostic = (query: string, d: Diagnostic): string => `${d.Code} ${d.Message} at "${query.slice(d.Start, d.Start + 30)}"`;

/** The errors of a query, one line each (empty: it parses and binds). */
export const errors = (query: string, globals: unknown = workspaceGlobals()): string[] => diagnostics(query, globals).map((d) => describeDiagnostic(query, d));
