// The package, the settings schemas and the ARM template: the manifest the agent reads, the schema
// agreeing with the extension's own validator, and a template whose parameters and variables are
// all used and whose settings validate.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { schemaValidator } from './json-schema.js';
import { validatePublicSettings, validateProtectedSettings, SettingsError } from '../../src/extension/settings.js';
import { root } from './agent-harness.js';

const ext = join(root, 'extension');
const json = (p: string) => JSON.parse(readFileSync(join(root, p), 'utf8')) as Record<string, unknown>;
const schemas = schemaValidator(ext);

describe('HandlerManifest.json and handler.sh', () => {
  test('one-element array with the commands, real booleans, heartbeat, UpdateWithInstall, a CPU quota', () => {
    const m = JSON.parse(readFileSync(join(root, 'HandlerManifest.json'), 'utf8')) as Record<string, unknown>[];
    assert.equal(m.length, 1);
    const hm = m[0]!['handlerManifest'] as Record<string, unknown>;
    for (const op of ['install', 'uninstall', 'update', 'enable', 'disable']) assert.equal(hm[`${op}Command`], `bin/handler.sh ${op}`);
    assert.equal(hm['reportHeartbeat'], true);
    assert.equal(hm['rebootAfterInstall'], false);
    assert.equal(hm['updateMode'], 'UpdateWithInstall');
    assert.equal(hm['supportsMultipleExtensions'], false);
    const q = (m[0]!['resourceLimits'] as Record<string, unknown>)['cpuQuotaPercentage'];
    assert.ok(typeof q === 'number' && q > 0 && q <= 100);
  });
  test('handler.sh: LF endings, runtime found next to itself, never through PATH', () => {
    const sh = readFileSync(join(ext, 'bin/handler.sh'), 'utf8');
    assert.ok(!sh.includes('\r'));
    assert.match(sh, /^#!\/bin\/sh\n/);
    assert.match(sh, /NODE="\$EXT_DIR\/runtime\/node"/);
    assert.match(sh, /exec "\$NODE" /);
    assert.doesNotMatch(sh, /\bexec node\b|command -v node|which node/);
  });
});

describe('settings schemas agree with the extension', () => {
  const good: Record<string, unknown>[] = [
    {},
    { intervalMinutes: 5, jitterPercent: 0, freshness: false, statusOnFailure: 'warning', logLevel: 'debug' },
    { minimumTcb: { bootloader: 10, snp: 23 }, tpm: 'swtpm:path=/run/s.sock', imdsEndpoint: 'http://127.0.0.1:8080' },
    { pcsEndpoint: 'https://api.trustedservices.intel.com' },
    { pcsEndpoint: 'http://127.0.0.1:8080/pcs' },
    { pcsEndpoint: 'http://[::1]:9' },
    { policy: { allowDebug: false, maxVmpl: 0 } },
    {
      AttestationConfig: {
        MaaSettings: { maaEndpoint: '', maaTenantName: 'GuestAttestation' },
        AscSettings: { ascReportingEndpoint: '', ascReportingFrequency: '' },
        useCustomToken: 'false',
        disableAlerts: 'false',
      },
    },
  ];
  const bad: Record<string, unknown>[] = [
    { intervalMinutes: 0 },
    { intervalMinutes: 1.5 },
    { jitterPercent: 60 },
    { statusOnFailure: 'fail' },
    { freshness: 'true' },
    { minimumTcb: {} },
    { minimumTcb: { cpu: 1 } },
    { tpm: 'tpm0' },
    { imdsEndpoint: 'ftp://x' },
    { imdsEndpoint: 'https://169.254.169.254' },
    { imdsEndpoint: 'http://127.0.0.1:8080/metadata' },
    { unknown: 1 },
    { logLevel: 'trace' },
    { pcsEndpoint: 'http://pcs.example' },
    { pcsEndpoint: 'https://pcs.example/?q=1' },
    { pcsEndpoint: 'https://u@pcs.example' },
  ];
  test('valid settings pass both; invalid fail both', () => {
    for (const s of good) {
      assert.deepEqual(schemas.validate('settings.schema.json', s), [], JSON.stringify(s));
      assert.doesNotThrow(() => validatePublicSettings(s), JSON.stringify(s));
    }
    for (const s of bad) {
      assert.notDeepEqual(schemas.validate('settings.schema.json', s), [], JSON.stringify(s));
      assert.throws(() => validatePublicSettings(s), SettingsError, JSON.stringify(s));
    }
  });
  test('protected settings', () => {
    assert.deepEqual(schemas.validate('protected-settings.schema.json', { policy: { allowDebug: false }, sinks: {} }), []);
    assert.notDeepEqual(schemas.validate('protected-settings.schema.json', { password: 'x' }), []);
    assert.throws(() => validateProtectedSettings({ password: 'x' }), SettingsError);
  });
  test('every schema key is one the extension knows', () => {
    const props = Object.keys(json('extension/settings.schema.json')['properties'] as object);
    for (const k of props) {
      try {
        validatePublicSettings({ [k]: null });
      } catch (e) {
        assert.ok(!(e as Error).message.includes('unknown setting'), k);
      }
    }
  });
});

describe('ARM template (extension/arm)', () => {
  const tpl = json('extension/arm/azuredeploy.json');
  const params = json('extension/arm/azuredeploy.parameters.json');
  const text = JSON.stringify({ resources: tpl['resources'], outputs: tpl['outputs'], variables: tpl['variables'] });
  test('every parameter and variable is used; the parameters file names only real parameters', () => {
    for (const p of Object.keys(tpl['parameters'] as object)) assert.ok(text.includes(`parameters('${p}')`), `parameter ${p} unused`);
    for (const v of Object.keys(tpl['variables'] ?? {})) assert.ok(text.includes(`variables('${v}')`), `variable ${v} unused`);
    const declared = tpl['parameters'] as Record<string, Record<string, unknown>>;
    for (const p of Object.keys(params['parameters'] as object)) assert.ok(p in declared, `unknown parameter ${p}`);
    for (const [p, d] of Object.entries(declared)) if (!('defaultValue' in d)) assert.ok(p in (params['parameters'] as object), `required ${p} not given`);
    assert.equal(declared['protectedSettings']?.['type'], 'secureObject');
  });
  test('the extension resource: publisher.type matches the manifest; settings validate against the schemas', () => {
    // The extension is deployed by an inner template (so that it can be given the VM's location).
    const outer = (tpl['resources'] as Record<string, unknown>[])[0]!;
    assert.equal(outer['type'], 'Microsoft.Resources/deployments');
    const res = (((outer['properties'] as Record<string, unknown>)['template'] as Record<string, unknown>)['resources'] as Record<string, unknown>[])[0]!;
    assert.equal(res['type'], 'Microsoft.Compute/virtualMachines/extensions');
    const props = res['properties'] as Record<string, string>;
    const manifest = JSON.parse(readFileSync(join(root, 'HandlerManifest.json'), 'utf8')) as { name: string }[];
    assert.equal(`${props['publisher']}.${props['type']}`, manifest[0]!.name);
    const declared = tpl['parameters'] as Record<string, { defaultValue?: unknown }>;
    const given = params['parameters'] as Record<string, { value: unknown }>;
    for (const [name, schema] of [
      ['settings', 'settings.schema.json'],
      ['protectedSettings', 'protected-settings.schema.json'],
    ] as const) {
      for (const v of [declared[name]?.defaultValue, given[name]?.value]) {
        if (v === undefined) continue;
        assert.deepEqual(schemas.validate(schema, v), [], `${name}: ${JSON.stringify(v)}`);
      }
    }
    validatePublicSettings(given['settings']!.value as Record<string, unknown>);
    validateProtectedSettings(given['protectedSettings']!.value);
  });
});
