// Fleet reporting entry point for the extension worker: one SinkSet per worker, `deliver()` after
// every run. Each run becomes one attestation record plus the alerts it raises; both are spooled
// durably before any network I/O, then flushed. The Azure SDK is imported only when Azure Monitor is
// configured (see azure-monitor.ts).
import { randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-file.js';
import { alertRecord, evaluateAlerts, loadAlertState, saveAlertState, type AlertState, type SecurityAlert } from './alerts.js';
import type { AzureMonitorClientOptions, AzureMonitorSink } from './azure-monitor.js';
import { buildRecord } from './record.js';
import { parseSinksSettings, type SinksSettings } from './settings.js';
import type { SyslogSink } from './syslog.js';
import type { SinkDelivery, SinkLogger, SinkOutcome } from './types.js';

export type { SecurityAlert } from './alerts.js';
export type { SinkDelivery, SinkOutcome, SinkIdentity, SinkLogger } from './types.js';
export type { SinksSettings } from './settings.js';
export { parseSinksSettings } from './settings.js';

export interface SinksContext {
  /** Extension state directory; sinks keep their spools and alert state under `<stateDir>/sinks`. */
  readonly stateDir: string;
  readonly logger?: SinkLogger;
  readonly agentVersion?: string;
  /** Aborts a delivery in progress (the worker stopping). */
  readonly signal?: AbortSignal;
  /** Unused; kept for the worker's contract (the SDK reads proxy settings from process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Azure SDK options (tests and demos: tlsOptions for an emulator's CA, short retries). */
  readonly azure?: AzureMonitorClientOptions;
  /** Path of util-linux `logger` for the syslog sink (default: from PATH). */
  readonly loggerPath?: string;
  /**
   * Re-flush of what is still spooled after a failed delivery, without waiting for the next run:
   * exponential from `baseMs` (default 30 s) to `maxMs` (default 15 min), each delay randomised to
   * 50-100% so a throttled fleet does not retry in step. `false` disables it. The timer is unref'd.
   */
  readonly retry?: { readonly baseMs?: number; readonly maxMs?: number } | false;
}

export interface DeliverResult {
  readonly deliveries: SinkDelivery[];
  /** Alerts this run raised (also shown in the extension status). */
  readonly alerts: SecurityAlert[];
  /** RecordId of the run's record. */
  readonly recordId: string;
}

export interface SinkSet {
  readonly settings: SinksSettings;
  /** Records one run (verdict or failed collection), raises its alerts, spools both, then flushes. */
  deliver(outcome: SinkOutcome): Promise<DeliverResult>;
  /** Each sink's delivery state, for the extension status and `cvm-attest status`. */
  state(): SinkDelivery[];
  /** Sends what is spooled (e.g. before the worker stops, or on a retry timer). */
  flush(opts?: { signal?: AbortSignal; timeoutMs?: number }): Promise<SinkDelivery[]>;
  close(): Promise<void>;
}

const STATUS_FILE = 'status.json';

async function loadStatus(dir: string): Promise<Map<string, SinkDelivery>> {
  try {
    const list = JSON.parse(await readFile(join(dir, STATUS_FILE), 'utf8')) as unknown;
    if (!Array.isArray(list)) return new Map();
    return new Map(list.filter((d): d is SinkDelivery => typeof d === 'object' && d !== null && typeof (d as SinkDelivery).name === 'string'
      && typeof (d as SinkDelivery).status === 'string' && typeof (d as SinkDelivery).message === 'string').map((d) => [d.name, d]));
  } catch {
    return new Map();
  }
}

const disabled = (name: string): SinkDelivery => ({ name, status: 'disabled', message: 'not configured', queueDepth: 0 });

export async function createSinks(rawSettings: unknown, ctx: SinksContext): Promise<SinkSet> {
  const settings = parseSinksSettings(rawSettings);
  const dir = join(ctx.stateDir, 'sinks');
  let azure: AzureMonitorSink | undefined;
  let syslog: SyslogSink | undefined;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const previous = await loadStatus(dir);
  if (settings.azureMonitor) {
    const { AzureMonitorSink: Sink } = await import('./azure-monitor.js');
    azure = await Sink.create(settings.azureMonitor, { stateDir: dir, logger: ctx.logger, previous: previous.get('azureMonitor'), ...ctx.azure });
  }
  if (settings.syslog) {
    const { SyslogSink: Sink } = await import('./syslog.js');
    syslog = await Sink.create(settings.syslog, { stateDir: dir, logger: ctx.logger, agentVersion: ctx.agentVersion, previous: previous.get('syslog'), ...(ctx.loggerPath ? { loggerPath: ctx.loggerPath } : {}) });
  }
  let alertState: AlertState | undefined;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let retryAttempt = 0;
  const retryBase = ctx.retry === false ? 0 : ctx.retry?.baseMs ?? 30_000;
  const retryMax = ctx.retry === false ? 0 : ctx.retry?.maxMs ?? 15 * 60_000;
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => { const p = chain.then(fn, fn); chain = p.catch(() => undefined); return p; };

  const scheduleRetry = (deliveries: readonly SinkDelivery[]): void => {
    clearTimeout(retryTimer);
    retryTimer = undefined;
    const waiting = deliveries.filter((d) => d.queueDepth > 0 && (d.status === 'queued' || d.status === 'failed'));
    if (closed || ctx.signal?.aborted || retryBase <= 0 || waiting.length === 0) { retryAttempt = 0; return; }
    // A refusal (403: role not granted yet) is retried at the slowest pace; throttling and outages back off.
    const base = waiting.some((d) => d.status === 'queued') ? Math.min(retryMax, retryBase * 2 ** Math.min(retryAttempt, 20)) : retryMax;
    retryAttempt++;
    retryTimer = setTimeout(() => { void serial(() => flush()).then(scheduleRetry, () => undefined); }, Math.round(base * (0.5 + Math.random() * 0.5)));
    retryTimer.unref();
  };

  ctx.signal?.addEventListener('abort', () => { clearTimeout(retryTimer); retryTimer = undefined; }, { once: true });

  const state = (): SinkDelivery[] => [azure?.state() ?? disabled('azureMonitor'), syslog?.state() ?? disabled('syslog')];
  const flush = async (opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<SinkDelivery[]> => {
    const signal = opts.signal ?? ctx.signal;
    await Promise.all([azure?.flush({ signal, timeoutMs: opts.timeoutMs }), syslog?.flush()]);
    const now = state();
    // For `cvm-attest status` and the next process: the last delivery state, written atomically.
    await writeFileAtomic(join(dir, STATUS_FILE), JSON.stringify(now), { syncDir: false }).catch((e: unknown) => ctx.logger?.warn('cannot write sinks status', { error: String(e) }));
    return now;
  };

  return {
    settings,
    deliver: (outcome) => serial(async () => {
      const recordId = randomUUID();
      const record = buildRecord(outcome, { agentVersion: ctx.agentVersion, recordId });
      alertState ??= await loadAlertState(dir);
      const { alerts, state: next } = evaluateAlerts(alertState, outcome, { settings: settings.alerts, recordId, agentVersion: ctx.agentVersion });
      // Spool first, then remember the state: a crash in between re-raises an alert, never loses one.
      await azure?.enqueue([record], alerts.map(alertRecord));
      if (alerts.length > 0) await syslog?.enqueue(alerts);
      await saveAlertState(dir, next);
      alertState = next;
      for (const a of alerts) ctx.logger?.warn(`alert: ${a.AlertName}`, { alertType: a.AlertType, severity: a.AlertSeverity, systemAlertId: a.SystemAlertId });
      const deliveries = await flush();
      retryAttempt = 0;
      scheduleRetry(deliveries);
      return { deliveries, alerts, recordId };
    }),
    state,
    flush: (opts) => serial(() => flush(opts)).then((d) => { scheduleRetry(d); return d; }),
    close: async () => { closed = true; clearTimeout(retryTimer); await chain; },
  };
}
