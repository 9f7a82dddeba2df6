// The Azure SDK is loaded only when Azure Monitor is configured (and only when a flush needs it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

function loaded(settings: unknown, flush = false): string[] {
  const log = `${process.env.TMPDIR ?? '/tmp'}/lazy-${process.pid}-${Math.random().toString(36).slice(2)}.log`;
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      fileURLToPath(new URL('./lazy/register.mjs', import.meta.url)),
      fileURLToPath(new URL('./lazy/child.ts', import.meta.url)),
      JSON.stringify(settings),
      flush ? 'flush' : '',
    ],
    { env: { ...process.env, LAZY_LOG: log, AZURE_POD_IDENTITY_AUTHORITY_HOST: 'http://127.0.0.1:9', NO_PROXY: '*' }, encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  try {
    return readFileSync(log, 'utf8').split('\n');
  } catch {
    return [];
  }
}

test('no Azure SDK without an azureMonitor sink; loaded when one is configured', async () => {
  {
    const without = loaded({ alerts: {} });
    assert.ok(
      without.some((u) => u.includes('/src/sinks/index')),
      'the hook saw our modules',
    );
    assert.ok(!without.some((u) => u.includes('@azure')), 'no @azure module loaded');
    const withAm = loaded({ azureMonitor: { endpoint: 'https://127.0.0.1:9', dcrImmutableId: 'dcr-0123456789abcdef0123456789abcdef', timeoutMs: 300 } }, true);
    assert.ok(withAm.some((u) => u.includes('@azure/monitor-ingestion')));
    assert.ok(withAm.some((u) => u.includes('@azure/identity')));
  }
});
