// Deployment: the Container Apps ARM template against the official ARM JSON schemas (vendored from
// Azure/azure-resource-manager-schemas, test/fixtures/schemas/arm/SOURCE.md), and the container image
// definition: the files the Dockerfile's runtime stage copies, laid out as in the image (no
// node_modules: the bundle must be self-contained), started through docker/entrypoint.sh with the
// secrets as environment variables and TLS on, then used over HTTPS by jose as a relying party.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Agent } from 'node:https';
import { generateKeyPairSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { makeSelfSignedTls } from '../emulators/logs-ingestion.js';
import { ROOT, FIX, attestBody, relaxedPolicy, tmp, vector } from './helpers.js';

// Ajv's draft-04 class (the ARM schemas are draft-04), CommonJS.
const Ajv = createRequire(import.meta.url)('ajv-draft-04') as typeof import('ajv-draft-04').default;
type Ajv = InstanceType<typeof Ajv>;
const ARM = join(FIX, 'schemas/arm');
const TEMPLATE = join(ROOT, 'extension/azure/serve/azuredeploy.json');
const load = (p: string): any => JSON.parse(readFileSync(p, 'utf8'));

/** Resource type + apiVersion -> the official schema file and resourceDefinitions entry for it. */
const RESOURCE_SCHEMAS: Record<string, [string, string]> = {
  'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31': ['2023-01-31/Microsoft.ManagedIdentity.json', 'userAssignedIdentities'],
  'Microsoft.Authorization/roleAssignments@2022-04-01': ['2022-04-01/Microsoft.Authorization.json', 'roleAssignments'],
  'Microsoft.Cache/redis@2024-11-01': ['2024-11-01/Microsoft.Cache.json', 'redis'],
  'Microsoft.App/managedEnvironments@2025-01-01': ['2025-01-01/Microsoft.App.json', 'managedEnvironments'],
  'Microsoft.App/containerApps@2025-01-01': ['2025-01-01/Microsoft.App.json', 'containerApps'],
};

function armValidator(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.json') ? [join(d, e.name)] : []));
  for (const f of walk(join(ARM, 'schemas'))) {
    const s = load(f);
    if (f.endsWith('deploymentTemplate.json')) {
      // Its resource list refers to every provider's schemas; each of ours is checked below against
      // its own official definition instead, so here a resource is only held to resourceBase.
      s.definitions.resource = { $ref: '#/definitions/resourceBase' };
    }
    ajv.addSchema(s);
  }
  return ajv;
}

describe('serve deployment', () => {
  it('the Container Apps ARM template validates against the official deploymentTemplate and resource schemas', () => {
    const ajv = armValidator();
    const tpl = load(TEMPLATE);
    const top = ajv.getSchema('https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#')!;
    assert.ok(top(tpl), JSON.stringify(top.errors?.slice(0, 5)));
    for (const r of tpl.resources) {
      const entry = RESOURCE_SCHEMAS[`${r.type}@${r.apiVersion}`];
      assert.ok(entry, `no vendored schema for ${r.type}@${r.apiVersion}`);
      const [file, def] = entry;
      const check = ajv.compile({
        allOf: [
          { $ref: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#/definitions/resourceBase' },
          { $ref: `https://schema.management.azure.com/schemas/${file}#/resourceDefinitions/${def}` },
        ],
      });
      assert.ok(check(r), `${r.type}: ${JSON.stringify(check.errors?.slice(0, 5))}`);
    }
    // The official schemas catch a wrong value: a misspelt transport or a string replica count.
    const bad = structuredClone(tpl.resources.find((r: { type: string }) => r.type === 'Microsoft.App/containerApps'));
    bad.properties.configuration.ingress.transport = 'udp';
    bad.properties.template.scale.minReplicas = 'two';
    const check = ajv.compile({ $ref: 'https://schema.management.azure.com/schemas/2025-01-01/Microsoft.App.json#/resourceDefinitions/containerApps' });
    assert.equal(check(bad), false);
  });

  it('template: user-assigned identity, min/max replicas, Redis over TLS as the replay store, key and TLS from Key Vault, TLS in the app, every parameter used', () => {
    const tpl = load(TEMPLATE);
    const text = JSON.stringify(tpl.resources) + JSON.stringify(tpl.variables) + JSON.stringify(tpl.outputs);
    for (const p of Object.keys(tpl.parameters)) assert.ok(text.includes(`parameters('${p}')`), `parameter ${p} unused`);
    const app = tpl.resources.find((r: { type: string }) => r.type === 'Microsoft.App/containerApps');
    assert.equal(app.identity.type, 'UserAssigned');
    assert.equal(app.properties.template.scale.minReplicas, "[parameters('minReplicas')]");
    assert.equal(app.properties.template.scale.maxReplicas, "[parameters('maxReplicas')]");
    const secrets = Object.fromEntries(app.properties.configuration.secrets.map((s: { name: string }) => [s.name, s]));
    for (const s of ['signing-key', 'tls-cert', 'tls-key']) assert.match(secrets[s].keyVaultUrl, /vaultUri/);
    assert.match(secrets['replay-store'].value, /rediss:\/\//);
    const redis = tpl.resources.find((r: { type: string }) => r.type === 'Microsoft.Cache/redis');
    assert.equal(redis.properties.enableNonSslPort, false);
    assert.equal(app.properties.configuration.ingress.transport, 'tcp', 'TLS ends in the app, not at the ingress');
    const env = app.properties.template.containers[0].env.map((e: { name: string }) => e.name);
    const entry = readFileSync(join(ROOT, 'docker/entrypoint.sh'), 'utf8');
    for (const e of env.filter((n: string) => n.startsWith('CVM_ATTEST_'))) assert.ok(entry.includes(e), `${e} is read by the entrypoint`);
  });

  it('the image layout (the Dockerfile runtime stage, no node_modules) serves HTTPS through the entrypoint; jose verifies its token', async () => {
    const docker = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const runtime = docker.slice(docker.lastIndexOf('\nFROM '));
    const copies = [...runtime.matchAll(/^COPY --from=build \/src\/(\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const);
    assert.ok(copies.length >= 4);
    const image = tmp('image-');
    for (const [from, to] of copies) {
      assert.ok(existsSync(join(ROOT, from)), `${from} exists (npm run build first)`);
      const dest = join(image, to.replace(/^\.\//, ''));
      mkdirSync(dirname(dest), { recursive: true });
      cpSync(join(ROOT, from), dest, { recursive: true });
    }
    assert.equal(existsSync(join(image, 'node_modules')), false);
    const tls = await makeSelfSignedTls();
    const dir = tmp();
    const portFile = join(dir, 'port');
    const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const proc = spawn(join(image, 'docker/entrypoint.sh'), [], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: dir,
        TMPDIR: dir,
        CVM_ATTEST_SIGNING_KEY_PEM: signingKey,
        CVM_ATTEST_TLS_CERT_PEM: tls.cert,
        CVM_ATTEST_TLS_KEY_PEM: tls.key,
        CVM_ATTEST_LISTEN: '127.0.0.1:0',
        CVM_ATTEST_PORT_FILE: portFile,
        CVM_ATTEST_ISSUER: 'https://verifier.example',
        CVM_ATTEST_POLICY_JSON: readFileSync(relaxedPolicy(dir), 'utf8'),
        CVM_ATTEST_WORKERS: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (c) => (out += c));
    proc.stderr.on('data', (c) => (out += c));
    try {
      for (let i = 0; !existsSync(portFile); i++) {
        assert.ok(i < 300 && proc.exitCode === null, `the image did not start: ${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const url = `https://127.0.0.1:${readFileSync(portFile, 'utf8').trim()}`;
      const agent = new Agent({ ca: tls.ca });
      const call = async (path: string, body?: unknown): Promise<any> => {
        const { request } = await import('node:https');
        return new Promise((resolve, reject) => {
          const req = request(url + path, { method: body === undefined ? 'GET' : 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
            let t = '';
            res.on('data', (c) => (t += c));
            res.on('end', () => resolve(JSON.parse(t)));
          });
          req.on('error', reject);
          req.end(body === undefined ? undefined : JSON.stringify(body));
        });
      };
      const { nonce } = await call('/v1/challenge', {});
      const r = await call('/v1/attest', attestBody(nonce, vector('genoa')));
      assert.equal(r.verdict, 'pass', JSON.stringify(r).slice(0, 500));
      const jwks = await call('/certs');
      // The JWKS fetched over the same TLS connection settings (the test CA), then checked locally.
      const { payload } = await jwtVerify(r.token, createLocalJWKSet(jwks), { issuer: 'https://verifier.example' });
      assert.equal(payload.nonce, nonce);
      assert.doesNotMatch(out, /BEGIN (RSA |EC )?PRIVATE KEY/, 'no key in the output');
    } finally {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.on('exit', r));
    }
  });
});
