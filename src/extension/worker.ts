// The background worker: one per installation (lock), detached from the agent. Attests at once,
// then every interval plus a stable per-VM jitter; after every run it rewrites status/<seq>.status
// atomically and the heartbeat. Between runs it sleeps on ONE timer (next run, or the heartbeat
// refresh the agent needs within 10 minutes) - no polling. SIGTERM (disable, new seq) stops it.
import { setTimeout as delay } from 'node:timers/promises';
import type { HandlerContext, LoadedSettings } from './handlers.js';
import { loadSettings, policyInput, ownUid } from './handlers.js';
import { acquireWorkerLock, queryLockHolder, workerLockName } from './lock.js';
import { writeWorkerRecord, removeWorkerRecord, readMrseq, jitterSeed, jitterMs, ensureStateDirs, isDisabled } from './state.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { join } from 'node:path';
import { procStartTime, procEffectiveUid, isOurWorker } from './proc.js';
import { writeStatus, writeHeartbeat } from './files.js';
import { writeExtensionEvent, extensionVersion } from './telemetry.js';
import { outcomeStatus, errorStatus, heartbeatFile, StatusCode, utcStamp, type DeliveryLike, type AlertLike, type Identity } from './status.js';
import { deepMerge, SettingsError } from './settings.js';
import type { VerificationResult } from '../verify/result.js';
import { CvmAttestError } from '../errors.js';

export interface OutcomeLike {
  readonly result: VerificationResult;
  readonly identity?: Identity & Record<string, unknown>;
  readonly warnings?: readonly string[];
}
export interface SinkSetLike {
  deliver(outcome: unknown): Promise<{ deliveries: readonly DeliveryLike[]; alerts: readonly AlertLike[] }>;
  close?(): Promise<void>;
}
/** The parts the worker drives: collector + verifier, policy, sinks (wired in engine.ts). */
export interface Engine {
  attest(o: { tpm?: string; imdsEndpoint?: string; policy?: unknown; cacheDir: string; quote: boolean; signal: AbortSignal }): Promise<OutcomeLike>;
  /** Throws SettingsError (naming the setting) when the policy is invalid. */
  buildPolicy(o: { policy?: Readonly<Record<string, unknown>>; minimumTcb?: Readonly<Record<string, number>>; from: string }): Promise<unknown>;
  createSinks(settings: unknown, ctx: { stateDir: string; logger: HandlerContext['logger']; signal: AbortSignal; agentVersion: string }): Promise<SinkSetLike | undefined>;
}

/** Set by scripts/package.mjs (esbuild define); 'dev' when run from source. */
export const EXTENSION_VERSION = process.env['CVM_ATTEST_VERSION'] ?? 'dev';

/** Wait for the heartbeat: the agent calls a heartbeat older than 10 minutes Unresponsive. */
export const HEARTBEAT_REFRESH_MS = 4 * 60 * 1000;
export const RUN_TIMEOUT_MS = 5 * 60 * 1000;
export const COLLECTION_RETRY_MS = 5 * 60 * 1000;

export interface WorkerOptions {
  readonly seq: number;
  readonly engine: Engine;
  /** Ms to wait for the lock when a replaced worker is still exiting. */
  readonly lockWaitMs?: number;
  /** How long to wait for the lock holder to answer before calling it a squatter (default 5 s). */
  readonly lockQueryMs?: number;
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

  const lockName = workerLockName(env.libDir, env.name);
  let lock = await acquireWorkerLock(lockName, { self: { pid: process.pid, seq: o.seq }, waitMs: o.lockWaitMs ?? 3000, signal: stop.signal });
  let holder: Awaited<ReturnType<typeof queryLockHolder>>;
  let genuine = false;
  if (!lock) {
    // A genuine holder answers once its event loop is free; under load (module loading, a busy
    // machine) that can take seconds, and silence must not be mistaken for a squatter. A holder that
    // exited meanwhile frees the lock: take it.
    const askUntil = Date.now() + (o.lockQueryMs ?? 5000);
    for (;;) {
      holder = await queryLockHolder(lockName, 500);
      if (holder !== undefined || stop.signal.aborted || Date.now() >= askUntil) break;
      lock = await acquireWorkerLock(lockName, { self: { pid: process.pid, seq: o.seq }, waitMs: 0 });
      if (lock) break;
      await delay(100);
    }
    if (!lock) {
      const holderStart = holder ? procStartTime(holder.pid) : undefined;
      genuine = holder !== undefined && holderStart !== undefined && isOurWorker(holder.pid, holderStart, ownUid());
      // The holder may have exited just now: one more try before calling the lock squatted.
      if (!genuine && !stop.signal.aborted) lock = await acquireWorkerLock(lockName, { self: { pid: process.pid, seq: o.seq }, waitMs: 0 });
    }
  }
  if (!lock) {
    // A real worker holding it (same seq, or one that did not exit in time) is fine. Anything else
    // is a process of another user squatting the name (abstract sockets have no permissions):
    // attestation cannot run, and the status must say so rather than go quiet.
    if (!stop.signal.aborted && !genuine) {
      const who = holder ? `pid ${holder.pid}${procEffectiveUid(holder.pid) !== undefined ? ` (uid ${procEffectiveUid(holder.pid)})` : ''}` : 'a process that does not answer';
      const m = `the worker lock is held by ${who}, which is not a cvm-attest worker: attestation cannot run until it exits`;
      logger.error(m, { seq: o.seq });
      if (readMrseq(paths) === o.seq && !isDisabled(paths)) {
        writeStatus(env, o.seq, errorStatus({ name: env.name, status: 'error', code: StatusCode.Internal, message: `cvm-attest is not running: ${m}`, now: ctx.now() }));
        writeHeartbeat(env, heartbeatFile('NotReady', m, StatusCode.Internal));
      }
    } else logger.info('another worker holds the lock; exiting', { seq: o.seq });
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGHUP', onHup);
    return 0;
  }
  const startTime = procStartTime(process.pid) ?? 0;
  let sinks: SinkSetLike | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const superseded = (): string | undefined => isDisabled(paths) ? 'the extension is disabled' : readMrseq(paths) !== o.seq ? 'a newer enable superseded this worker' : undefined;
    const why = superseded();
    if (why) {
      logger.info(`${why}; exiting`, { seq: o.seq, mrseq: readMrseq(paths) });
      return 0;
    }
    ensureStateDirs(paths);
    writeWorkerRecord(paths, { pid: process.pid, startTime, seq: o.seq, startedAt: new Date().toISOString() });
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
        sinks = await o.engine.createSinks(sinkSettings, { stateDir: paths.stateDir, logger, signal: stop.signal, agentVersion: EXTENSION_VERSION });
      } catch (e) {
        const m = e instanceof CvmAttestError ? e.message : `sinks: ${(e as Error).message}`;
        writeStatus(env, o.seq, errorStatus({ name: env.name, status: 'error', code: StatusCode.Settings, message: `cvm-attest is not running: ${m}`, now: ctx.now() }));
        writeHeartbeat(env, heartbeatFile('NotReady', m, StatusCode.Settings));
        return 0;
      }
    }
    const minuteMs = o.minuteMs ?? 60_000;
    const intervalMs = s.intervalMinutes * minuteMs;
    const seed = jitterSeed(paths);
    const tpm = ctx.processEnv['CVM_ATTEST_TPM'] || s.tpm;
    const imds = ctx.processEnv['CVM_ATTEST_IMDS_ENDPOINT'] || s.imdsEndpoint;
    let nextRunAt = Date.now();
    let lastSummary = 'starting';
    let lastReady = true;

    const runOnce = async (): Promise<void> => {
      const started = Date.now();
      const runSignal = AbortSignal.any([stop.signal, AbortSignal.timeout(RUN_TIMEOUT_MS)]);
      let outcome: OutcomeLike | undefined;
      let failure: unknown;
      try {
        outcome = await o.engine.attest({ ...(tpm ? { tpm } : {}), ...(imds ? { imdsEndpoint: imds } : {}), policy, cacheDir: paths.cacheDir, quote: s.freshness, signal: runSignal });
      } catch (e) {
        failure = e;
      }
      if (stop.signal.aborted) return;
      const jitter = jitterMs(intervalMs, s.jitterPercent, outcome?.identity?.vmId ?? seed);
      const wait = failure ? Math.min(intervalMs, COLLECTION_RETRY_MS * (minuteMs / 60_000)) : intervalMs;
      nextRunAt = started + wait + jitter;
      let deliveries: readonly DeliveryLike[] = [];
      let alerts: readonly AlertLike[] = [];
      if (sinks) {
        try {
          const d = await sinks.deliver(outcome ?? { error: failure, identity: undefined });
          deliveries = d.deliveries;
          alerts = d.alerts;
        } catch (e) {
          logger.warn('sink delivery failed', { error: (e as Error).message });
        }
      }
      if (stop.signal.aborted) return;
      const now = ctx.now();
      if (outcome) {
        const r = outcome.result;
        await writeHtmlReport(paths.stateDir, outcome, now).catch((e: unknown) => logger.warn('HTML report not written', { error: (e as Error).message }));
        writeStatus(env, o.seq, outcomeStatus({ name: env.name, result: r, identity: outcome.identity, warnings: outcome.warnings ?? [], deliveries, alerts, statusOnFailure: s.statusOnFailure, nextRunAt: new Date(nextRunAt), notes: s.notes, now }));
        lastSummary = `last run ${utcStamp(now)}: ${r.verdict.toUpperCase()}${r.product ? ` (${r.product})` : ''}; next ${utcStamp(new Date(nextRunAt))}`;
        lastReady = true;
        const failed = r.checks.filter((c) => c.status === 'fail').map((c) => c.id);
        writeExtensionEvent(env, { taskName: 'Attestation', level: r.verdict === 'pass' ? 'Informational' : s.statusOnFailure === 'error' ? 'Error' : 'Warning', operationId: `seq-${o.seq}`,
          message: `verdict ${r.verdict}${r.product ? ` (${r.product})` : ''}${failed.length ? `; failed: ${failed.join(', ')}` : ''}` }, extensionVersion(ctx.processEnv), logger);
        logger.info('attestation run', { verdict: r.verdict, product: r.product, failed: r.checks.filter((c) => c.status === 'fail').map((c) => c.id), ms: Date.now() - started, nextRunAt: new Date(nextRunAt).toISOString() });
      } else {
        const isCollection = failure instanceof CvmAttestError && failure.exitCode === StatusCode.Collection;
        const m = failure instanceof CvmAttestError ? `${failure.message} [${failure.code}]` : `internal error: ${(failure as Error)?.message ?? String(failure)}`;
        const code = failure instanceof SettingsError ? StatusCode.Settings : isCollection ? StatusCode.Collection : failure instanceof CvmAttestError ? failure.exitCode : StatusCode.Internal;
        writeStatus(env, o.seq, errorStatus({ name: env.name, status: s.statusOnFailure, code, message: `${isCollection ? 'evidence could not be collected' : 'attestation run failed'}: ${m}`, deliveries, alerts, nextRunAt: new Date(nextRunAt), now }));
        lastSummary = `last run ${utcStamp(now)} failed: ${m}`;
        lastReady = true; // the worker itself is healthy; the status says what failed
        writeExtensionEvent(env, { taskName: 'Attestation', level: 'Error', operationId: `seq-${o.seq}`, message: `no verdict: ${m}` }, extensionVersion(ctx.processEnv), logger);
        logger.warn('attestation run failed', { code, error: m, nextRunAt: new Date(nextRunAt).toISOString() });
      }
      writeHeartbeat(env, heartbeatFile(lastReady ? 'Ready' : 'NotReady', lastSummary));
      await writeFileAtomic(paths.lastRunFile, JSON.stringify({ seq: o.seq, at: now.toISOString(), nextRunAt: new Date(nextRunAt).toISOString(), summary: lastSummary }) + '\n').catch(() => undefined);
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
        if (Date.now() >= nextRunAt - 5) {
          try {
            await runOnce();
          } catch (e) {
            logger.error('run crashed', { error: (e as Error).message });
            nextRunAt = Date.now() + Math.min(intervalMs, COLLECTION_RETRY_MS);
          }
        } else {
          writeHeartbeat(env, heartbeatFile(lastReady ? 'Ready' : 'NotReady', lastSummary));
        }
        if (stop.signal.aborted) return resolve();
        const wait = Math.max(0, Math.min(nextRunAt - Date.now(), o.heartbeatMs ?? HEARTBEAT_REFRESH_MS));
        timer = setTimeout(() => { void tick(); }, wait);
      };
      stop.signal.addEventListener('abort', () => { if (timer) clearTimeout(timer); timer = undefined; resolve(); }, { once: true });
      void tick();
    });
    return 0;
  } finally {
    if (timer) clearTimeout(timer);
    await sinks?.close?.().catch(() => undefined);
    removeWorkerRecord(paths, process.pid);
    await lock.release();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGHUP', onHup);
    logger.info('worker stopped', { seq: o.seq });
  }
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
