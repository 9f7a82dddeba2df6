// The alert rules' KQL (extension/azure/alerts, embedded in the Azure Monitor template) binds
// against the Log Analytics tables, and the Azure Resource Graph queries (extension/kql/arg) bind
// against Resource Graph's Resources table, with the Kusto language service.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './agent-harness.js';
import { errors, globalsFor, workspaceGlobals } from '../helpers/kusto.js';

type Res = { type: string; name?: string; properties?: Record<string, unknown> };
const tpl = JSON.parse(readFileSync(join(root, 'extension/azure/azuredeploy.json'), 'utf8')) as { resources: Res[]; variables: Record<string, string> };
const la = workspaceGlobals();

// Resource Graph's Resources table (columns as documented for Azure Resource Graph).
const RESOURCES = {
  name: 'Resources',
  columns: ['id', 'name', 'type', 'tenantId', 'kind', 'location', 'resourceGroup', 'subscriptionId', 'managedBy']
    .map((name) => ({ name, type: 'string' }))
    .concat(['sku', 'plan', 'properties', 'tags', 'identity', 'zones', 'extendedLocation'].map((name) => ({ name, type: 'dynamic' }))),
};
const arg = globalsFor([RESOURCES]);

const alertsDir = join(root, 'extension/azure/alerts');
const argDir = join(root, 'extension/kql/arg');
const read = (d: string, f: string): string => readFileSync(join(d, f), 'utf8');
// The template replaces STALE_MINUTES with 2 x reportIntervalMinutes (an int).
const asDeployed = (q: string): string => q.replace(/STALE_MINUTES/g, '120');

describe('alert rule queries', () => {
  test('the checker catches an unknown column in either schema', () => {
    assert.ok(errors('CvmAttestation_CL | project Verdikt', la).length > 0);
    assert.ok(errors('Resources | project propertiez', arg).length > 0);
  });
  const files = readdirSync(alertsDir)
    .filter((f) => f.endsWith('.kql'))
    .sort();
  test('three queries, each used by one alert rule of the template', () => {
    assert.deepEqual(files, ['attestation-failed.kql', 'stale-reporter.kql', 'tcb-rollback-or-debug.kql']);
    const rules = tpl.resources.filter((r) => r.type === 'Microsoft.Insights/scheduledQueryRules');
    const queries = rules.map((r) => String((r.properties!['criteria'] as { allOf: { query: string }[] }).allOf[0]!.query));
    assert.ok(queries.includes(read(alertsDir, 'attestation-failed.kql')));
    assert.ok(queries.includes(read(alertsDir, 'tcb-rollback-or-debug.kql')));
    assert.equal(tpl.variables['staleQuery'], read(alertsDir, 'stale-reporter.kql'));
  });
  for (const f of files) {
    test(`${f} binds against the tables, with VmId and ResourceId for the rule's dimension and resource`, () => {
      const q = asDeployed(read(alertsDir, f));
      assert.deepEqual(errors(q, la), []);
      assert.match(q, /\bVmId\b/);
      assert.match(q, /\bResourceId\b/);
    });
  }
  test('the stale query needs its number (so the placeholder is really replaced)', () => {
    assert.ok(errors(read(alertsDir, 'stale-reporter.kql'), la).length > 0);
  });
});

describe('Azure Resource Graph queries (extension/kql/arg)', () => {
  const files = readdirSync(argDir)
    .filter((f) => f.endsWith('.kql'))
    .sort();
  test('the inventory query covers every CVM with installed, version, provisioning state and status message', () => {
    assert.ok(files.length >= 4);
    const q = read(argDir, 'cvm-extension-status.kql');
    for (const c of ['extensionInstalled', 'extensionVersion', 'provisioningState', 'statusMessage']) assert.match(q, new RegExp(`\\b${c}\\b`));
    const manifest = (JSON.parse(readFileSync(join(root, 'HandlerManifest.json'), 'utf8')) as { name: string }[])[0]!.name;
    for (const f of files)
      if (read(argDir, f).includes('properties.publisher')) assert.ok(read(argDir, f).includes(`"${manifest.replace(/\.[^.]+$/, '')}"`), f);
  });
  for (const f of files) {
    test(`${f} binds against Resources and names its az graph query`, () => {
      const q = read(argDir, f);
      assert.deepEqual(errors(q, arg), []);
      assert.match(q, new RegExp(`az graph query -q "\\$\\(cat extension/kql/arg/${f.replace('.', '\\.')}\\)"`));
    });
  }
});
