// Extension telemetry events, proved with the real Azure Linux agent's collection code
// (test/agent/collect-events.py runs azurelinuxagent/ga/collect_telemetry_events.py over the folder):
// what install, enable and each run write reaches the agent's send queue, within its limits.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeExtensionDir } from '../helpers/extension-dir.js';
import { agentPythonPath, root } from './agent-harness.js';
import { EVENT_FILE_RE, EVENT_LIMITS, MAX_PENDING_FILES, formatEvent, writeExtensionEvent, eventFileName } from '../../src/extension/telemetry.js';
import { loadHandlerEnvironment, type HandlerEnvironment } from '../../src/extension/handler-environment.js';
import { install, enable } from '../../src/extension/handlers.js';
import { makeContext } from '../../src/extension/handler-context.js';
import { createExtLogger } from '../../src/extension/logger.js';
import { runWorker, type Engine } from '../../src/extension/worker.js';
import { makeResult } from '../sinks/helpers.js';

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
const HANDLER = 'CvmAttest.Security.SnpAttestation';
const py = agentPythonPath(); // throws with the reason when the real agent cannot be found

function extDir(): { ext: string; env: HandlerEnvironment } {
  const ext = mkdtempSync(join(tmpdir(), 'cvm-attest-events-'));
  made.push(ext);
  makeExtensionDir(ext, { name: HANDLER, events: true });
  return { ext, env: loadHandlerEnvironment(ext) };
}
interface Collected {
  events: Record<string, string>[];
  left: string[];
}
function collect(folder: string): Collected {
  const r = spawnSync('/usr/bin/python3', [join(root, 'test/agent/collect-events.py'), HANDLER, folder], {
    env: { PYTHONPATH: py, PATH: '/usr/bin:/bin' },
    encoding: 'utf8',
    cwd: tmpdir(),
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Collected;
}

describe('extension telemetry events (the real agent collects them)', () => {
  test('an event file is collected as the agent sends it: EventName handler-version, level, message, operation', () => {
    const { env } = extDir();
    assert.equal(
      writeExtensionEvent(
        env,
        { taskName: 'Attestation', level: 'Warning', message: 'verdict fail (Genoa); failed: policy.debug', operationId: 'seq-3' },
        '0.1.2',
      ),
      true,
    );
    const files = readdirSync(env.eventsFolder!);
    assert.equal(files.length, 1);
    assert.match(files[0]!, EVENT_FILE_RE);
    const c = collect(env.eventsFolder!);
    assert.equal(c.events.length, 1);
    const e = c.events[0]!;
    assert.equal(e['EventName'], `${HANDLER}-0.1.2`);
    assert.equal(e['TaskName'], 'Attestation');
    assert.equal(e['CapabilityUsed'], 'Warning');
    assert.equal(e['Context1'], 'verdict fail (Genoa); failed: policy.debug');
    assert.equal(e['Context3'], 'seq-3');
    assert.deepEqual(c.left, [], 'the agent deletes what it read');
  });

  test('limits: a huge message is cut so the agent keeps the event (it drops one over 6144 characters)', () => {
    const { env } = extDir();
    const long = 'x'.repeat(20_000);
    const f = formatEvent({ taskName: 'Attestation', level: 'Error', message: long, operationId: 'o'.repeat(5000) }, '0.1.2', new Date(), 1);
    assert.ok(f['Message']!.length <= EVENT_LIMITS.messageChars);
    assert.ok(Object.values(f).reduce((n, v) => n + v.length, 0) <= EVENT_LIMITS.eventChars);
    writeExtensionEvent(env, { taskName: 'Attestation', level: 'Error', message: long, operationId: 'o'.repeat(5000) }, '0.1.2');
    // The agent's own limit is real: the same event written naively is dropped.
    writeFileSync(join(env.eventsFolder!, '1.json'), JSON.stringify({ ...f, Message: 'y'.repeat(3000), OperationId: 'z'.repeat(4000) }));
    const c = collect(env.eventsFolder!);
    assert.equal(c.events.length, 1, 'ours collected, the oversized one dropped');
    assert.equal(c.events[0]!['Context1'], 'x'.repeat(c.events[0]!['Context1']!.length));
  });

  test('install and enable (invalid settings) write their events; no eventsFolder, no file; a folder the agent does not empty stops growing', async () => {
    const { ext, env } = extDir();
    const logger = createExtLogger({ logFolder: join(ext, 'log'), operation: 'test' });
    const ctx = makeContext(env, logger, { ConfigSequenceNumber: '0', AZURE_GUEST_AGENT_EXTENSION_VERSION: '0.1.5' });
    assert.equal(await install(ctx), 0);
    writeFileSync(join(ext, 'config', '0.settings'), JSON.stringify({ runtimeSettings: [{ handlerSettings: { publicSettings: { intervalMinutes: 0 } } }] }));
    assert.equal(await enable(ctx), 0);
    const c = collect(env.eventsFolder!);
    const byTask = Object.fromEntries(c.events.map((e) => [e['TaskName'], e]));
    assert.equal(byTask['Install']?.['EventName'], `${HANDLER}-0.1.5`);
    assert.match(byTask['Install']!['Context1'], /installed/);
    assert.equal(byTask['Enable']?.['CapabilityUsed'], 'Error');
    assert.match(byTask['Enable']!['Context1'], /invalid settings: .*intervalMinutes/);
    assert.equal(byTask['Enable']!['Context3'], 'seq-0');

    const { eventsFolder: _e, ...noEvents } = env;
    assert.equal(writeExtensionEvent(noEvents, { taskName: 'T', level: 'Informational', message: 'm', operationId: 'o' }, '1'), false);
    for (let i = 0; i < MAX_PENDING_FILES; i++) writeFileSync(join(env.eventsFolder!, eventFileName(new Date())), '{}');
    const warned: string[] = [];
    assert.equal(
      writeExtensionEvent(env, { taskName: 'T', level: 'Informational', message: 'm', operationId: 'o' }, '1', { warn: (m) => warned.push(m) }),
      false,
    );
    assert.match(warned.join('\n'), /not collecting/);
    assert.equal(readdirSync(env.eventsFolder!).length, MAX_PENDING_FILES);
  });

  test('each worker run writes its verdict: pass Informational, fail Warning (statusOnFailure warning), no evidence Error', async () => {
    const { ext, env } = extDir();
    writeFileSync(
      join(ext, 'config', '0.settings'),
      JSON.stringify({ runtimeSettings: [{ handlerSettings: { publicSettings: { jitterPercent: 0, freshness: false, statusOnFailure: 'warning' } } }] }),
    );
    writeFileSync(join(ext, 'mrseq'), '0');
    const logger = createExtLogger({ logFolder: env.logFolder, operation: 'worker' });
    let runs = 0;
    const engine: Engine = {
      async attest() {
        runs++;
        if (runs === 1) return { result: makeResult(), warnings: [] };
        if (runs === 2) return { result: makeResult({ failed: [{ id: 'policy.debug', group: 'policy', status: 'fail', reason: 'DEBUG set' }] }), warnings: [] };
        throw new Error('boom');
      },
      async buildPolicy() {
        return undefined;
      },
      async createSinks() {
        return undefined;
      },
    };
    const stop = new AbortController();
    const done = runWorker(makeContext(env, logger, { AZURE_GUEST_AGENT_EXTENSION_VERSION: '0.1.9' }), { seq: 0, engine, minuteMs: 1, signal: stop.signal });
    const deadline = Date.now() + 10_000;
    while (readdirSync(env.eventsFolder!).filter((f) => EVENT_FILE_RE.test(f)).length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    stop.abort();
    assert.equal(await done, 0);
    await logger.close();
    const runsSeen = collect(env.eventsFolder!)
      .events.filter((e) => e['TaskName'] === 'Attestation')
      .sort((a, b) => String(a['Context2']).localeCompare(String(b['Context2'])));
    assert.ok(runsSeen.length >= 3, JSON.stringify(runsSeen));
    assert.deepEqual(
      runsSeen.slice(0, 3).map((e) => e['CapabilityUsed']),
      ['Informational', 'Warning', 'Error'],
    );
    assert.match(runsSeen[0]!['Context1']!, /^verdict pass/);
    assert.match(runsSeen[1]!['Context1']!, /^verdict fail.*failed: policy\.debug/);
    assert.match(runsSeen[2]!['Context1']!, /^no verdict: internal error: boom/);
    for (const e of runsSeen) {
      assert.equal(e['EventName'], `${HANDLER}-0.1.9`);
      assert.equal(e['Context3'], 'seq-0');
    }
  });
});
