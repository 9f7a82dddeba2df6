// publicSettings.sinks: the parser and extension/sinks.schema.json agree (keys, defaults, enums), and
// every bad setting is an InputError naming it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parseSinksSettings } from '../../src/sinks/settings.js';
import { createSinks } from '../../src/sinks/index.js';
import { InputError } from '../../src/base/errors.js';
import { fileURLToPath } from 'node:url';
import { schemaValidator } from '../extension/json-schema.js';
import { tempDir } from './helpers.js';

interface Schema {
  properties?: Record<string, Schema>;
  default?: unknown;
  enum?: unknown[];
  examples?: unknown[];
  additionalProperties?: boolean;
  required?: string[];
}
const schema = JSON.parse(await readFile(new URL('../../extension/sinks.schema.json', import.meta.url), 'utf8')) as Schema;
const AM = { endpoint: 'https://dcr-x.westeurope-1.ingest.monitor.azure.com/', dcrImmutableId: 'dcr-0123456789abcdef0123456789abcdef' };

function rejects(raw: unknown, setting: string): void {
  assert.throws(
    () => parseSinksSettings(raw),
    (e: unknown) => e instanceof InputError && e.code === 'E_SINKS_SETTINGS' && e.message.includes(`sinks.${setting}`),
    `expected an error naming sinks.${setting}`,
  );
}

describe('sinks settings', () => {
  test('defaults, as the schema documents them', () => {
    const s = parseSinksSettings({ azureMonitor: AM, syslog: {}, alerts: {} });
    const am = schema.properties!.azureMonitor!.properties!;
    assert.equal(s.azureMonitor!.endpoint, 'https://dcr-x.westeurope-1.ingest.monitor.azure.com');
    assert.equal(s.azureMonitor!.streamName, am.streamName!.default);
    assert.equal(s.azureMonitor!.alertsStreamName, am.alertsStreamName!.default);
    assert.equal(s.azureMonitor!.timeoutMs, am.timeoutMs!.default);
    assert.equal(s.azureMonitor!.credential, am.credential!.default);
    assert.equal(s.azureMonitor!.spool.maxRecords, am.spool!.properties!.maxRecords!.default);
    assert.equal(s.azureMonitor!.spool.maxBytes, am.spool!.properties!.maxBytes!.default);
    assert.equal(s.azureMonitor!.identity, undefined, 'system-assigned by default');
    const al = schema.properties!.alerts!.properties!;
    assert.deepEqual(s.alerts, {
      enabled: al.enabled!.default,
      evidenceUnavailableAfter: al.evidenceUnavailableAfter!.default,
      certificateExpiryDays: al.certificateExpiryDays!.default,
    });
    const sy = schema.properties!.syslog!.properties!;
    assert.deepEqual(s.syslog, { socket: sy.socket!.default, target: undefined, facility: sy.facility!.default, appName: sy.appName!.default });
    assert.deepEqual(parseSinksSettings(undefined).azureMonitor, undefined);
  });

  test('the schema examples parse; the schema lists exactly the keys the parser accepts', () => {
    for (const ex of schema.examples!) parseSinksSettings(ex);
    const walk = (node: Schema, path: string): void => {
      if (!node.properties) return;
      assert.equal(node.additionalProperties, false, `${path}: unknown keys must be rejected`);
      const probe = (extra: string): void => {
        // Build the smallest valid object around `path` carrying an unknown key.
        const parts = path ? path.split('.') : [];
        const base: Record<string, unknown> = { azureMonitor: { ...AM }, syslog: { target: {} }, alerts: {} };
        let cur: Record<string, unknown> = base;
        for (const p of parts) {
          cur[p] ??= {};
          cur = cur[p] as Record<string, unknown>;
        }
        if (path === 'azureMonitor.identity') cur.clientId = '11111111-2222-3333-4444-555555555555';
        cur[extra] = 1;
        rejects(base, `${path ? `${path}.` : ''}${extra}`);
        let msg = '';
        try {
          parseSinksSettings(base);
        } catch (e) {
          msg = (e as Error).message;
        }
        const allowed = /allowed: ([^)]*)\)/.exec(msg)![1]!.split(', ').sort();
        assert.deepEqual(allowed, Object.keys(node.properties!).sort(), `${path}: parser and schema keys`);
      };
      probe('typoKey');
      for (const [k, child] of Object.entries(node.properties)) walk(child, path ? `${path}.${k}` : k);
    };
    walk(schema, '');
    assert.deepEqual(schema.properties!.azureMonitor!.required, ['endpoint', 'dcrImmutableId']);
  });

  test('bad values name the setting', () => {
    rejects('nope', '');
    rejects({ azureMonitor: { ...AM, endpoint: 'http://insecure.example' } }, 'azureMonitor.endpoint');
    rejects({ azureMonitor: { endpoint: AM.endpoint } }, 'azureMonitor.dcrImmutableId');
    rejects({ azureMonitor: { ...AM, dcrImmutableId: 'dcr-XYZ' } }, 'azureMonitor.dcrImmutableId');
    rejects({ azureMonitor: { ...AM, streamName: 'CvmAttestation' } }, 'azureMonitor.streamName');
    rejects({ azureMonitor: { ...AM, identity: { clientId: 'not-a-guid' } } }, 'azureMonitor.identity.clientId');
    rejects(
      { azureMonitor: { ...AM, identity: { clientId: '11111111-2222-3333-4444-555555555555', objectId: '11111111-2222-3333-4444-555555555555' } } },
      'azureMonitor.identity',
    );
    rejects(
      { azureMonitor: { ...AM, identity: { resourceId: '/subscriptions/x/resourceGroups/y/providers/Microsoft.Compute/virtualMachines/z' } } },
      'azureMonitor.identity.resourceId',
    );
    rejects({ azureMonitor: { ...AM, timeoutMs: 5 } }, 'azureMonitor.timeoutMs');
    rejects({ azureMonitor: { ...AM, credential: 'secret' } }, 'azureMonitor.credential');
    rejects({ azureMonitor: { ...AM, spool: { maxRecords: -1 } } }, 'azureMonitor.spool.maxRecords');
    rejects({ alerts: { evidenceUnavailableAfter: 0 } }, 'alerts.evidenceUnavailableAfter');
    rejects({ alerts: { enabled: 'yes' } }, 'alerts.enabled');
    rejects({ syslog: { facility: 'local9' } }, 'syslog.facility');
    rejects({ syslog: { socket: 'dev/log' } }, 'syslog.socket');
    rejects({ syslog: { target: { host: '10.0.0.1' } } }, 'syslog.target.host');
    rejects({ syslog: { target: { protocol: 'tls' } } }, 'syslog.target.protocol');
    rejects({ syslog: { appName: 'has space' } }, 'syslog.appName');
  });

  test('the JSON Schema (as the extension validates it) and the parser agree on good and bad settings', () => {
    const v = schemaValidator(fileURLToPath(new URL('../../extension/', import.meta.url)));
    const cases: [unknown, boolean][] = [
      [{}, true],
      [{ azureMonitor: AM }, true],
      [
        {
          azureMonitor: { ...AM, identity: { resourceId: '/subscriptions/0/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id' } },
          syslog: { target: { port: 514, protocol: 'tcp' } },
        },
        true,
      ],
      [
        {
          azureMonitor: { ...AM, credential: 'default', timeoutMs: 1000, spool: { maxRecords: 10, maxBytes: 4096 } },
          alerts: { enabled: false, evidenceUnavailableAfter: 5, certificateExpiryDays: 10 },
        },
        true,
      ],
      [{ syslog: { socket: '/run/systemd/journal/syslog', facility: 'authpriv', appName: 'cvm' } }, true],
      ['nope', false],
      [{ azureMonitor: { ...AM, endpoint: 'http://insecure.example' } }, false],
      [{ azureMonitor: { endpoint: AM.endpoint } }, false],
      [{ azureMonitor: { ...AM, dcrImmutableId: 'dcr-XYZ' } }, false],
      [{ azureMonitor: { ...AM, streamName: 'CvmAttestation' } }, false],
      [{ azureMonitor: { ...AM, identity: { clientId: 'not-a-guid' } } }, false],
      [{ azureMonitor: { ...AM, identity: { clientId: '11111111-2222-3333-4444-555555555555', objectId: '11111111-2222-3333-4444-555555555555' } } }, false],
      [{ azureMonitor: { ...AM, identity: {} } }, false],
      [{ azureMonitor: { ...AM, timeoutMs: 5 } }, false],
      [{ azureMonitor: { ...AM, credential: 'secret' } }, false],
      [{ azureMonitor: { ...AM, spool: { maxRecords: -1 } } }, false],
      [{ azureMonitor: { ...AM, extra: 1 } }, false],
      [{ alerts: { evidenceUnavailableAfter: 0 } }, false],
      [{ alerts: { enabled: 'yes' } }, false],
      [{ syslog: { facility: 'local9' } }, false],
      [{ syslog: { socket: 'dev/log' } }, false],
      [{ syslog: { target: { host: '10.0.0.1' } } }, false],
      [{ syslog: { target: { protocol: 'tls' } } }, false],
      [{ syslog: { appName: 'has space' } }, false],
      [{ other: {} }, false],
    ];
    for (const [raw, ok] of cases) {
      const errs = v.validate('sinks.schema.json', raw);
      let parsed = true;
      try {
        parseSinksSettings(raw);
      } catch {
        parsed = false;
      }
      assert.equal(errs.length === 0, ok, `schema on ${JSON.stringify(raw)}: ${errs.join('; ')}`);
      assert.equal(parsed, ok, `parser on ${JSON.stringify(raw)}`);
    }
  });

  test('user-assigned identity by resource id; disabled sinks', () => {
    const rid = '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-cvm';
    assert.deepEqual(parseSinksSettings({ azureMonitor: { ...AM, identity: { resourceId: rid } } }).azureMonitor!.identity, { resourceId: rid });
    const off = parseSinksSettings({ azureMonitor: { ...AM, enabled: false }, syslog: { enabled: false } });
    assert.equal(off.azureMonitor, undefined);
    assert.equal(off.syslog, undefined);
  });

  test('createSinks rejects bad settings before touching disk; with no sink configured every sink reports disabled', async () => {
    const t = await tempDir();
    try {
      await assert.rejects(createSinks({ azureMonitor: { endpoint: 'x' } }, { stateDir: t.dir }), InputError);
      const sinks = await createSinks({}, { stateDir: t.dir });
      const r = await sinks.deliver({ error: Object.assign(new Error('no TPM'), { code: 'TPM_UNAVAILABLE' }) });
      assert.deepEqual(
        r.deliveries.map((d) => [d.name, d.status]),
        [
          ['azureMonitor', 'disabled'],
          ['syslog', 'disabled'],
        ],
      );
      assert.deepEqual(
        sinks.state().map((d) => d.status),
        ['disabled', 'disabled'],
      );
    } finally {
      await t.cleanup();
    }
  });
});
