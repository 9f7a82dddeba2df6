// Child process for the crash test: the worker's view of the sinks. Trusts the emulator's CA only
// through NODE_EXTRA_CA_CERTS and reaches IMDS through AZURE_POD_IDENTITY_AUTHORITY_HOST, as a
// deployed agent pointed at emulators would.
import { createSinks } from '../../src/sinks/index.js';
import { makeResult, IDENTITY } from './helpers.js';

const args = JSON.parse(process.argv[2]!) as { stateDir: string; endpoint: string; dcrImmutableId: string; mode: 'deliver' | 'flush'; count?: number };
const sinks = await createSinks(
  { azureMonitor: { endpoint: args.endpoint, dcrImmutableId: args.dcrImmutableId, timeoutMs: 60_000 } },
  {
    stateDir: args.stateDir,
    agentVersion: '0.1.0',
    azure: { clientOptions: { retryOptions: { maxRetries: 0 } }, credentialOptions: { retryOptions: { maxRetries: 0 } } },
  },
);
if (args.mode === 'deliver') {
  for (let i = 0; i < (args.count ?? 1); i++) {
    const failed = i % 2 === 0 ? [{ id: `signature.run${i}`, group: 'signature' as const, status: 'fail' as const, reason: 'bad signature' }] : [];
    const r = await sinks.deliver({ result: makeResult({ failed }), identity: IDENTITY });
    process.stdout.write(`${JSON.stringify({ recordId: r.recordId, alerts: r.alerts.map((a) => a.SystemAlertId), state: r.deliveries[0] })}\n`);
  }
} else {
  process.stdout.write('flushing\n');
  const st = await sinks.flush();
  process.stdout.write(`${JSON.stringify({ state: st[0] })}\n`);
}
await sinks.close();
