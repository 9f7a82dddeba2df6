// The worker's side of delivery, in process: the status follows a retry the sinks ran by themselves
// (no waiting for the next run), a delivery that throws leaves an error substatus (never none), and
// the real engine puts the VM identity IMDS gave on a run whose evidence could not be collected.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeExtensionDir } from '../helpers/extension-dir.js';
import { runWorker, type Engine, type WorkerSinks } from '../../src/extension/worker.js';
import { makeContext } from '../../src/extension/handler-context.js';
import { loadHandlerEnvironment } from '../../src/extension/handler-environment.js';
import type { SinkDelivery } from '../../src/sinks/types.js';
import { engine as realEngine } from '../../src/extension/engine.js';
import { CollectionError } from '../../src/base/errors.js';
import { startImdsEmulator } from '../emulators/imds.js';
import { startImdsTokenEmulator } from '../emulators/imds-token.js';
import { isolateAzureEnv, makeResult } from './helpers.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined, close: async () => undefined };

function extDir(): string {
  const ext = mkdtempSync(join(tmpdir(), 'wd-'));
  dirs.push(ext);
  makeExtensionDir(ext, { publicSettings: { intervalMinutes: 60, jitterPercent: 0, freshness: false, sinks: {} } });
  return ext;
}
type Sub = { name: string; status: string; formattedMessage: { message: string } };
function sinkSub(ext: string): Sub | undefined {
  try {
    const doc = JSON.parse(readFileSync(join(ext, 'status', '0.status'), 'utf8')) as [{ status: { substatus: Sub[] } }];
    return doc[0].status.substatus.find((s) => s.name.startsWith('sink: '));
  } catch {
    return undefined;
  }
}
async function until(fn: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    assert.ok(Date.now() < end, 'timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('worker delivery status', () => {
  test('a retry that delivers the queue rewrites the status at once (not "queued" until the next run)', async () => {
    const ext = extDir();
    let tell: ((d: readonly SinkDelivery[]) => void) | undefined;
    const engine: Engine = {
      async attest() {
        return { result: makeResult(), warnings: [] };
      },
      async buildPolicy() {
        return undefined;
      },
      async createSinks(_s, c): Promise<WorkerSinks> {
        tell = c.onStateChange;
        return {
          deliver: async () => ({ deliveries: [{ name: 'azureMonitor', status: 'queued', message: '1 waiting: HTTP 503', queueDepth: 1 }], alerts: [] }),
        };
      },
    };
    const stop = new AbortController();
    const done = runWorker(makeContext(loadHandlerEnvironment(ext), quiet, {}), { seq: 0, engine, signal: stop.signal });
    try {
      await until(() => sinkSub(ext)?.status === 'warning');
      assert.match(sinkSub(ext)!.formattedMessage.message, /^queued/);
      assert.ok(tell, 'the worker gives the sinks a state callback');
      tell([{ name: 'azureMonitor', status: 'delivered', message: '1 record delivered', queueDepth: 0, lastDeliveryAt: new Date().toISOString() }]);
      const s = sinkSub(ext)!;
      assert.equal(s.status, 'success');
      assert.match(s.formattedMessage.message, /^delivered: 1 record delivered/);
    } finally {
      stop.abort();
      assert.equal(await done, 0);
    }
  });

  test('a delivery that throws leaves an error substatus for the sinks', async () => {
    const ext = extDir();
    const engine: Engine = {
      async attest() {
        return { result: makeResult(), warnings: [] };
      },
      async buildPolicy() {
        return undefined;
      },
      async createSinks(): Promise<WorkerSinks> {
        return {
          deliver: async () => {
            throw new Error('EROFS: read-only file system');
          },
        };
      },
    };
    const stop = new AbortController();
    const done = runWorker(makeContext(loadHandlerEnvironment(ext), quiet, {}), { seq: 0, engine, signal: stop.signal });
    try {
      await until(() => sinkSub(ext) !== undefined);
      const s = sinkSub(ext)!;
      assert.equal(s.status, 'error');
      assert.match(s.formattedMessage.message, /failed: delivery failed: EROFS/);
    } finally {
      stop.abort();
      assert.equal(await done, 0);
    }
  });

  test('the real engine: a run whose TPM read failed carries the VM identity IMDS gave', async () => {
    const imds = await startImdsEmulator({ vmId: '5a0c7b40-1e2f-4c6a-9d3e-0123456789ab' });
    const token = await startImdsTokenEmulator();
    isolateAzureEnv(token.url);
    const state = mkdtempSync(join(tmpdir(), 'wd-state-'));
    dirs.push(state);
    try {
      const signal = new AbortController().signal;
      const err = await realEngine
        .attest({ tpm: 'device:/nonexistent/tpmrm0', imdsEndpoint: imds.url, cacheDir: join(state, 'cache'), quote: false, signal })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(err instanceof CollectionError, String(err));
      // Azure Monitor unreachable (closed port): the record stays spooled, where we read it.
      const sinks = await realEngine.createSinks(
        {
          azureMonitor: { endpoint: 'https://127.0.0.1:9', dcrImmutableId: 'dcr-00000000000000000000000000000001', timeoutMs: 1000 },
          alerts: { evidenceUnavailableAfter: 1 },
        },
        { stateDir: state, logger: quiet, signal, agentVersion: 'test' },
      );
      const r = await sinks!.deliver({ error: err, identity: undefined });
      await sinks!.close?.();
      const read = (d: string): Record<string, unknown>[] =>
        readdirSync(d)
          .filter((f) => f.endsWith('.json') && f !== 'state.json')
          .map((f) => (JSON.parse(readFileSync(join(d, f), 'utf8')) as { record: Record<string, unknown> }).record);
      const [rec] = read(join(state, 'sinks', 'spool', 'azure-monitor'));
      assert.equal(rec!.Verdict, 'error');
      assert.equal(rec!.VmId, '5a0c7b40-1e2f-4c6a-9d3e-0123456789ab');
      assert.match(String(rec!.ResourceId), /virtualMachines\/cvm-01$/);
      const alerts = read(join(state, 'sinks', 'spool', 'azure-monitor-alerts'));
      const eu = alerts.find((a) => a.AlertType === 'CvmAttest_EvidenceUnavailable');
      assert.equal(eu?.VmId, '5a0c7b40-1e2f-4c6a-9d3e-0123456789ab');
      assert.equal(r.deliveries[0]!.status, 'queued');
    } finally {
      await imds.close();
      await token.close();
    }
  });

  test('the real engine: bad sink settings are a settings error naming publicSettings.sinks', async () => {
    const state = mkdtempSync(join(tmpdir(), 'wd-state-'));
    dirs.push(state);
    const e = await realEngine
      .createSinks({ azureMonitor: { endpoint: 'not a url' } }, { stateDir: state, logger: quiet, signal: new AbortController().signal, agentVersion: 'test' })
      .then(
        () => undefined,
        (x: unknown) => x,
      );
    const { SettingsError } = await import('../../src/extension/settings.js');
    assert.ok(e instanceof SettingsError, String(e));
    assert.match((e as Error).message, /sinks/);
  });
});
