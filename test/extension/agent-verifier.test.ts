// The extension's verifier mode (`settings.verifier`) driven by the REAL Azure Linux agent (as in
// agent.test.ts): the worker asks a real `cvm-attest serve` on loopback for a nonce, collects (the
// Genoa HCL report replayed through `file:`, IMDS emulator), submits, and the status the agent
// uploads shows the remote verdict and the token's jti beside the local verdict; a strict verifier's
// fail and a verifier that is down are clear statuses (error / warning per statusOnFailure).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentPythonPath, buildPackage, startAgentHarness, settleStatus, HANDLER, type AgentHarness, type HandlerAggregate } from './agent-harness.js';
import { fixturePath, text as fx } from '../helpers/fixtures.js';
import { startImdsEmulator, type ImdsEmulator } from '../emulators/imds.js';
import { freePort, relaxedPolicy, serve, tmp, writeKey, type Served } from '../service/helpers.js';

const GENOA_TPM = `file:${fixturePath('azure-hcl/genoa')}`;
const V1 = '1.0.0';

function killWorkers(under: string): void {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      const i = argv.indexOf('worker');
      if (i > 0 && argv[i - 1] === 'handler' && argv.some((a) => a.startsWith(under))) process.kill(Number(d), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

describe('VM extension verifier mode with the real Azure Linux agent', { timeout: 240_000 }, () => {
  let py: string;
  const work = mkdtempSync(join(tmpdir(), 'cvm-attest-agent-v-'));
  let agent: AgentHarness;
  let genoa: ImdsEmulator;
  let relaxed: Served;
  let strict: Served;

  const settle = (seq: number, timeoutMs = 60_000): Promise<HandlerAggregate> => settleStatus(agent, seq, timeoutMs);

  before(async () => {
    py = agentPythonPath();
    const dir = tmp();
    const key = writeKey(join(dir, 'key.pem'));
    [relaxed, strict] = await Promise.all([serve(['--signing-key', key, '--policy', relaxedPolicy(dir)]), serve(['--signing-key', key])]);
    const z1 = await buildPackage(V1, join(work, 'packages'));
    genoa = await startImdsEmulator({ thim: { vcekPem: fx('azure-hcl/genoa/vcek.pem'), chainPem: fx('amd/ask_ark_genoa.pem'), tcbm: '541700000000000A' } });
    agent = startAgentHarness(py, { CVM_ATTEST_TPM: GENOA_TPM, CVM_ATTEST_IMDS_ENDPOINT: genoa.url, NO_PROXY: '127.0.0.1,localhost' });
    await agent.call({ op: 'init', work, handler: HANDLER, packages: { [V1]: z1 } });
  });

  after(async () => {
    await agent?.close();
    killWorkers(work);
    await Promise.all([relaxed?.stop(), strict?.stop(), genoa?.close()]);
    rmSync(work, { recursive: true, force: true });
  });

  test('remote pass with jti beside the local verdict; a strict verifier fails it; a verifier that is down is a warning', async () => {
    // The replayed report's recorded quote cannot answer a verifier's nonce: no quote (freshness false).
    await agent.call({ op: 'goal_state', version: V1, seq: 0, public: { intervalMinutes: 60, freshness: false, verifier: { endpoint: relaxed.url } } });
    await agent.call({ op: 'run' });
    let st = (await settle(0)).runtimeSettingsStatus!.settingsStatus.status;
    assert.equal(st.status, 'success', st.formattedMessage?.message);
    assert.match(
      st.formattedMessage!.message,
      /^REMOTE PASS \(127\.0\.0\.1:\d+, token jti [0-9a-f]{64}, not fresh\) \| local: PASS: genuine AMD SEV-SNP \(Genoa\)/,
    );
    const remoteSub = st.substatus!.find((s) => s.name === 'remote verifier')!;
    assert.equal(remoteSub.status, 'success');
    assert.ok(
      st.substatus!.some((s) => s.name === 'check: signature'),
      'the local checks are still shown',
    );
    const jti = /token jti ([0-9a-f]{64})/.exec(st.formattedMessage!.message)![1]!;
    assert.match(relaxed.stdout(), new RegExp(`"jti":"${jti}"`), 'the verifier issued that token');

    await agent.call({ op: 'goal_state', version: V1, seq: 1, public: { intervalMinutes: 60, freshness: false, verifier: { endpoint: strict.url } } });
    await agent.call({ op: 'run' });
    st = (await settle(1)).runtimeSettingsStatus!.settingsStatus.status;
    assert.equal(st.status, 'error', 'statusOnFailure error by default');
    assert.match(st.formattedMessage!.message, /^REMOTE FAIL \(127\.0\.0\.1:\d+\) \| local: PASS/);
    assert.match(st.substatus!.find((s) => s.name === 'remote verifier')!.formattedMessage!.message, /failed: .*policy\.freshness/);

    const port = await freePort();
    await agent.call({
      op: 'goal_state',
      version: V1,
      seq: 2,
      public: { intervalMinutes: 60, freshness: false, statusOnFailure: 'warning', verifier: { endpoint: `http://127.0.0.1:${port}` } },
    });
    await agent.call({ op: 'run' });
    st = (await settle(2)).runtimeSettingsStatus!.settingsStatus.status;
    assert.equal(st.status, 'warning');
    assert.match(st.formattedMessage!.message, /^REMOTE VERIFIER UNAVAILABLE \(127\.0\.0\.1:\d+\) \| local: PASS/);
    assert.match(st.substatus!.find((s) => s.name === 'remote verifier')!.formattedMessage!.message, /unreachable.*E_VERIFIER_UNAVAILABLE/);

    // http:// off loopback is a settings error naming the setting.
    await agent.call({ op: 'goal_state', version: V1, seq: 3, public: { verifier: { endpoint: 'http://verifier.example.com' } } });
    await agent.call({ op: 'run' });
    st = (await settle(3)).runtimeSettingsStatus!.settingsStatus.status;
    assert.equal(st.status, 'error');
    assert.match(st.formattedMessage!.message, /publicSettings\.verifier\.endpoint/);
  });
});
