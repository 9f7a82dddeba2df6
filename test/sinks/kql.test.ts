// Every shipped KQL query (extension/azure/queries and the workbook) parses and binds with the Kusto
// language service against the table schemas of our ARM template: no syntax error, no unknown
// column, table or function.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { describeDiagnostic, diagnostics, type Diagnostic } from '../helpers/kusto.js';

const root = new URL('../../extension/azure/', import.meta.url);
const show = (q: string, ds: Diagnostic[]): string => ds.map((d) => describeDiagnostic(q, d)).join('\n');

const files = (await readdir(new URL('queries/', root))).filter((f) => f.endsWith('.kql')).sort();
const workbook = JSON.parse(await readFile(new URL('workbook.json', root), 'utf8')) as {
  items: { type: number; name?: string; content: { query?: string; items?: unknown[] } }[];
};
const workbookQueries = workbook.items.filter((i) => i.type === 3).map((i) => ({ name: i.name ?? '?', query: i.content.query! }));

describe('KQL queries', () => {
  test('the checker itself catches an unknown column, a syntax error and an unknown table', () => {
    assert.equal(diagnostics('CvmAttestation_CL | where Verdict == "pass" | project VmId, ReportedTcb.snp').length, 0);
    assert.match(show('x', diagnostics('CvmAttestation_CL | where Verdikt == "pass"')), /KS142/);
    assert.ok(diagnostics('CvmAttestation_CL | where (').length > 0);
    assert.ok(diagnostics('CvmAttestations_CL | count').length > 0);
  });

  test('the required queries are shipped', () => {
    for (const f of [
      'fleet-compliance.kql',
      'failing-vms.kql',
      'stale-reporters.kql',
      'tcb-distribution.kql',
      'measurement-distribution.kql',
      'alerts-by-severity.kql',
    ])
      assert.ok(files.includes(f), f);
  });

  for (const f of files) {
    test(`${f} parses and binds against the table schemas`, async () => {
      const q = await readFile(new URL(`queries/${f}`, root), 'utf8');
      const ds = diagnostics(q);
      assert.equal(ds.length, 0, show(q, ds));
    });
  }

  test('the workbook uses the shipped queries, and they bind', async () => {
    assert.ok(workbookQueries.length >= files.length);
    for (const f of files) {
      const q = await readFile(new URL(`queries/${f}`, root), 'utf8');
      assert.ok(
        workbookQueries.some((w) => w.query === q),
        `workbook has ${f}`,
      );
    }
    for (const w of workbookQueries) assert.equal(diagnostics(w.query).length, 0, `${w.name}: ${show(w.query, diagnostics(w.query))}`);
  });

  test('the ARM template deploys this very workbook', async () => {
    const t = JSON.parse(await readFile(new URL('azuredeploy.json', root), 'utf8')) as {
      variables: { workbookContent: string };
      resources: { type: string; properties: Record<string, unknown> }[];
    };
    assert.deepEqual(JSON.parse(t.variables.workbookContent), workbook);
    const wb = t.resources.find((r) => r.type === 'Microsoft.Insights/workbooks')!;
    // The template makes its workspace the workbook's default one.
    assert.equal(wb.properties.serializedData, "[replace(variables('workbookContent'), '__DEFAULT_WORKSPACE__', variables('workspaceId'))]");
    assert.ok(t.variables.workbookContent.includes('"value":"__DEFAULT_WORKSPACE__"'));
  });
});
