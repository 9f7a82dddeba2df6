// The fleet-rollout files (extension/arm/*, extension/policy/*, extension/azure/azuredeploy.json)
// against the official ARM and Azure Policy schemas (test/fixtures/schemas/arm, SOURCE.md), plus what
// the schemas do not say: generated files current, every parameter used, the right built-in roles,
// a DeployIfNotExists policy that cannot remediate forever, alert rules whose KQL binds.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { armValidator, DEPLOYMENT_PARAMETERS, POLICY_RULE } from './arm-schema.js';
import { schemaValidator } from './json-schema.js';
import { root } from './agent-harness.js';
import { build, BUILTIN_ASSIGN_UAI } from '../../scripts/gen-extension-arm.js';
import { validatePublicSettings } from '../../src/extension/settings.js';

type Obj = Record<string, unknown>;
const json = (p: string): Obj => JSON.parse(readFileSync(join(root, p), 'utf8')) as Obj;
const arm = armValidator();
const settingsSchemas = schemaValidator(join(root, 'extension'));
const AUTH = 'https://schema.management.azure.com/schemas/2025-03-01/Microsoft.Authorization.json#/subscription_resourceDefinitions/';

// Built-in role definition ids (the same in every tenant and cloud), by role name.
const BUILTIN_ROLES: Record<string, string> = {
  '9980e02c-c2be-4d73-94e8-173b1dc7cf3c': 'Virtual Machine Contributor',
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher',
};
const templates = [
  'extension/arm/azuredeploy.json',
  'extension/arm/azuredeploy-multi.json',
  'extension/arm/azuredeploy-vmss.json',
  'extension/azure/azuredeploy.json',
];
const policies = readdirSync(join(root, 'extension/policy'))
  .filter((f) => f.endsWith('.json'))
  .sort();

/** Every template in `t`, nested deployments' and DeployIfNotExists policies' included. */
function innerTemplates(v: unknown): Obj[] {
  if (typeof v !== 'object' || v === null) return [];
  const o = v as Obj;
  const here = typeof o['template'] === 'object' && o['template'] !== null && 'resources' in (o['template'] as Obj) ? [o['template'] as Obj] : [];
  return [...here, ...Object.values(o).flatMap(innerTemplates)];
}
/** A template with its own parameters and variables used (inner templates judged on their own). */
function assertAllUsed(name: string, t: Obj): void {
  const strip = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    if (Array.isArray(v)) return v.map(strip);
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, k === 'template' && typeof x === 'object' && x !== null && 'resources' in x ? '<inner>' : strip(x)]),
    );
  };
  const text = JSON.stringify(strip({ ...t, parameters: undefined, variables: undefined })) + JSON.stringify(strip(t['variables'] ?? {}));
  for (const p of Object.keys(t['parameters'] ?? {})) assert.ok(text.includes(`parameters('${p}')`), `${name}: parameter ${p} unused`);
  for (const v of Object.keys(t['variables'] ?? {})) assert.ok(text.includes(`variables('${v}')`), `${name}: variable ${v} unused`);
}

describe('the official schemas catch what they should (so a pass means something)', () => {
  // The extension schema is loose (genericExtension: publisher, type, typeHandlerVersion and settings
  // required, anything else allowed): the project's own checks below cover the rest.
  test('a missing required property, a bad enum, a wrong api-version and a bad policy effect are rejected', () => {
    const t = json('extension/arm/azuredeploy-vmss.json');
    const res = (t['resources'] as Obj[])[0]!;
    assert.deepEqual(arm.templateErrors(t), []);
    const { typeHandlerVersion: _v, ...noVersion } = res['properties'] as Obj;
    assert.notDeepEqual(arm.templateErrors({ ...t, resources: [{ ...res, properties: noVersion }] }), []);
    const monitor = json('extension/azure/azuredeploy.json');
    const sqr = (monitor['resources'] as Obj[]).find((r) => r['type'] === 'Microsoft.Insights/scheduledQueryRules')!;
    assert.deepEqual(arm.templateErrors({ ...monitor, resources: [sqr] }), []);
    const p = sqr['properties'] as Obj;
    const badOperator = { ...p, criteria: { allOf: [{ ...((p['criteria'] as Obj)['allOf'] as Obj[])[0], operator: 'Bigger' }] } };
    assert.match(arm.templateErrors({ ...monitor, resources: [{ ...sqr, properties: badOperator }] }).join('\n'), /operator/);
    assert.match(arm.templateErrors({ ...t, resources: [{ ...res, apiVersion: '2099-01-01' }] }).join('\n'), /no vendored schema/);
    assert.notDeepEqual(arm.templateErrors({ ...t, contentVersion: '1.0' }), []);
    const rule = (json('extension/policy/cvm-attest-audit-vm.json')['properties'] as Obj)['policyRule'] as Obj;
    assert.deepEqual(arm.validate(POLICY_RULE, rule), []);
    assert.notDeepEqual(arm.validate(POLICY_RULE, { ...rule, then: { effect: 'deployIfMissing' } }), []);
    assert.notDeepEqual(
      arm.validate(`${AUTH}policyDefinitions`, {
        type: 'Microsoft.Authorization/policyDefinitions',
        apiVersion: '2025-03-01',
        name: 'x',
        properties: { mode: 'Indexed', policyType: 'Mine' },
      }),
      [],
    );
  });
});

describe("templates (deploymentTemplate.json and each resource provider's schema)", () => {
  for (const f of templates) {
    test(`${f}: valid, inner templates too; every parameter and variable used`, () => {
      const t = json(f);
      const all = [t, ...innerTemplates(t['resources'])];
      for (const [i, x] of all.entries()) {
        let errors = arm.templateErrors(x);
        if (f === 'extension/azure/azuredeploy.json' && i === 0) errors = dcrLagChecked(x);
        assert.deepEqual(errors, [], `${f} template #${i}`);
        assertAllUsed(`${f} #${i}`, x);
      }
    });
  }
  test('the parameters file is valid, names only real parameters and every required one', () => {
    const params = json('extension/arm/azuredeploy.parameters.json');
    assert.deepEqual(arm.validate(DEPLOYMENT_PARAMETERS, params), []);
    const declared = json('extension/arm/azuredeploy.json')['parameters'] as Record<string, Obj>;
    const given = params['parameters'] as Record<string, { value: unknown }>;
    for (const p of Object.keys(given)) assert.ok(p in declared, `unknown parameter ${p}`);
    for (const [p, d] of Object.entries(declared)) if (!('defaultValue' in d)) assert.ok(p in given, `required ${p} not given`);
    assert.deepEqual(settingsSchemas.validate('settings.schema.json', given['settings']!.value), []);
    validatePublicSettings(given['settings']!.value as Obj);
  });
  test('the generated files are current (node --import tsx scripts/gen-extension-arm.ts)', () => {
    for (const [path, value] of Object.entries(build())) assert.deepEqual(json(path), JSON.parse(JSON.stringify(value)), `${path} is stale`);
  });
});

// The published Microsoft.Insights 2023-03-11 schema lags the REST API: it allows kind Linux|Windows
// only (the REST specification's kind is an open enum that the service documents with "Direct") and
// closes the data flow streams to Microsoft-* names (the REST specification's streams are plain
// strings; Custom-<name> streams are how every Logs Ingestion DCR is written). The DCR is checked
// against the schema with those two values set aside, and they are checked here instead.
function dcrLagChecked(t: Obj): string[] {
  const resources = (t['resources'] as Obj[]).map((r) => {
    if (r['type'] !== 'Microsoft.Insights/dataCollectionRules') return r;
    assert.equal(r['kind'], 'Direct');
    const p = r['properties'] as Obj;
    const flows = p['dataFlows'] as Obj[];
    const decls = Object.keys(p['streamDeclarations'] as Obj);
    for (const fl of flows)
      for (const s of fl['streams'] as string[]) {
        assert.match(s, /^Custom-[A-Za-z0-9_]+$/);
        assert.ok(decls.includes(s), `${s} declared`);
      }
    // Still lagging? Then the test's premise holds (when the schema catches up, drop this workaround).
    assert.notDeepEqual(
      arm.templateErrors({ ...t, resources: [r] }),
      [],
      'the published DCR schema now accepts kind Direct and Custom streams: validate it unmodified',
    );
    const { kind: _kind, ...rest } = r;
    return { ...rest, properties: { ...p, dataFlows: flows.map((fl) => ({ ...fl, streams: "[variables('recordStream')]" })) } };
  });
  return arm.templateErrors({ ...t, resources });
}

describe('extension templates: works as shipped', () => {
  const single = json('extension/arm/azuredeploy.json');
  test("location defaults to the VM's own (read from the VM), not the resource group's", () => {
    assert.equal((single['parameters'] as Record<string, Obj>)['location']!['defaultValue'], '');
    const text = JSON.stringify(single['resources']);
    assert.ok(text.includes("reference(resourceId('Microsoft.Compute/virtualMachines', parameters('vmName')), '2024-11-01', 'Full').location"));
    assert.ok(!JSON.stringify(single).includes('resourceGroup().location'));
    const multi = JSON.stringify(json('extension/arm/azuredeploy-multi.json'));
    assert.ok(multi.includes("parameters('vmNames')[copyIndex()]") && multi.includes("'Full').location"));
  });
  test('the parameters file takes the sinks from the Azure Monitor deployment that grants its identity', () => {
    const given = json('extension/arm/azuredeploy.parameters.json')['parameters'] as Record<string, { value: unknown }>;
    assert.equal(given['monitorDeploymentName']!.value, 'cvm-attest-monitor');
    assert.ok(JSON.stringify(single).includes('.outputs.sinksSettings.value'));
    const monitor = json('extension/azure/azuredeploy.json');
    const out = (monitor['outputs'] as Record<string, { value: Obj }>)['sinksSettings']!.value;
    assert.match(JSON.stringify(out), /userAssignedIdentities', parameters\('identityName'\)\), '2023-01-31'\)\.clientId/);
    const ra = (monitor['resources'] as Obj[]).find((r) => r['type'] === 'Microsoft.Authorization/roleAssignments')!;
    assert.match(String((ra['properties'] as Obj)['principalId']), /userAssignedIdentities', parameters\('identityName'\)/);
    // The README deploys the Azure Monitor template under that very name.
    assert.match(readFileSync(join(root, 'README.md'), 'utf8'), /az deployment group create -g RG -n cvm-attest-monitor /);
  });
});

describe('Azure Monitor template: alert rules, action group, workspace elsewhere, DCE', () => {
  const t = json('extension/azure/azuredeploy.json');
  const res = t['resources'] as Obj[];
  const rules = res.filter((r) => r['type'] === 'Microsoft.Insights/scheduledQueryRules');
  test('three log search alert rules at 2023-12-01, per VM, on the workspace, notifying the action group', () => {
    assert.deepEqual(
      rules.map((r) => String(r['name']).match(/\{0\}-([a-z-]+)'/)![1]),
      ['attestation-failed', 'tcb-rollback-or-debug', 'stale-reporter'],
    );
    for (const r of rules) {
      assert.equal(r['apiVersion'], '2023-12-01');
      const p = r['properties'] as Obj;
      // The schema says "an integer between [0-4]" in prose only.
      assert.ok(Number.isInteger(p['severity']) && (p['severity'] as number) >= 0 && (p['severity'] as number) <= 4);
      assert.deepEqual(p['scopes'], ["[variables('workspaceId')]"]);
      const c = ((p['criteria'] as Obj)['allOf'] as Obj[])[0]!;
      assert.deepEqual(c['dimensions'], [{ name: 'VmId', operator: 'Include', values: ['*'] }]);
      assert.equal(c['resourceIdColumn'], 'ResourceId');
      assert.equal((p['actions'] as Obj)['actionGroups'], "[variables('actionGroups')]");
    }
    const stale = rules[2]!['properties'] as Obj;
    assert.match(String(((stale['criteria'] as Obj)['allOf'] as Obj[])[0]!['query']), /string\(mul\(2, parameters\('reportIntervalMinutes'\)\)\)/);
    const ag = res.find((r) => r['type'] === 'Microsoft.Insights/actionGroups')!;
    assert.equal(ag['condition'], "[variables('createActionGroup')]");
    assert.match(JSON.stringify(ag['properties']), /alertEmailAddress.*alertWebhookUrl/);
    assert.equal((t['parameters'] as Record<string, Obj>)['alertWebhookUrl']!['type'], 'securestring');
  });
  test("the tables go to the workspace's resource group; the DCE is optional and becomes the endpoint", () => {
    const nested = res.find((r) => r['type'] === 'Microsoft.Resources/deployments')!;
    assert.equal(nested['resourceGroup'], "[parameters('workspaceResourceGroup')]");
    assert.deepEqual(
      ((nested['properties'] as Obj)['template'] as { resources: Obj[] }).resources.map((r) => r['type']),
      ['Microsoft.OperationalInsights/workspaces/tables', 'Microsoft.OperationalInsights/workspaces/tables'],
    );
    const dce = res.find((r) => r['type'] === 'Microsoft.Insights/dataCollectionEndpoints')!;
    assert.equal(dce['condition'], "[parameters('useDataCollectionEndpoint')]");
    assert.match(
      String((t['outputs'] as Record<string, Obj>)['logsIngestionEndpoint']!['value']),
      /^\[if\(parameters\('useDataCollectionEndpoint'\), reference\(resourceId\('Microsoft.Insights\/dataCollectionEndpoints'/,
    );
  });
  test('role assignments use the right built-in roles', () => {
    for (const f of [...templates, ...policies.map((p) => `extension/policy/${p}`)]) {
      const text = JSON.stringify(json(f));
      for (const m of text.matchAll(/roleDefinitions[/'", ]+(?:[^0-9a-f]*?)([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/g))
        assert.ok(BUILTIN_ROLES[m[1]!], `${f}: ${m[1]} is not a role we expect`);
    }
    assert.equal((t['variables'] as Obj)['monitoringMetricsPublisher'], '3913510d-42f4-4e42-8a64-420c390055eb');
  });
});

describe('Azure Policy (extension/policy)', () => {
  const defs = Object.fromEntries(policies.map((f) => [f.replace(/\.json$/, ''), json(`extension/policy/${f}`)['properties'] as Obj]));
  test('the four files', () =>
    assert.deepEqual(Object.keys(defs), ['cvm-attest-audit-vm', 'cvm-attest-deploy-vm', 'cvm-attest-deploy-vmss', 'cvm-attest-initiative']));
  for (const [name, p] of Object.entries(defs)) {
    test(`${name}: valid against the policy schemas; its deployment template too`, () => {
      const set = name.endsWith('initiative');
      const kind = set ? 'policySetDefinitions' : 'policyDefinitions';
      assert.deepEqual(arm.validate(`${AUTH}${kind}`, { type: `Microsoft.Authorization/${kind}`, apiVersion: '2025-03-01', name, properties: p }), []);
      if (set) return;
      assert.deepEqual(arm.validate(POLICY_RULE, p['policyRule']), []);
      const text = JSON.stringify(p['policyRule']);
      for (const k of Object.keys(p['parameters'] as Obj)) assert.ok(text.includes(`parameters('${k}')`), `${name}: parameter ${k} unused`);
      for (const tpl of innerTemplates(p['policyRule'])) {
        assert.deepEqual(arm.templateErrors(tpl), []);
        assertAllUsed(name, tpl);
      }
    });
  }
  const cvm = (prefix: string) => [
    { field: `${prefix}securityProfile.securityType`, equals: 'ConfidentialVM' },
    { field: `${prefix}securityProfile.uefiSettings.vTpmEnabled`, equals: 'true' },
    { field: `${prefix}storageProfile.osDisk.osType`, equals: 'Linux' },
  ];
  for (const [name, type, prefix] of [
    ['cvm-attest-deploy-vm', 'Microsoft.Compute/virtualMachines', 'Microsoft.Compute/virtualMachines/'],
    ['cvm-attest-deploy-vmss', 'Microsoft.Compute/virtualMachineScaleSets', 'Microsoft.Compute/virtualMachineScaleSets/virtualMachineProfile.'],
  ] as const) {
    test(`${name}: Linux CVMs with a vTPM; existence on publisher, type, provisioningState; field('location'); Virtual Machine Contributor; no remediation loop`, () => {
      const rule = defs[name]!['policyRule'] as { if: { allOf: Obj[] }; then: { details: Obj } };
      assert.deepEqual(rule.if.allOf[0], { field: 'type', equals: type });
      for (const c of cvm(prefix))
        assert.ok(
          rule.if.allOf.some((x) => JSON.stringify(x) === JSON.stringify(c)),
          JSON.stringify(c),
        );
      const d = rule.then.details;
      const manifest = (JSON.parse(readFileSync(join(root, 'HandlerManifest.json'), 'utf8')) as { name: string }[])[0]!.name;
      const ex = (d['existenceCondition'] as { allOf: { field: string; equals: string }[] }).allOf;
      assert.deepEqual(
        ex.map((c) => c.field.split('/').pop()),
        ['publisher', 'type', 'provisioningState'],
      );
      assert.equal(`${ex[0]!.equals}.${ex[1]!.equals}`, manifest);
      assert.equal(ex[2]!.equals, 'Succeeded');
      assert.deepEqual(d['roleDefinitionIds'], ['/providers/Microsoft.Authorization/roleDefinitions/9980e02c-c2be-4d73-94e8-173b1dc7cf3c']);
      const dp = ((d['deployment'] as Obj)['properties'] as Obj)['parameters'] as Record<string, { value: string }>;
      if (name === 'cvm-attest-deploy-vm') assert.equal(dp['location']!.value, "[field('location')]");
      else assert.equal(dp['location'], undefined, 'a scale set extension has no location');
      const tplParams = Object.keys(innerTemplates(rule)[0]!['parameters'] as Obj);
      assert.deepEqual(Object.keys(dp).sort(), tplParams.sort(), "the deployment passes exactly the template's parameters");
      assert.equal(dp['protectedSettings']!.value, "[parameters('protectedSettings')]");
      // A failing attestation must not turn provisioningState Failed (statusOnFailure "error"):
      // the deployment forces "warning", whatever settings the assignment gives.
      assert.equal(dp['settings']!.value, "[union(parameters('settings'), createObject('statusOnFailure', 'warning'))]");
      const tpl = innerTemplates(rule)[0]!;
      assert.equal((tpl['parameters'] as Record<string, Obj>)['protectedSettings']!['type'], 'secureObject');
    });
  }
  test('the audit policy reports missing or not Succeeded, deploys nothing', () => {
    const rule = defs['cvm-attest-audit-vm']!['policyRule'] as { then: { details: Obj } };
    assert.equal((defs['cvm-attest-audit-vm']!['parameters'] as Record<string, Obj>)['effect']!['defaultValue'], 'AuditIfNotExists');
    assert.equal(rule.then.details['deployment'], undefined);
    assert.match(JSON.stringify(rule.then.details['existenceCondition']), /provisioningState","equals":"Succeeded"/);
  });
  test('the initiative: our three definitions and the built-in identity ones, with declared parameters', () => {
    const set = defs['cvm-attest-initiative']!;
    const refs = set['policyDefinitions'] as { policyDefinitionId: string; parameters: Record<string, { value: unknown }> }[];
    const setParams = Object.keys(set['parameters'] as Obj);
    for (const r of refs) {
      const custom = r.policyDefinitionId.match(
        /^\/subscriptions\/\{subscriptionId\}\/providers\/Microsoft\.Authorization\/policyDefinitions\/(cvm-attest-[a-z-]+)$/,
      );
      if (custom) {
        const target = defs[custom[1]!];
        assert.ok(target, `${custom[1]} is one of our files`);
        for (const k of Object.keys(r.parameters)) assert.ok(k in (target['parameters'] as Obj), `${custom[1]} has parameter ${k}`);
      } else {
        assert.ok(
          Object.values(BUILTIN_ASSIGN_UAI).some((id) => r.policyDefinitionId === `/providers/Microsoft.Authorization/policyDefinitions/${id}`),
          r.policyDefinitionId,
        );
        assert.deepEqual(Object.keys(r.parameters).sort(), ['bringYourOwnUserAssignedManagedIdentity', 'identityResourceGroup', 'userAssignedIdentityName']);
      }
      for (const v of Object.values(r.parameters))
        for (const m of JSON.stringify(v.value).matchAll(/parameters\('([^']+)'\)/g)) assert.ok(setParams.includes(m[1]!), m[1]);
    }
    assert.equal(refs.length, 5);
    for (const p of setParams) assert.ok(JSON.stringify(refs).includes(`parameters('${p}')`), `initiative parameter ${p} unused`);
  });
});
