// The background worker: one per installation (lock), detached from the agent. Attests at once,
// then every interval plus a stable per-VM jitter; after every run it rewrites status/<seq>.status
// atomically and the heartbeat. Between runs it sleeps on ONE timer (next run, or the heartbeat
// refresh the agent needs within 10 minutes) - no polling. SIGTERM (disable, new seq) stops it.
import { withRemote, type RemoteLike } from './remote-status.js';
import type { VerifierSettings } from './verifier-settings.js';
import { setTimeout as delay } from 'node:timers/promises';
import type { HandlerContext } from './handler-context.js';
import { loadSettings, policyInput, type LoadedSettings } from './load-settings.js';
import { ownUid } from './worker-process.js';
import { tryWorkerLock, workerLockDir, type LockHolder, type WorkerLock } from './lock.js';
import { writeWorkerRecord, removeWorkerRecord, readMrseq, jitterSeed, jitterMs, ensureStateDirs, isDisabled } from './state.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { join } from 'node:path';
import { procStartTime, isOurWorker } from './proc.js';
import { writeStatus, writeHeartbeat } from './files.js';
import { lastResult, writeLastResult, type LastResultInput } from './last-result.js';
import { writeExtensionEvent, extensionVersion } from './telemetry.js';
import { outcomeStatus, errorStatus, heartbeatFile, utcStamp, type StatusAlert } from './status.js';
import type { AttestOutcome } from '../collect/attest.js';
import type { DeliverResult, SinkDelivery, SinkOutcome } from '../sinks/index.js';
import { deepMerge, SettingsError, type ExtensionSettings } from './settings.js';
import { CvmAttestError, ExitCode } from '../base/errors.js';

/** One run's outcome: the collector's (verdict, IMDS identity, collection warnings), in verifier mode with the remote verdict. */
export interface WorkerOutcome extends Pick<AttestOutcome, 'result' | 'identity'>, Partial<Pick<AttestOutcome, 'warnings'>> {
  /** Verifier mode: the remote verdict (or why there is none). */
  readonly remote?: RemoteLike;
}
/** What the worker uses of the sink set (src/sinks/index.ts SinkSet). */
export interface WorkerSinks {
  deliver(outcome: SinkOutcome): Promise<Pick<DeliverResult, 'deliveries' | 'alerts'>>;
  close?(): Promise<void>;
}
/** The parts the worker drives: collector + verifier, policy, sinks (wired in engine.ts). */
export interface Engine {
  attest(o: {
    tpm?: string;
    imdsEndpoint?: string;
    pcsEndpoint?: string;
    policy?: unknown;
    cacheDir: string;
    quote: boolean;
    signal: AbortSignal;
    verifier?: VerifierSettings;
  }): Promise<WorkerOutcome>;
  /** Throws SettingsError (naming the setting) when the policy is invalid. */
  buildPolicy(o: { policy?: Readonly<Record<string, unknown>>; minimumTcb?: Readonly<Record<string, number>>; from: string }): Promise<unknown>;
  createSinks(
    settings: unknown,
    ctx: {
      stateDir: string;
      logger: HandlerContext['logger'];
      signal: AbortSignal;
      agentVersion: string;
      onStateChange?: (deliveries: readonly SinkDelivery[]) => void;
    },
  ): Promise<WorkerSinks | undefined>;
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

/** What every step of the worker shares. */
interface Session {
  readonly ctx: HandlerContext;
  readonly o: WorkerOptions;
  /** Aborted by SIGTERM/SIGINT or o.signal. */
  readonly stop: AbortSignal;
  readonly uid: number;
  readonly startTime: number;
  readonly retryMs: number;
  /** Why this worker must not run (disabled, or a newer enable), if so. */
  superseded(): string | undefined;
  /** Reports that the worker cannot run (error status, code 4, NotReady heartbeat); the caller retries every retryMs. */
  cannotRun(m: string): void;
}

export async function runWorker(ctx: HandlerContext, o: WorkerOptions): Promise<number> {
  const { logger, paths } = ctx;
  const signals = listenForStop(logger, o.signal);
  const w = session(ctx, o, signals.signal);
  const lock = await acquireLock(w);
  if (!lock) {
    signals.off();
    return 0;
  }
  let runner: Runner | undefined;
  try {
    const why = w.superseded();
    if (why) {
      logger.info(`${why}; exiting`, { seq: o.seq, mrseq: readMrseq(paths) });
      return 0;
    }
    const seed = await prepareState(w);
    if (seed === undefined) return 0;
    logger.info('worker running', { seq: o.seq });
    runner = await startRunner(w, seed);
    if (runner) await runner.schedule();
    return 0;
  } finally {
    await runner?.close();
    try {
      removeWorkerRecord(paths, process.pid);
    } catch {
      /* state/ unwritable: reported above */
    }
    lock.release();
    signals.off();
    logger.info('worker stopped', { seq: o.seq });
  }
}

/** SIGTERM and SIGINT (disable, a new seq) stop the worker; SIGHUP (the agent's session going away) does not. */
function listenForStop(logger: HandlerContext['logger'], external?: AbortSignal): { signal: AbortSignal; off(): void } {
  const stop = new AbortController();
  const onSignal = (sig: string) => {
    logger.info('worker stopping', { signal: sig });
    stop.abort();
  };
  const onHup = () => undefined;
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', onHup);
  external?.addEventListener('abort', () => stop.abort(), { once: true });
  return {
    signal: stop.signal,
    off: () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.off('SIGHUP', onHup);
    },
  };
}

function session(ctx: HandlerContext, o: WorkerOptions, stop: AbortSignal): Session {
  const { env, logger, paths } = ctx;
  const retryMs = o.lockRetryMs ?? LOCK_RETRY_MS;
  const superseded = (): string | undefined =>
    isDisabled(paths) ? 'the extension is disabled' : readMrseq(paths) !== o.seq ? 'a newer enable superseded this worker' : undefined;
  // Every way the worker can fail to start reports and tries again every retryMs, so attestation
  // resumes by itself once the cause is gone.
  const cannotRun = (m: string) => {
    logger.error(m, { seq: o.seq, retryInMs: retryMs });
    if (superseded()) return;
    try {
      writeStatus(
        env,
        o.seq,
        errorStatus({
          name: env.name,
          status: 'error',
          code: ExitCode.Internal,
          message: `cvm-attest is not running: ${m}; retrying every ${Math.round(retryMs / 1000)} s`,
          now: ctx.now(),
        }),
      );
      writeHeartbeat(env, heartbeatFile('NotReady', m, ExitCode.Internal));
    } catch (e) {
      logger.error('cannot write the status', { error: (e as Error).message });
    }
  };
  return { ctx, o, stop, uid: ownUid() ?? 0, startTime: procStartTime(process.pid) ?? 0, retryMs, superseded, cannotRun };
}

/** The worker lock, retried every retryMs while another process holds it; undefined: exit (stopped, superseded, or another worker serves this seq). */
async function acquireLock(w: Session): Promise<WorkerLock | undefined> {
  const {
    ctx: { env, logger },
    o,
    stop,
    uid,
  } = w;
  const self = { pid: process.pid, startTime: w.startTime, seq: o.seq };
  const lockDir = workerLockDir(env.libDir, env.name);
  for (;;) {
    let holder: LockHolder | undefined;
    let failure: string | undefined;
    const waitUntil = performance.now() + (o.lockWaitMs ?? 3000);
    for (;;) {
      try {
        const r = tryWorkerLock(lockDir, self, uid);
        if ('lock' in r) return r.lock;
        holder = r.holder;
      } catch (e) {
        failure = e instanceof CvmAttestError ? e.message : `the worker lock: ${(e as Error).message}`;
        break;
      }
      const genuine = holder !== undefined && holder.pid !== process.pid && isOurWorker(holder.pid, holder.startTime, uid);
      if (genuine && holder!.seq === o.seq) {
        // Two starts for the same settings (concurrent enables): the other one serves them.
        logger.info('another worker holds the lock; exiting', { seq: o.seq, pid: holder!.pid });
        return undefined;
      }
      // A worker being replaced (another seq) is exiting; a holder without a record has just taken
      // the lock and is writing it. Wait a little for either.
      if (stop.aborted || performance.now() >= waitUntil) break;
      await delay(100);
    }
    if (stop.aborted) return undefined;
    const gone = w.superseded();
    if (gone) {
      logger.info(`${gone}; exiting`, { seq: o.seq });
      return undefined;
    }
    if (!failure) {
      const h = holder;
      failure =
        h === undefined
          ? `the worker lock ${lockDir} is held by a process that does not say who it is`
          : isOurWorker(h.pid, h.startTime, uid)
            ? `the worker for seq ${h.seq} (pid ${h.pid}) still holds the worker lock`
            : `the worker lock ${lockDir} is held by a process that is not a live cvm-attest worker (record: pid ${h.pid})`;
    }
    w.cannotRun(failure);
    await delay(w.retryMs, undefined, { signal: stop }).catch(() => undefined);
  }
}

/** state/ must be writable (ENOSPC, EROFS, a folder where a file goes): say so and retry. The jitter seed, or undefined: exit. */
async function prepareState(w: Session): Promise<string | undefined> {
  const {
    ctx: { logger, paths },
    o,
    stop,
  } = w;
  for (;;) {
    try {
      ensureStateDirs(paths);
      writeWorkerRecord(paths, { pid: process.pid, startTime: w.startTime, seq: o.seq, startedAt: new Date().toISOString() });
      return jitterSeed(paths);
    } catch (e) {
      w.cannotRun(`the state folder ${paths.stateDir} cannot be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    await delay(w.retryMs, undefined, { signal: stop }).catch(() => undefined);
    if (stop.aborted) return undefined;
    const gone = w.superseded();
    if (gone) {
      logger.info(`${gone}; exiting`, { seq: o.seq });
      return undefined;
    }
  }
}

interface Runner {
  /** Runs at once, then on schedule, until stopped or superseded. */
  schedule(): Promise<void>;
  close(): Promise<void>;
}

/** Loads the settings, builds the policy and the sinks; when any is refused, says so (status, heartbeat) and gives undefined. */
async function startRunner(w: Session, seed: string): Promise<Runner | undefined> {
  const { ctx, o, stop } = w;
  const { env, logger, paths } = ctx;
  const refuse = (code: number, m: string) => {
    writeStatus(env, o.seq, errorStatus({ name: env.name, status: 'error', code, message: `cvm-attest is not running: ${m}`, now: ctx.now() }));
    writeHeartbeat(env, heartbeatFile('NotReady', m, code));
  };
  let loaded: LoadedSettings;
  let policy: unknown;
  try {
    loaded = await loadSettings(env, o.seq, stop);
    policy = await o.engine.buildPolicy(policyInput(loaded.settings, loaded.protectedSettings));
  } catch (e) {
    if (stop.aborted) return undefined;
    const m = e instanceof CvmAttestError ? e.message : `internal error: ${(e as Error).message}`;
    logger.error('worker cannot start', { error: m });
    refuse(e instanceof SettingsError ? ExitCode.Input : ExitCode.Internal, m);
    return undefined;
  }
  const s = loaded.settings;
  // publicSettings.logLevel; env CVM_ATTEST_LOG_LEVEL (read by `handler`) wins, like the other overrides.
  if (!ctx.processEnv['CVM_ATTEST_LOG_LEVEL']) logger.setLevel?.(s.logLevel);
  const runs = new Runs(w, s, policy, seed);
  const sinkSettings = deepMerge(s.sinks, loaded.protectedSettings.sinks);
  if (sinkSettings !== undefined) {
    try {
      // A retry the sinks run by themselves rewrites the last status with the new delivery state.
      runs.sinks = await o.engine.createSinks(sinkSettings, {
        stateDir: paths.stateDir,
        logger,
        signal: stop,
        agentVersion: EXTENSION_VERSION,
        onStateChange: (d) => {
          if (!stop.aborted) runs.restatus?.(d);
        },
      });
    } catch (e) {
      refuse(ExitCode.Input, e instanceof CvmAttestError ? e.message : `sinks: ${(e as Error).message}`);
      return undefined;
    }
  }
  return runs;
}

/** The runs of one worker: the schedule, one run, the heartbeat. */
class Runs implements Runner {
  sinks: WorkerSinks | undefined;
  /** Rewrites the last status (and last result) with a new delivery state. */
  restatus: ((deliveries: readonly SinkDelivery[]) => void) | undefined;
  readonly #w: Session;
  readonly #s: ExtensionSettings;
  readonly #policy: unknown;
  readonly #seed: string;
  readonly #minuteMs: number;
  readonly #intervalMs: number;
  readonly #heartbeatMs: number;
  /** The schedule runs on the monotonic clock: the host sets guest time, and a step of the wall clock must neither stall nor rush the next run. */
  readonly #mono: () => number;
  #nextRunMono: number;
  #lastSummary = 'starting';
  #remoteFailures = 0;
  #beat: NodeJS.Timeout | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(w: Session, s: ExtensionSettings, policy: unknown, seed: string) {
    this.#w = w;
    this.#s = s;
    this.#policy = policy;
    this.#seed = seed;
    this.#minuteMs = w.o.minuteMs ?? 60_000;
    this.#intervalMs = s.intervalMinutes * this.#minuteMs;
    this.#heartbeatMs = w.o.heartbeatMs ?? envMs(w.ctx.processEnv['CVM_ATTEST_HEARTBEAT_MS']) ?? HEARTBEAT_REFRESH_MS;
    this.#mono = w.o.monotonic ?? (() => performance.now());
    this.#nextRunMono = this.#mono();
  }

  /** Times shown are wall-clock: now + what remains on the monotonic clock. */
  #wallAt(monoMs: number): Date {
    return new Date(this.#w.ctx.now().getTime() + Math.max(0, monoMs - this.#mono()));
  }

  #beatNow(): void {
    try {
      writeHeartbeat(this.#w.ctx.env, heartbeatFile('Ready', this.#lastSummary));
    } catch (e) {
      this.#w.ctx.logger.warn('heartbeat not written', { error: (e as Error).message });
    }
  }

  async schedule(): Promise<void> {
    const {
      ctx: { logger },
      o,
      stop,
    } = this.#w;
    // The heartbeat is refreshed on its own timer, so a run that takes longer than the agent's
    // 10 minutes (an IMDS hang with retries) never makes the handler look Unresponsive.
    this.#beat = setInterval(() => this.#beatNow(), this.#heartbeatMs);
    this.#beat.unref();
    await new Promise<void>((resolve) => {
      const tick = async () => {
        this.#timer = undefined;
        if (stop.aborted) return resolve();
        const gone = this.#w.superseded();
        if (gone) {
          logger.info(`${gone}; stopping`, { seq: o.seq });
          return resolve();
        }
        if (this.#mono() >= this.#nextRunMono - 5) {
          this.#lastSummary = `attestation run in progress since ${utcStamp(this.#w.ctx.now())}${this.#lastSummary === 'starting' ? '' : ` (${this.#lastSummary})`}`;
          this.#beatNow();
          try {
            await this.runOnce();
          } catch (e) {
            logger.error('run crashed', { error: (e as Error).message });
            this.#nextRunMono = this.#mono() + Math.min(this.#intervalMs, COLLECTION_RETRY_MS);
          }
        }
        if (stop.aborted) return resolve();
        // One timer to the next run (or to the superseded check); the heartbeat has its own.
        const wait = Math.max(0, Math.min(this.#nextRunMono - this.#mono(), this.#heartbeatMs));
        this.#timer = setTimeout(() => {
          void tick();
        }, wait);
      };
      stop.addEventListener(
        'abort',
        () => {
          if (this.#timer) clearTimeout(this.#timer);
          this.#timer = undefined;
          resolve();
        },
        { once: true },
      );
      void tick();
    });
  }

  /** One run: attest, schedule the next, deliver, then report (last result, status, event, heartbeat, last-run). */
  async runOnce(): Promise<void> {
    const { ctx, o, stop } = this.#w;
    const { env, logger, paths } = ctx;
    const s = this.#s;
    const mono = this.#mono;
    const started = mono();
    const runSignal = AbortSignal.any([stop, AbortSignal.timeout(RUN_TIMEOUT_MS)]);
    const tpm = ctx.processEnv['CVM_ATTEST_TPM'] || s.tpm;
    const imds = ctx.processEnv['CVM_ATTEST_IMDS_ENDPOINT'] || s.imdsEndpoint;
    const pcs = ctx.processEnv['CVM_ATTEST_PCS_ENDPOINT'] || s.pcsEndpoint;
    let outcome: WorkerOutcome | undefined;
    let failure: unknown;
    try {
      outcome = await o.engine.attest({
        ...(tpm ? { tpm } : {}),
        ...(imds ? { imdsEndpoint: imds } : {}),
        ...(pcs ? { pcsEndpoint: pcs } : {}),
        policy: this.#policy,
        cacheDir: paths.cacheDir,
        quote: s.freshness,
        signal: runSignal,
        ...(s.verifier ? { verifier: s.verifier } : {}),
      });
    } catch (e) {
      failure = e;
    }
    if (stop.aborted) return;
    this.#nextRunMono = started + this.#nextWait(outcome, failure);
    const { deliveries, alerts } = await this.#deliver(outcome, failure);
    if (stop.aborted) return;
    const now = ctx.now();
    const nextRunAt = this.#wallAt(this.#nextRunMono);
    // Written before the status, so whoever sees the new status finds this run's result.
    const saveLastResult = (i: LastResultInput) => {
      try {
        writeLastResult(paths.stateDir, lastResult(i));
      } catch (e) {
        logger.warn('last result not written', { error: (e as Error).message });
      }
    };
    if (outcome) {
      const r = outcome.result;
      await writeHtmlReport(paths.stateDir, outcome, now).catch((e: unknown) => logger.warn('HTML report not written', { error: (e as Error).message }));
      const render = (d: readonly SinkDelivery[], at: Date) => {
        const local = outcomeStatus({
          name: env.name,
          result: r,
          identity: outcome.identity,
          warnings: outcome.warnings ?? [],
          deliveries: d,
          alerts,
          statusOnFailure: s.statusOnFailure,
          nextRunAt,
          notes: s.notes,
          now: at,
        });
        return outcome.remote ? withRemote(local, outcome.remote, s.statusOnFailure) : local;
      };
      const record = (d: readonly SinkDelivery[]) =>
        saveLastResult({ seq: o.seq, at: now, result: r, warnings: outcome.warnings ?? [], deliveries: d, alerts, nextRunAt });
      record(deliveries);
      writeStatus(env, o.seq, render(deliveries, now));
      this.restatus = (d) => {
        record(d);
        writeStatus(env, o.seq, render(d, ctx.now()));
      };
      this.#lastSummary = `last run ${utcStamp(now)}: ${r.verdict.toUpperCase()}${r.product ? ` (${r.product})` : ''}; next ${utcStamp(nextRunAt)}`;
      const failed = r.checks.filter((c) => c.status === 'fail').map((c) => c.id);
      writeExtensionEvent(
        env,
        {
          taskName: 'Attestation',
          level: r.verdict === 'pass' ? 'Informational' : s.statusOnFailure === 'error' ? 'Error' : 'Warning',
          operationId: `seq-${o.seq}`,
          message: `verdict ${r.verdict}${r.product ? ` (${r.product})` : ''}${failed.length ? `; failed: ${failed.join(', ')}` : ''}`,
        },
        extensionVersion(ctx.processEnv),
        logger,
      );
      logger.info('attestation run', { verdict: r.verdict, product: r.product, failed, ms: Math.round(mono() - started), nextRunAt: nextRunAt.toISOString() });
    } else {
      const isCollection = failure instanceof CvmAttestError && failure.exitCode === ExitCode.Collection;
      const m =
        failure instanceof CvmAttestError ? `${failure.message} [${failure.code}]` : `internal error: ${(failure as Error)?.message ?? String(failure)}`;
      const code =
        failure instanceof SettingsError
          ? ExitCode.Input
          : isCollection
            ? ExitCode.Collection
            : failure instanceof CvmAttestError
              ? failure.exitCode
              : ExitCode.Internal;
      const render = (d: readonly SinkDelivery[], at: Date) =>
        errorStatus({
          name: env.name,
          status: s.statusOnFailure,
          code,
          message: `${isCollection ? 'evidence could not be collected' : 'attestation run failed'}: ${m}`,
          deliveries: d,
          alerts,
          nextRunAt,
          now: at,
        });
      const record = (d: readonly SinkDelivery[]) => saveLastResult({ seq: o.seq, at: now, error: m, deliveries: d, alerts, nextRunAt });
      record(deliveries);
      writeStatus(env, o.seq, render(deliveries, now));
      this.restatus = (d) => {
        record(d);
        writeStatus(env, o.seq, render(d, ctx.now()));
      };
      // the worker itself is healthy (Ready); the status says what failed
      this.#lastSummary = `last run ${utcStamp(now)} failed: ${m}`;
      writeExtensionEvent(
        env,
        { taskName: 'Attestation', level: 'Error', operationId: `seq-${o.seq}`, message: `no verdict: ${m}` },
        extensionVersion(ctx.processEnv),
        logger,
      );
      logger.warn('attestation run failed', { code, error: m, nextRunAt: nextRunAt.toISOString() });
    }
    this.#beatNow();
    await writeFileAtomic(
      paths.lastRunFile,
      JSON.stringify({ seq: o.seq, at: now.toISOString(), nextRunAt: nextRunAt.toISOString(), summary: this.#lastSummary }) + '\n',
    ).catch(() => undefined);
  }

  /** Ms from this run's start to the next: the interval, sooner after a failed collection or a verifier that gave no verdict; plus the per-VM jitter. */
  #nextWait(outcome: WorkerOutcome | undefined, failure: unknown): number {
    const intervalMs = this.#intervalMs;
    const jitter = jitterMs(intervalMs, this.#s.jitterPercent, outcome?.identity?.vmId ?? this.#seed);
    // Verifier mode: a verifier that gave no verdict is asked again with backoff (1, 2, 4... minutes, up to the interval).
    this.#remoteFailures = outcome?.remote?.error !== undefined ? this.#remoteFailures + 1 : 0;
    const wait = failure
      ? Math.min(intervalMs, COLLECTION_RETRY_MS * (this.#minuteMs / 60_000))
      : this.#remoteFailures > 0
        ? Math.min(intervalMs, this.#minuteMs * 2 ** Math.min(this.#remoteFailures - 1, 16))
        : intervalMs;
    return wait + jitter;
  }

  async #deliver(outcome: WorkerOutcome | undefined, failure: unknown): Promise<{ deliveries: readonly SinkDelivery[]; alerts: readonly StatusAlert[] }> {
    if (!this.sinks) return { deliveries: [], alerts: [] };
    try {
      return await this.sinks.deliver(outcome ?? { error: failure, identity: undefined });
    } catch (e) {
      // The sinks' substatus never just disappears.
      this.#w.ctx.logger.warn('sink delivery failed', { error: (e as Error).message });
      return {
        deliveries: [{ name: 'sinks', status: 'failed', message: `delivery failed: ${(e as Error)?.message ?? String(e)}`, queueDepth: 0 }],
        alerts: [],
      };
    }
  }

  async close(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#beat) clearInterval(this.#beat);
    await this.sinks?.close?.().catch(() => undefined);
  }
}

/** A test/diagnostic override in ms (e.g. CVM_ATTEST_HEARTBEAT_MS); only values in [10 ms, default] count. */
function envMs(v: string | undefined): number | undefined {
  if (!v || !/^\d{1,9}$/.test(v)) return undefined;
  const n = Number(v);
  return n >= 10 && n <= HEARTBEAT_REFRESH_MS ? n : undefined;
}

/** The last verdict as a self-contained HTML file, state/report.html (see src/report/html.ts); renderer loaded lazily. */
async function writeHtmlReport(stateDir: string, o: WorkerOutcome, now: Date): Promise<void> {
  const { renderHtmlReport } = await import('../report/html.js');
  const id = o.identity;
  const identity = Object.fromEntries(
    Object.entries({ vmId: id?.vmId, vmName: id?.name, resourceId: id?.resourceId, location: id?.location, vmSize: id?.vmSize }).filter(
      (e): e is [string, string] => typeof e[1] === 'string',
    ),
  );
  await writeFileAtomic(join(stateDir, 'report.html'), renderHtmlReport(o.result, { identity, generatedAt: now }), { mode: 0o644 });
}
