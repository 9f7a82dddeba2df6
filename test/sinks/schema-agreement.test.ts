// The ARM template's DCR stream declarations, its Log Analytics table schemas and the records our
// code emits agree column for column and type for type.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { ALERT_COLUMNS, ALERT_STREAM, ALERT_TABLE, RECORD_COLUMNS, RECORD_STREAM, RECORD_TABLE, buildRecord, type ColumnDef } from '../../src/sinks/record.js';
import { evaluateAlerts } from '../../src/sinks/alert-rules.js';
import { EMPTY_ALERT_STATE } from '../../src/sinks/alert-state.js';
import { ALERT_KINDS } from '../../src/sinks/alert-catalogue.js';
import { CollectionError } from '../../src/base/errors.js';
import { validateRecord } from '../emulators/logs-ingestion.js';
import { IDENTITY, makeResult } from './helpers.js';
import { tdxResult } from '../tdx/helpers.js';

interface Resource {
  type: string;
  name: string;
  kind?: string;
  properties: Record<string, unknown>;
  scope?: string;
}
const tpl = JSON.parse(await readFile(new URL('../../extension/azure/azuredeploy.json', import.meta.url), 'utf8')) as {
  resources: Resource[];
  outputs: Record<string, { value: unknown }>;
  parameters: Record<string, unknown>;
  variables: Record<string, unknown>;
};
const dcr = tpl.resources.find((r) => r.type === 'Microsoft.Insights/dataCollectionRules')!;
const decls = dcr.properties.streamDeclarations as Record<string, { columns: { name: string; type: string }[] }>;
// The tables are deployed with the workspace (a nested deployment: it may be in another resource group).
const nested = (rs: Resource[]): Resource[] =>
  rs.flatMap((r) => [r, ...nested((r.properties?.template as { resources?: Resource[] } | undefined)?.resources ?? [])]);
const tables = nested(tpl.resources).filter((r) => r.type === 'Microsoft.OperationalInsights/workspaces/tables');
const tableCols = (name: string): { name: string; type: string }[] =>
  (tables.find((t) => t.name.includes(`'${name}'`))!.properties.schema as { name: string; columns: { name: string; type: string }[] }).columns;
const norm = (cols: readonly { name: string; type: string }[]): string[] => cols.map((c) => `${c.name}:${c.type.toLowerCase()}`);
// Types that the Logs Ingestion service maps 1:1 from a stream column into a table column.
const LA_TYPES = new Set(['string', 'int', 'long', 'real', 'boolean', 'datetime', 'dynamic', 'guid']);

describe('schema agreement (code, DCR streams, tables)', () => {
  for (const [stream, table, cols] of [
    [RECORD_STREAM, RECORD_TABLE, RECORD_COLUMNS],
    [ALERT_STREAM, ALERT_TABLE, ALERT_COLUMNS],
  ] as const) {
    test(`${stream} == ${table} == code`, () => {
      assert.deepEqual(norm(decls[stream]!.columns), norm(cols));
      assert.deepEqual(norm(tableCols(table)), norm(cols));
      for (const c of tableCols(table)) assert.ok(LA_TYPES.has(c.type.toLowerCase()), `${c.name}: ${c.type}`);
      assert.ok(
        cols.some((c: ColumnDef) => c.name === 'TimeGenerated' && c.type === 'datetime'),
        'TimeGenerated datetime is mandatory',
      );
      for (const c of cols) assert.ok(c.name.length <= 45 && /^[A-Za-z][A-Za-z0-9_]*$/.test(c.name), `column name ${c.name}`);
      assert.equal(new Set(cols.map((c) => c.name)).size, cols.length, 'no duplicate column');
      // Names Log Analytics reserves for its own columns.
      for (const c of cols)
        assert.ok(!['id', 'type', 'tenantid', 'title', 'uniqueid', 'date'].includes(c.name.toLowerCase()) && !c.name.startsWith('_'), `${c.name} is reserved`);
      assert.ok(cols.length <= 500);
      const flow = (dcr.properties.dataFlows as { streams: string[]; outputStream: string; transformKql: string }[]).find((f) => f.streams.includes(stream))!;
      assert.equal(flow.outputStream, `Custom-${table}`);
      assert.equal(flow.transformKql, 'source');
    });
  }

  test('docs/azure-monitor.md documents every column with its type', async () => {
    const doc = await readFile(new URL('../../docs/azure-monitor.md', import.meta.url), 'utf8');
    for (const c of [...RECORD_COLUMNS, ...ALERT_COLUMNS]) assert.ok(doc.includes(`| \`${c.name}\` | ${c.type} |`), `${c.name} documented`);
  });

  test('the DCR is kind Direct and the role is Monitoring Metrics Publisher on it', () => {
    assert.equal(dcr.kind, 'Direct');
    const ra = tpl.resources.find((r) => r.type === 'Microsoft.Authorization/roleAssignments')!;
    assert.match(String(ra.properties.roleDefinitionId), /variables\('monitoringMetricsPublisher'\)/);
    assert.equal(tpl.variables.monitoringMetricsPublisher, '3913510d-42f4-4e42-8a64-420c390055eb');
    assert.match(String(ra.scope), /Microsoft\.Insights\/dataCollectionRules/);
    assert.equal(ra.properties.principalType, 'ServicePrincipal');
    for (const o of ['logsIngestionEndpoint', 'dcrImmutableId', 'streamName', 'alertsStreamName', 'identityClientId', 'sinksSettings'])
      assert.ok(tpl.outputs[o], `output ${o}`);
  });

  test('the sinksSettings output is valid publicSettings.sinks once Azure fills in its values', async () => {
    const { parseSinksSettings } = await import('../../src/sinks/settings.js');
    const fill = (v: unknown): unknown => {
      if (typeof v === 'string' && v.startsWith('[')) {
        if (v.includes('endpoints.logsIngestion') || v.includes('logsIngestion.endpoint'))
          return 'https://dcr-cvm-attest-abcd.westeurope-1.ingest.monitor.azure.com';
        if (v.includes('immutableId')) return 'dcr-0123456789abcdef0123456789abcdef';
        if (v.includes('.clientId')) return '11111111-2222-3333-4444-555555555555';
        if (v.includes("variables('recordStream')")) return tpl.variables.recordStream;
        if (v.includes("variables('alertStream')")) return tpl.variables.alertStream;
        throw new Error(`unexpected expression ${v}`);
      }
      if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
      return v;
    };
    const s = parseSinksSettings(fill(tpl.outputs.sinksSettings!.value));
    assert.equal(s.azureMonitor!.streamName, RECORD_STREAM);
    assert.equal(s.azureMonitor!.alertsStreamName, ALERT_STREAM);
    assert.deepEqual(s.azureMonitor!.identity, { clientId: '11111111-2222-3333-4444-555555555555' });
  });

  test('template expressions are well formed and use known ARM functions', () => {
    const known = new Set([
      'format',
      'resourceId',
      'parameters',
      'variables',
      'reference',
      'guid',
      'subscriptionResourceId',
      'resourceGroup',
      'if',
      'empty',
      'not',
      'and',
      'or',
      'null',
      'createArray',
      'createObject',
      'replace',
      'string',
      'mul',
    ]);
    const walk = (v: unknown): void => {
      if (typeof v === 'string' && v.startsWith('[') && !v.startsWith('[[')) {
        assert.ok(v.endsWith(']'), v);
        const body = v.slice(1, -1).replace(/'[^']*'/g, "''");
        let depth = 0;
        for (const ch of body) {
          if (ch === '(') depth++;
          if (ch === ')') depth--;
          assert.ok(depth >= 0, v);
        }
        assert.equal(depth, 0, v);
        for (const m of body.matchAll(/([A-Za-z]+)\(/g)) assert.ok(known.has(m[1]!), `unknown function ${m[1]} in ${v}`);
      } else if (typeof v === 'object' && v !== null) Object.values(v).forEach(walk);
    };
    walk(tpl);
  });

  test('every parameter and variable of the template is used', () => {
    // A parameter used only by a variable counts (the variable is checked in turn).
    const text = JSON.stringify({ ...tpl, parameters: undefined });
    for (const p of Object.keys(tpl.parameters)) assert.ok(text.includes(`parameters('${p}')`), `parameter ${p} unused`);
    for (const v of Object.keys(tpl.variables)) assert.ok(text.includes(`variables('${v}')`), `variable ${v} unused`);
  });

  test('records and alerts our code emits validate against the declared streams, every column typed right', () => {
    const emitted = [
      buildRecord({ result: makeResult(), identity: IDENTITY }, { agentVersion: '0.1.0' }),
      buildRecord({ result: makeResult({ failed: [{ id: 'signature', group: 'signature', status: 'fail', reason: 'x' }] }) }),
      buildRecord({ error: new CollectionError('E_TPM_NO_DEVICE', 'no tpm'), identity: IDENTITY }),
      buildRecord({ result: tdxResult(), identity: IDENTITY }),
      // A record written by `cvm-attest serve`: attested VmId, the VM's claims in Claimed* columns.
      buildRecord({
        result: makeResult(),
        reporter: { by: 'verifier', attestedVmId: '3404EF27-32A2-4A07-A4C7-1A1171624C5D', tokenId: 'ab'.repeat(32), claimed: IDENTITY },
      }),
      // Issue 11's guest columns: fresh by report, Secure Boot from the event log, the AK certificate check.
      ((r) =>
        buildRecord({
          result: {
            ...r,
            claims: { ...r.claims, 'cvm-attest-fresh-by': 'report', secureboot: true },
            checks: [...r.checks, { id: 'ak-certificate', group: 'ak-certificate', status: 'pass', reason: 'x' }],
          },
        }))(makeResult()),
    ];
    const used = new Set<string>();
    for (const r of emitted) {
      const wire = JSON.parse(JSON.stringify(r)) as Record<string, unknown>;
      assert.equal(validateRecord(wire, decls[RECORD_STREAM]!.columns), undefined);
      Object.keys(wire).forEach((k) => used.add(k));
    }
    assert.deepEqual([...used].sort(), RECORD_COLUMNS.map((c) => c.name).sort(), 'every declared column is produced by some record');
    const ctx = { settings: { enabled: true, evidenceUnavailableAfter: 1, certificateExpiryDays: 30000 }, recordId: 'r' };
    const alerts = [
      ...evaluateAlerts(
        EMPTY_ALERT_STATE,
        { result: makeResult({ debuggable: true, failed: [{ id: 'policy.debug', group: 'policy', status: 'fail', reason: 'd' }] }), identity: IDENTITY },
        ctx,
      ).alerts,
      ...evaluateAlerts(EMPTY_ALERT_STATE, { error: new CollectionError('E_TPM_NO_DEVICE', 'no tpm') }, ctx).alerts,
    ];
    const usedA = new Set<string>();
    for (const a of alerts) {
      const wire = JSON.parse(JSON.stringify(a)) as Record<string, unknown>;
      assert.equal(validateRecord(wire, decls[ALERT_STREAM]!.columns), undefined);
      Object.keys(wire).forEach((k) => usedA.add(k));
    }
    assert.deepEqual([...usedA].sort(), ALERT_COLUMNS.map((c) => c.name).sort());
    assert.equal(ALERT_KINDS.length, 9);
  });
});

describe('guest columns (issue 11)', () => {
  test('FreshBy, SecureBoot and AkCertificate come from the result; absent when not shown', () => {
    const r = makeResult();
    const rec = buildRecord({
      result: {
        ...r,
        claims: { ...r.claims, 'cvm-attest-fresh-by': 'report+quote', secureboot: false },
        checks: [...r.checks, { id: 'ak-certificate', group: 'ak-certificate', status: 'skip', reason: 'none' }],
      },
    });
    assert.equal(rec.FreshBy, 'report+quote');
    assert.equal(rec.SecureBoot, false);
    assert.equal(rec.AkCertificate, 'absent');
    const plain = buildRecord({ result: { ...r, claims: { ...r.claims, 'cvm-attest-fresh-by': 'bogus' } } });
    assert.equal(plain.FreshBy, undefined);
    assert.equal(plain.SecureBoot, undefined);
    assert.equal(plain.AkCertificate, undefined);
  });
});
