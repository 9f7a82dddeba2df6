// The background worker: one per installation (lock), detached from the agent. Attests at once,
// then every interval plus a stable per-VM jitter; after every run it rewrites status/<seq>.status
// atomically and the heartbeat. Between runs it sleeps on ONE timer (next run, or the heartbeat
// refresh the agent needs within 10 minutes) - no polling. SIGTERM (disable, new seq) stops it.
import { withRemote, type RemoteLike } from './remote-status.js';
import type { VerifierSettings } from './verifier-settings.js';
import { setTimeout as delay } from 'node:timers/promises';
import type { HandlerContext, LoadedSettings } from './handlers.js';
import { loadSettings, policyInput, ownUid } from './handlers.js';
import { tryWorkerLock, workerLockDir, type LockHolder, type WorkerLock } from './lock.js';
import { writeWorkerRecord, removeWorkerRecord, readMrseq, jitterSeed, jitterMs, ensureStateDirs, isDisabled } from './state.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { join } from 'node:path';
import { procStartTime, isOurWorker } from './proc.js';
import { writeStatus, writeHeartbeat } from './files.js';
import { writeExtensionEvent, extensionVersion } from './telemetry.js';
import { outcomeStatus, errorStatus, heartbeatFile, StatusCode, utcStamp, type DeliveryLike, type AlertLike, type Identity } from './status.js';
import { deepMerge, SettingsError } from './settings.js';
import type { VerificationResult } from '../result/result.js';
import { CvmAttestError } from '../base/errors.js';

export interface OutcomeLike {
  readonly result: VerificationResult;
  readonly identity?: Identity & Record<string, unknown>;
  readonly warnings?: readonly string[];
  /** Verifier mode: the remote verdict (or why there is none). */
  readonly remote?: RemoteLike;
}
export interface SinkSetLike {
  deliver(outcome: unknown): Promise<{ deliveries: readonly DeliveryLike[]; alerts: readonly AlertLike[] }>;
  close?(): Promise<void>;
}
/** The parts the worker drives: collector + verifier, policy, sinks (wired in engine.ts). */
export interface Engine {
  attest(o: { tpm?: string; imdsEndpoint?: string; pcsEndpoint?: string; policy?: unknown; cacheDir: string; quote: boolean; signal: AbortSignal; verifier?: VerifierSettings }): Promise<OutcomeLike>;
  /** Throws SettingsError (naming the setting) when the policy is invalid. */
  buildPolicy(o: { policy?: Readonly<Record<string, unknown>>; minimumTcb?: Readonly<Record<string, number>>; from: string }): Promise<unknown>;
  createSinks(settings: unknown, ctx: { stateDir: string; logger: HandlerContext['logger']; signal: AbortSignal; agentVersion: string; onStateChange?: (deliveries: readonly DeliveryLike[]) => void }): Promise<SinkSetLike | undefined>;
}

/** Set by scripts/package.mjs (esbuild define); 'dev' when run from source. */
export const EXTENSION_VERSION = process.env['CVM_ATTEST_VERSION'] ?? 'dev';

/** Wait for the heartbeat: the agent calls a heartbeat older than 10 minutes Unresponsive. */
export const HEARTBEAT_REFRESH_MS = 4 * 60 * 1000;
export const RUN_TIMEOUT_MS = 5 * 60 * 1000;
export const COLLECTION_RETRY_MS = 5 * 60 * 1000;
export const LOCK_RETRY_MS = 30 * 1000;

export interface WorkerOptions {
  readonly seq: number;
  readonly engine: Engine;
  /** Ms to wait for the lock when a replaced worker is still exiting. */
  readonly lockWaitMs?: number;
  /** Ms between attempts when the worker cannot run (lock held or unusable, state/ unwritable); default LOCK_RETRY_MS. */
  readonly lockRetryMs?: number;
  /** Test hook: the monotonic clock (ms) the schedule runs on (default performance.now). */
  readonly monotonic?: () => number;
  /** Test hook: milliseconds per "minute" of intervalMinutes. */
  readonly minuteMs?: number;
  /** Test hook: heartbeat refresh period (default HEARTBEAT_REFRESH_MS). */
  readonly heartbeatMs?: number;
  /** Stops the worker like SIGTERM does (in-process use). */
  readonly signal?: AbortSignal;
}

export async function runWorker(ctx: HandlerContext, o: WorkerOptions): Promise<number> {
  const { env, logger, paths } = ctx;
  const stop = new AbortController();
  const onSignal = (sig: string) => { logger.info('worker stopping', { signal: sig }); stop.abort(); };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const onHup = () => undefined; // the agent's session going away is not a reason to stop
  process.on('SIGHUP', onHup);
  o.signal?.addEventListener('abort', () => stop.abort(), { once: true });

  const uid = ownUid() ?? 0;
  const startTime = procStartTime(process.pid) ?? 0;
  const self = { pid: process.pid, startTime, seq: o.seq };
  const lockDir = workerLockDir(env.libDir, env.name);
  const retryMs = o.lockRetryMs ?? LOCK_RETRY_MS;
  const superseded = (): string | undefined => isDisabled(paths) ? 'the extension is disabled' : readMrseq(paths) !== o.seq ? 'a newer enable superseded this worker' : undefined;
  const offSignals = () => { process.off('SIGTERM', onSignal); process.off('SIGINT', onSignal); process.off('SIGHUP', onHup); };
  // Every way the worker can fail to start reports (error status, code 4, NotReady heartbeat) and
  // tries again every retryMs, so attestation resumes by itself once the cause is gone.
  const cannotRun = (m: string) => {
    logger.error(m, { seq: o.seq, retryInMs: retryMs });
    if (superseded()) return;
    try {
      writeStatus(env, o.seq, errorStatus({ name: env.name, status: 'error', code: StatusCode.Internal, message: `cvm-attest is not running: ${m}; retrying every ${Math.round(retryMs / 1000)} s`, now: ctx.now() }));
      writeHeartbeat(env, heartbeatFile('NotReady', m, StatusCode.Internal));
    } catch (e) {
      logger.error('cannot write the status', { error: (e as Error).message });
    }
  };
  let lock: WorkerLock | undefined;
  for (;;) {
    let holder: LockHolder | undefined;
    let failure: string | undefined;
    const waitUntil = performance.now() + (o.lockWaitMs ?? 3000);
    for (;;) {
      try {
        const r = tryWorkerLock(lockDir, self, uid);
        if ('lock' in r) { lock = r.lock; break; }
        holder = r.holder;
      } catch (e) {
        failure = e instanceof CvmAttestError ? e.message : `the worker lock: ${(e as Error).message}`;
        break;
      }
      const genuine = holder !== undefined && holder.pid !== process.pid && isOurWorker(holder.pid, holder.startTime, uid);
      if (genuine && holder!.seq === o.seq) {
        // Two starts for the same settings (concurrent enables): the other one serves them.
        logger.info('another worker holds the lock; exiting', { seq: o.seq, pid: holder!.pid });
        offSignals();
        return 0;
      }
      // A worker being replaced (another seq) is exiting; a holder without a record has just taken
      // the lock and is writing it. Wait a little for either.
      if (stop.signal.aborted || performance.now() >= waitUntil) break;
      await delay(100);
    }
    if (lock) break;
    if (stop.signal.aborted) { offSignals(); return 0; }
    const gone = superseded();
    if (gone) {
      logger.info(`${gone}; exiting`, { seq: o.seq });
      offSignals();
      return 0;
    }
    if (!failure) {
      const h = holder;
      failure = h === undefined ? `the worker lock ${lockDir} is held by a process that does not say who it is`
        : isOurWorker(h.pid, h.startTime, uid) ? `the worker for seq ${h.seq} (pid ${h.pid}) still holds the worker lock`
          : `the worker lock ${lockDir} is held by a process that is not a live cvm-attest worker (record: pid ${h.pid})`;
    }
    cannotRun(failure);
    await delay(retryMs, undefined, { signal: stop.signal }).catch(() => undefined);
  }
  const held: WorkerLock = lock;
  let sinks: SinkSetLike | undefined;
  let restatus: ((deliveries: readonly DeliveryLike[]) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let beat: NodeJS.Timeout | undefined;
  try {
    const why = superseded();
    if (why) {
      logger.info(`${why}; exiting`, { seq: o.seq, mrseq: readMrseq(paths) });
      return 0;
    }
    // state/ must be writable (ENOSPC, EROFS, a folder where a file goes): say so and retry.
    let seed: string | undefined;
    for (;;) {
      try {
        ensureStateDirs(paths);
        writeWorkerRecord(paths, { pid: process.pid, startTime, seq: o.seq, startedAt: new Date().toISOString() });
        seed = jitterSeed(paths);
        break;
      } catch (e) {
        cannotRun(`the state folder ${paths.stateDir} cannot be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      await delay(retryMs, undefined, { signal: stop.signal }).catch(() => undefined);
      if (stop.signal.aborted) return 0;
      const gone = superseded();
      if (gone) { logger.info(`${gone}; exiting`, { seq: o.seq }); return 0; }
    }
    logger.info('worker running', { seq: o.seq });

    let loaded: LoadedSettings;
    let policy: unknown;
    try {
      loaded = await loadSettings(env, o.seq, stop.signal);
      policy = await o.engine.buildPolicy(policyInput(loaded.settings, loaded.protectedSettings));
    } catch (e) {
      if (stop.signal.aborted) return 0;
      const m = e instanceof CvmAttestError ? e.message : `internal error: ${(e as Error).message}`;
      logger.error('worker cannot start', { error: m });
      const code = e instanceof SettingsError ? StatusCode.Settings : StatusCode.Internal;
      writeStatus(env, o.seq, errorStatus({ name: env.name, status: 'error', code, message: `cvm-attest is not running: ${m}`, now: ctx.now() }));
      writeHeartbeat(env, heartbeatFile('NotReady', m, code));
      return 0;
    }
    const s = loaded.settings;
    // publicSettings.logLevel; env CVM_ATTEST_LOG_LEVEL (read by `handler`) wins, like the other overrides.
    if (!ctx.processEnv['CVM_ATTEST_LOG_LEVEL']) logger.setLevel?.(s.logLevel);
    const sinkSettings = deepMerge(s.sinks, loaded.protectedSettings.sinks);
    if (sinkSettings !== undefined) {
      try {
        // A retry the sinks run by themselves rewrites the last status with the new delivery state.
        sinks = await o.engine.createSinks(sinkSettings, { stateDir: paths.stateDir, logger, signal: stop.signal, agentVersion: EXTENSION_VERSION, onStateChange: (d) => { if (!stop.signal.aborted) restatus?.(d); } });
      } catch (e) {
        const m = e instanceof CvmAttestError ? e.message : `sinks: ${(e as Error).message}`;
        writeStatus(env, o.seq, errorStatus({ name: env.name, status: 'error', code: StatusCode.Settings, message: `cvm-attest is not running: ${m}`, now: ctx.now() }));
        writeHeartbeat(env, heartbeatFile('NotReady', m, StatusCode.Settings));
        return 0;
      }
    }
    const minuteMs = o.minuteMs ?? 60_000;
    const intervalMs = s.intervalMinutes * minuteMs;
    const tpm = ctx.processEnv['CVM_ATTEST_TPM'] || s.tpm;
    const imds = ctx.processEnv['CVM_ATTEST_IMDS_ENDPOINT'] || s.imdsEndpoint;
    const pcs = ctx.processEnv['CVM_ATTEST_PCS_ENDPOINT'] || s.pcsEndpoint;
    // The schedule runs on the monotonic clock: the host sets guest time, and a step of the wall
    // clock must neither stall nor rush the next run. Times shown are wall-clock: now + remaining.
    const mono = o.monotonic ?? (() => performance.now());
    const wallAt = (monoMs: number): Date => new Date(ctx.now().getTime() + Math.max(0, monoMs - mono()));
    const heartbeatMs = o.heartbeatMs ?? envMs(ctx.processEnv['CVM_ATTEST_HEARTBEAT_MS']) ?? HEARTBEAT_REFRESH_MS;
    let nextRunMono = mono();
    let lastSummary = 'starting';
    const beatNow = () => {
      try { writeHeartbeat(env, heartbeatFile('Ready', lastSummary)); } catch (e) { logger.warn('heartbeat not written', { error: (e as Error).message }); }
    };
    // The heartbeat is refreshed on its own timer, so a run that takes longer than the agent's
    // 10 minutes (an IMDS hang with retries) never makes the handler look Unresponsive.
    beat = setInterval(beatNow, heartbeatMs);
    beat.unref();
    let remoteFailures = 0;

    const runOnce = async (): Promise<void> => {
      const started = mono();
      const runSignal = AbortSignal.any([stop.signal, AbortSignal.timeout(RUN_TIMEOUT_MS)]);
      let outcome: OutcomeLike | undefined;
      let failure: unknown;
      try {
        outcome = await o.engine.attest({ ...(tpm ? { tpm } : {}), ...(imds ? { imdsEndpoint: imds } : {}), ...(pcs ? { pcsEndpoint: pcs } : {}), policy, cacheDir: paths.cacheDir, quote: s.freshness, signal: runSignal, ...(s.verifier ? { verifier: s.verifier } : {}) });
      } catch (e) {
        failure = e;
      }
      if (stop.signal.aborted) return;
      const jitter = jitterMs(intervalMs, s.jitterPercent, outcome?.identity?.vmId ?? seed);
      // Verifier mode: a verifier that gave no verdict is asked again with backoff (1, 2, 4... minutes, up to the interval).
      remoteFailures = outcome?.remote?.error !== undefined ? remoteFailures + 1 : 0;
      const wait = failure ? Math.min(intervalMs, COLLECTION_RETRY_MS * (minuteMs / 60_000)) : remoteFailures > 0 ? Math.min(intervalMs, minuteMs * 2 ** Math.min(remoteFailures - 1, 16)) : intervalMs;
      nextRunMono = started + wait + jitter;
      let deliveries: readonly DeliveryLike[] = [];
      let alerts: readonly AlertLike[] = [];
      if (sinks) {
        try {
          const d = await sinks.deliver(outcome ?? { error: failure, identity: undefined });
          deliveries = d.deliveries;
          alerts = d.alerts;
        } catch (e) {
          // The sinks' substatus never just disappears.
          logger.warn('sink delivery failed', { error: (e as Error).message });
          deliveries = [{ name: 'sinks', status: 'failed', message: `delivery failed: ${(e as Error)?.message ?? String(e)}`, queueDepth: 0 }];
        }
      }
      if (stop.signal.aborted) return;
      const now = ctx.now();
      const nextRunAt = wallAt(nextRunMono);
      if (outcome) {
        const r = outcome.result;
        await writeHtmlReport(paths.stateDir, outcome, now).catch((e: unknown) => logger.warn('HTML report not written', { error: (e as Error).message }));
        const render = (d: readonly DeliveryLike[], at: Date) => {
          const local = outcomeStatus({ name: env.name, result: r, identity: outcome!.identity, warnings: outcome!.warnings ?? [], deliveries: d, alerts, statusOnFailure: s.statusOnFailure, nextRunAt, notes: s.notes, now: at });
          return outcome!.remote ? withRemote(local, outcome!.remote, s.statusOnFailure) : local;
        };
        writeStatus(env, o.seq, render(deliveries, now));
        restatus = (d) => writeStatus(env, o.seq, render(d, ctx.now()));
        lastSummary = `last run ${utcStamp(now)}: ${r.verdict.toUpperCase()}${r.product ? ` (${r.product})` : ''}; next ${utcStamp(nextRunAt)}`;
        const failed = r.checks.filter((c) => c.status === 'fail').map((c) => c.id);
        writeExtensionEvent(env, { taskName: 'Attestation', level: r.verdict === 'pass' ? 'Informational' : s.statusOnFailure === 'error' ? 'Error' : 'Warning', operationId: `seq-${o.seq}`,
          message: `verdict ${r.verdict}${r.product ? ` (${r.product})` : ''}${failed.length ? `; failed: ${failed.join(', ')}` : ''}` }, extensionVersion(ctx.processEnv), logger);
        logger.info('attestation run', { verdict: r.verdict, product: r.product, failed, ms: Math.round(mono() - started), nextRunAt: nextRunAt.toISOString() });
      } else {
        const isCollection = failure instanceof CvmAttestError && failure.exitCode === StatusCode.Collection;
        const m = failure instanceof CvmAttestError ? `${failure.message} [${failure.code}]` : `internal error: ${(failure as Error)?.message ?? String(failure)}`;
        const code = failure instanceof SettingsError ? StatusCode.Settings : isCollection ? StatusCode.Collection : failure instanceof CvmAttestError ? failure.exitCode : StatusCode.Internal;
        const render = (d: readonly DeliveryLike[], at: Date) => errorStatus({ name: env.name, status: s.statusOnFailure, code, message: `${isCollection ? 'evidence could not be collected' : 'attestation run failed'}: ${m}`, deliveries: d, alerts, nextRunAt, now: at });
        writeStatus(env, o.seq, render(deliveries, now));
        restatus = (d) => writeStatus(env, o.seq, render(d, ctx.now()));
        // the worker itself is healthy (Ready); the status says what failed
        lastSummary = `last run ${utcStamp(now)} failed: ${m}`;
        writeExtensionEvent(env, { taskName: 'Attestation', level: 'Error', operationId: `seq-${o.seq}`, message: `no verdict: ${m}` }, extensionVersion(ctx.processEnv), logger);
        logger.warn('attestation run failed', { code, error: m, nextRunAt: nextRunAt.toISOString() });
      }
      beatNow();
      await writeFileAtomic(paths.lastRunFile, JSON.stringify({ seq: o.seq, at: now.toISOString(), nextRunAt: nextRunAt.toISOString(), summary: lastSummary }) + '\n').catch(() => undefined);
    };

    await new Promise<void>((resolve) => {
      const tick = async () => {
        timer = undefined;
        if (stop.signal.aborted) return resolve();
        const gone = superseded();
        if (gone) {
          logger.info(`${gone}; stopping`, { seq: o.seq });
          return resolve();
        }
        if (mono() >= nextRunMono - 5) {
          lastSummary = `attestation run in progress since ${utcStamp(ctx.now())}${lastSummary === 'starting' ? '' : ` (${lastSummary})`}`;
          beatNow();
          try {
            await runOnce();
          } catch (e) {
            logger.error('run crashed', { error: (e as Error).message });
            nextRunMono = mono() + Math.min(intervalMs, COLLECTION_RETRY_MS);
          }
        }
        if (stop.signal.aborted) return resolve();
        // One timer to the next run (or to the superseded check); the heartbeat has its own.
        const wait = Math.max(0, Math.min(nextRunMono - mono(), heartbeatMs));
        timer = setTimeout(() => { void tick(); }, wait);
      };
      stop.signal.addEventListener('abort', () => { if (timer) clearTimeout(timer); timer = undefined; resolve(); }, { once: true });
      void tick();
    });
    return 0;
  } finally {
    if (timer) clearTimeout(timer);
    if (beat) clearInterval(beat);
    await sinks?.close?.().catch(() => undefined);
    try { removeWorkerRecord(paths, process.pid); } catch { /* state/ unwritable: reported above */ }
    held.release();
    offSignals();
    logger.info('worker stopped', { seq: o.seq });
  }
}

/** A test/diagnostic override in ms (e.g. CVM_ATTEST_HEARTBEAT_MS); only values in [10 ms, default] count. */
function envMs(v: string | undefined): number | undefined {
  if (!v || !/^\d{1,9}$/.test(v)) return undefined;
  const n = Number(v);
  return n >= 10 && n <= HEARTBEAT_REFRESH_MS ? n : undefined;
}

/** The last verdict as a self-contained HTML file, state/report.html (see src/report/html.ts); renderer loaded lazily. */
async function writeHtmlReport(stateDir: string, o: OutcomeLike, now: Date): Promise<void> {
  const { renderHtmlReport } = await import('../report/html.js');
  const id = o.identity ?? {};
  const s = (k: string): string | undefined => (typeof id[k] === 'string' ? (id[k] as string) : undefined);
  const identity = Object.fromEntries(Object.entries({ vmId: s('vmId'), vmName: s('name'), resourceId: s('resourceId'), location: s('location'), vmSize: s('vmSize') })
    .filter(([, v]) => v !== undefined)) as Record<string, string>;
  await writeFileAtomic(join(stateDir, 'report.html'), renderHtmlReport(o.result, { identity, generatedAt: now }), { mode: 0o644 });
}
