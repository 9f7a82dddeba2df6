// The `serve` process: start the service, wire the sinks (fleet records), wait for SIGTERM/SIGINT,
// drain, exit. Kept apart from server.ts so tests and embedders can start a service without signals.
import { serviceLogger } from './log.js';
import { startService, type ServeOptions } from './server.js';

export async function runServe(o: ServeOptions): Promise<void> {
  const log = o.logger ?? serviceLogger();
  const fleet = o.sinks ? await (await import('./fleet.js')).createFleetRecorder(o.sinks, log) : undefined;
  const service = await startService({ ...o, logger: log }, fleet?.listener);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info('signal', { signal });
      service.close().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await fleet?.close();
  await log.close();
}
