// Bad sink settings (refused by src/sinks/settings.ts with InputError) reach the worker as a
// SettingsError naming publicSettings.sinks: the status says "not running" with the settings code
// (2), not an internal error (4), and the heartbeat is NotReady.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeExtensionDir } from '../helpers/extension-dir.js';
import { runWorker, type Engine } from '../../src/extension/worker.js';
import { makeContext } from '../../src/extension/handler-context.js';
import { loadHandlerEnvironment } from '../../src/extension/handler-environment.js';
import { engine as realEngine } from '../../src/extension/engine.js';
import { SettingsError } from '../../src/extension/settings-error.js';
import { ExitCode } from '../../src/base/errors.js';
import { makeResult } from './helpers.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined, close: async () => undefined };
const BAD_SINKS = { syslog: { enabled: 'yes' } };

test('the engine refuses bad sink settings with a SettingsError naming publicSettings.sinks', async () => {
  const d = mkdtempSync(join(tmpdir(), 'es-'));
  dirs.push(d);
  await assert.rejects(
    realEngine.createSinks(BAD_SINKS, { stateDir: d, logger: quiet, signal: new AbortController().signal, agentVersion: 'test' }),
    (e: unknown) => e instanceof SettingsError && e.setting === 'publicSettings.sinks' && /sinks\.syslog\.enabled/.test(e.message),
  );
});

test('a worker with bad sink settings reports them (code 2, NotReady) and exits without a run', async () => {
  const ext = mkdtempSync(join(tmpdir(), 'es-'));
  dirs.push(ext);
  makeExtensionDir(ext, { publicSettings: { freshness: false, sinks: BAD_SINKS } });
  let runs = 0;
  const engine: Engine = {
    async attest() {
      runs++;
      return { result: makeResult() };
    },
    buildPolicy: realEngine.buildPolicy,
    createSinks: realEngine.createSinks,
  };
  assert.equal(await runWorker(makeContext(loadHandlerEnvironment(ext), quiet, {}), { seq: 0, engine, lockWaitMs: 100 }), 0);
  const st = JSON.parse(readFileSync(join(ext, 'status', '0.status'), 'utf8'))[0].status;
  assert.equal(st.status, 'error');
  assert.equal(st.code, ExitCode.Input);
  assert.match(
    st.formattedMessage.message,
    /^cvm-attest is not running: setting publicSettings\.sinks: invalid setting sinks\.syslog\.enabled: must be true or false/,
  );
  const hb = JSON.parse(readFileSync(join(ext, 'heartbeat.log'), 'utf8'))[0].heartbeat;
  assert.equal(hb.status, 'NotReady');
  assert.equal(hb.code, ExitCode.Input);
  assert.equal(runs, 0, 'no attestation run with sinks that cannot be built');
});
