// Fleet reporting entry point for the extension worker: one SinkSet per worker, `deliver()` after
// every run. Each run becomes one attestation record plus the alerts it raises; both are spooled
// durably before any network I/O, then flushed. The Azure SDK is imported only when Azure Monitor is
// configured (see azure-monitor.ts).
import { randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-file.js';
import { alertRecord, type SecurityAlert } from './alert-catalogue.js';
import { deliveryDroppedAlert, evaluateAlerts, type DropFacts } from './alert-rules.js';
import { loadAlertState, saveAlertState, type AlertState } from './alert-state.js';
import { SINKS_STATUS_FILE } from './layout.js';
import type { AzureMonitorClientOptions, AzureMonitorSink } from './azure-monitor.js';
import { buildRecord } from './record.js';
import { parseSinksSettings, type SinksSettings } from './settings.js';
import type { SyslogSink } from './syslog.js';
import { isFailedOutcome, type SinkDelivery, type SinkIdentity, type SinkLogger, type SinkOutcome } from './types.js';

export type { SecurityAlert } from './alert-catalogue.js';
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
  /** Called with the new delivery state after a flush the set started by itself (retry timer), so the extension status follows it. */
  readonly onStateChange?: (deliveries: SinkDelivery[]) => void;
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

async function loadStatus(dir: string): Promise<Map<string, SinkDelivery>> {
  try {
    const list = JSON.parse(await readFile(join(dir, SINKS_STATUS_FILE), 'utf8')) as unknown;
    if (!Array.isArray(list)) return new Map();
    return new Map(
      list
        .filter(
          (d): d is SinkDelivery =>
            typeof d === 'object' &&
            d !== null &&
            typeof (d as SinkDelivery).name === 'string' &&
            typeof (d as SinkDelivery).status === 'string' &&
            typeof (d as SinkDelivery).message === 'string',
        )
        .map((d) => [d.name, d]),
    );
  } catch {
    return new Map();
  }
}

const IDENTITY_FILE = 'identity.json';
const DROPS_FILE = 'drops-alerted.json';
const IDENTITY_KEYS = ['vmId', 'resourceId', 'subscriptionId', 'resourceGroupName', 'name', 'location', 'vmSize'] as const;

/** The VM identity of the last run that read one, with when: failed runs carry it (fleet queries group by VmId). */
async function loadIdentity(dir: string): Promise<{ identity: SinkIdentity; at: string } | undefined> {
  try {
    const doc = JSON.parse(await readFile(join(dir, IDENTITY_FILE), 'utf8')) as { identity?: Record<string, unknown>; at?: unknown };
    const id = Object.fromEntries(
      IDENTITY_KEYS.flatMap((k) => (typeof doc.identity?.[k] === 'string' && doc.identity[k].length <= 1024 ? [[k, doc.identity[k]]] : [])),
    );
    return typeof id.vmId === 'string' && typeof doc.at === 'string' ? { identity: id, at: doc.at } : undefined;
  } catch {
    return undefined;
  }
}
function pickIdentity(id: SinkIdentity | undefined): SinkIdentity | undefined {
  if (!id?.vmId) return undefined;
  return Object.fromEntries(IDENTITY_KEYS.flatMap((k) => (typeof id[k] === 'string' ? [[k, id[k]]] : [])));
}

async function loadDropsAlerted(dir: string): Promise<Record<string, number>> {
  try {
    const doc = JSON.parse(await readFile(join(dir, DROPS_FILE), 'utf8')) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(doc).filter(([, v]) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) as Record<string, number>;
  } catch {
    return {};
  }
}

const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').slice(0, 300);

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
    syslog = await Sink.create(settings.syslog, {
      stateDir: dir,
      logger: ctx.logger,
      agentVersion: ctx.agentVersion,
      previous: previous.get('syslog'),
      ...(ctx.loggerPath ? { loggerPath: ctx.loggerPath } : {}),
    });
  }
  let alertState: AlertState | undefined;
  let lastIdentity: { identity: SinkIdentity; at: string } | undefined | null = null;
  let dropsAlerted: Record<string, number> | undefined;
  let lastRecordId: string | undefined;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let retryAttempt = 0;
  const retryBase = ctx.retry === false ? 0 : (ctx.retry?.baseMs ?? 30_000);
  const retryMax = ctx.retry === false ? 0 : (ctx.retry?.maxMs ?? 15 * 60_000);
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn, fn);
    chain = p.catch(() => undefined);
    return p;
  };

  const scheduleRetry = (deliveries: readonly SinkDelivery[]): void => {
    clearTimeout(retryTimer);
    retryTimer = undefined;
    const waiting = deliveries.filter((d) => d.queueDepth > 0 && (d.status === 'queued' || d.status === 'failed'));
    if (closed || ctx.signal?.aborted || retryBase <= 0 || waiting.length === 0) {
      retryAttempt = 0;
      return;
    }
    // Exponential backoff with jitter; a refusal (failed: 400 schema drift, 403 role not granted yet)
    // starts 4x slower than throttling and outages, and both stop growing at maxMs.
    const start = waiting.some((d) => d.status === 'queued') ? retryBase : retryBase * 4;
    const base = Math.min(retryMax, start * 2 ** Math.min(retryAttempt, 20));
    retryAttempt++;
    retryTimer = setTimeout(
      () => {
        void serial(() => flush()).then(
          (d) => {
            scheduleRetry(d);
            try {
              ctx.onStateChange?.(d);
            } catch (e) {
              ctx.logger?.warn('cannot update the status after a retry', { error: errText(e) });
            }
          },
          () => undefined,
        );
      },
      Math.round(base * (0.5 + Math.random() * 0.5)),
    );
    retryTimer.unref();
  };

  ctx.signal?.addEventListener(
    'abort',
    () => {
      clearTimeout(retryTimer);
      retryTimer = undefined;
    },
    { once: true },
  );

  const state = (): SinkDelivery[] => [azure?.state() ?? disabled('azureMonitor'), syslog?.state() ?? disabled('syslog')];

  const knownIdentity = async (): Promise<{ identity: SinkIdentity; at: string } | undefined> => {
    if (lastIdentity === null) lastIdentity = await loadIdentity(dir);
    return lastIdentity;
  };

  /** Every drop is alerted: a DeliveryDropped alert for what the sinks dropped since the last one (spooled first). */
  const alertNewDrops = async (): Promise<SecurityAlert | undefined> => {
    dropsAlerted ??= await loadDropsAlerted(dir);
    const drops: DropFacts[] = [];
    for (const d of state()) {
      const total = d.dropped ?? 0;
      const before = dropsAlerted[d.name] ?? 0;
      if (total > before) drops.push({ sink: d.name, dropped: total - before, total, reason: d.lastDropReason });
    }
    if (drops.length === 0) return undefined;
    const next = { ...dropsAlerted, ...Object.fromEntries(drops.map((d) => [d.sink, d.total])) };
    let alert: SecurityAlert | undefined;
    if (settings.alerts.enabled) {
      alert = deliveryDroppedAlert(drops, (await knownIdentity())?.identity, { recordId: lastRecordId ?? randomUUID(), agentVersion: ctx.agentVersion });
      await azure?.enqueue([], [alertRecord(alert)]);
      await syslog?.enqueue([alert]);
      ctx.logger?.warn(`alert: ${alert.AlertName}`, { alertType: alert.AlertType, severity: alert.AlertSeverity, systemAlertId: alert.SystemAlertId, drops });
    }
    await writeFileAtomic(join(dir, DROPS_FILE), JSON.stringify(next), { syncDir: false });
    dropsAlerted = next;
    return alert;
  };

  const flushSinks = async (signal: AbortSignal | undefined, timeoutMs: number | undefined): Promise<void> => {
    await Promise.all([azure?.flush({ signal, timeoutMs }), syslog?.flush()]);
  };
  const flush = async (opts: { signal?: AbortSignal; timeoutMs?: number } = {}, raised: SecurityAlert[] = []): Promise<SinkDelivery[]> => {
    const signal = opts.signal ?? ctx.signal;
    await flushSinks(signal, opts.timeoutMs);
    const dropAlert = await alertNewDrops().catch((e: unknown) => {
      ctx.logger?.error('cannot raise the DeliveryDropped alert', { error: errText(e) });
      return undefined;
    });
    if (dropAlert) {
      raised.push(dropAlert);
      await flushSinks(signal, opts.timeoutMs);
    }
    const now = state();
    // For `cvm-attest status` and the next process: the last delivery state, written atomically.
    await writeFileAtomic(join(dir, SINKS_STATUS_FILE), JSON.stringify(now), { syncDir: false }).catch((e: unknown) =>
      ctx.logger?.warn('cannot write sinks status', { error: String(e) }),
    );
    return now;
  };

  const deliverOnce = async (outcome: SinkOutcome): Promise<DeliverResult> => {
    const recordId = randomUUID();
    lastRecordId = recordId;
    // Failed runs carry the identity IMDS gave this run, else the last one known, so a failing VM
    // stays its own row in fleet queries (and stops counting as passing).
    let run = outcome;
    const own = pickIdentity(outcome.identity);
    if (own) {
      const known = await knownIdentity();
      if (!known || JSON.stringify(known.identity) !== JSON.stringify(own)) {
        lastIdentity = { identity: own, at: new Date().toISOString() };
        await writeFileAtomic(join(dir, IDENTITY_FILE), JSON.stringify(lastIdentity), { syncDir: false }).catch((e: unknown) =>
          ctx.logger?.warn('cannot save the VM identity', { error: errText(e) }),
        );
      }
    } else if (isFailedOutcome(outcome)) {
      const known = await knownIdentity();
      if (known)
        run = {
          ...outcome,
          identity: known.identity,
          warnings: [...(outcome.warnings ?? []), `VM identity from the run of ${known.at}: IMDS gave none in this run`],
        };
    }
    const record = buildRecord(run, { agentVersion: ctx.agentVersion, recordId });
    alertState ??= await loadAlertState(dir);
    const { alerts, state: next } = evaluateAlerts(alertState, run, { settings: settings.alerts, recordId, agentVersion: ctx.agentVersion });
    // Spool first, then remember the state: a crash in between re-raises an alert, never loses one.
    // A sink whose spool cannot be written (read-only, full disk) is an error for this run; the alert
    // state then stays as it was, so its alerts are raised again on the next run.
    const spoolErrors = new Map<string, string>();
    await azure?.enqueue([record], alerts.map(alertRecord)).catch((e: unknown) => {
      spoolErrors.set('azureMonitor', errText(e));
    });
    if (alerts.length > 0)
      await syslog?.enqueue(alerts).catch((e: unknown) => {
        spoolErrors.set('syslog', errText(e));
      });
    if (spoolErrors.size === 0) {
      await saveAlertState(dir, next).catch((e: unknown) => {
        spoolErrors.set('*', `cannot save the alert state: ${errText(e)}`);
      });
      if (!spoolErrors.has('*')) alertState = next;
    }
    for (const [sink, error] of spoolErrors) ctx.logger?.error('cannot spool this run for delivery', { sink, error });
    for (const a of alerts) ctx.logger?.warn(`alert: ${a.AlertName}`, { alertType: a.AlertType, severity: a.AlertSeverity, systemAlertId: a.SystemAlertId });
    const raised = [...alerts];
    const deliveries = (await flush({}, raised)).map((d): SinkDelivery => {
      const err = spoolErrors.get(d.name);
      if (err) {
        const lost = d.name === 'syslog' ? `${alerts.length} alert(s)` : `this run's record and ${alerts.length} alert(s)`;
        return { ...d, status: 'failed', message: `cannot write the spool: ${err}; ${lost} not kept for delivery`.slice(0, 600) };
      }
      const stateErr = d.status !== 'disabled' ? spoolErrors.get('*') : undefined;
      return stateErr ? { ...d, status: 'failed', message: `${stateErr}; ${d.message}`.slice(0, 600) } : d;
    });
    retryAttempt = 0;
    scheduleRetry(deliveries);
    return { deliveries, alerts: raised, recordId };
  };

  return {
    settings,
    deliver: (outcome) =>
      serial(async () => {
        try {
          return await deliverOnce(outcome);
        } catch (e) {
          // Never let the sinks' substatus vanish: whatever failed, every configured sink says so.
          const m = errText(e);
          ctx.logger?.error('sink delivery failed', { error: m });
          return {
            deliveries: state().map((d): SinkDelivery => (d.status === 'disabled' ? d : { ...d, status: 'failed', message: `delivery failed: ${m}` })),
            alerts: [],
            recordId: lastRecordId ?? '',
          };
        }
      }),
    state,
    flush: (opts) =>
      serial(() => flush(opts)).then((d) => {
        scheduleRetry(d);
        return d;
      }),
    close: async () => {
      closed = true;
      clearTimeout(retryTimer);
      await chain;
    },
  };
}
