// The handler commands the agent runs (install, enable, disable, uninstall, update). Each is short:
// long work belongs to the detached worker. See docs/extension.md for the lifecycle.
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, fstatSync, readSync, constants } from 'node:fs';
import { join, dirname, basename, resolve } from 'node:path';
import type { HandlerEnvironment } from './handler-environment.js';
import type { ExtLogger } from './logger.js';
import {
  parseSettingsFile, validatePublicSettings, validateProtectedSettings, resolveSequenceNumber, SettingsError, SETTINGS_MAX_BYTES,
  type ExtensionSettings, type ProtectedSettings,
} from './settings.js';
import { decryptProtectedSettings } from './protected-settings.js';
import { policyFromSettings } from './policy-settings.js';
import {
  statePaths, ensureStateDirs, jitterSeed, readWorkerRecord, removeWorkerRecord, writeMrseq, oldVersionDir, carryState,
  removeState, setDisabled, type StatePaths,
} from './state.js';
import { lockHolderRecord, workerLockDir, legacyLockHolder, legacyLockName } from './lock.js';
import { isOurWorker, procStartTime, procCmdline } from './proc.js';
import { readStatus, writeStatus, writeHeartbeat } from './files.js';
import { removeStaleTemps } from '../io/atomic-file.js';
import { writeExtensionEvent, extensionVersion, type ExtensionEvent } from './telemetry.js';
import { transitioningStatus, errorStatus, heartbeatFile, statusFile } from './status.js';
import { ExitCode } from '../base/errors.js';

export interface HandlerContext {
  readonly env: HandlerEnvironment;
  readonly paths: StatePaths;
  readonly processEnv: NodeJS.ProcessEnv;
  readonly logger: ExtLogger;
  readonly now: () => Date;
  /** argv that runs this CLI again (`node [execArgv] <entry>`), to start the worker. */
  readonly self: { readonly execPath: string; readonly args: readonly string[] };
}

export function makeContext(env: HandlerEnvironment, logger: ExtLogger, processEnv: NodeJS.ProcessEnv = process.env): HandlerContext {
  return {
    env, logger, processEnv, paths: statePaths(env.extensionDir), now: () => new Date(),
    self: { execPath: process.execPath, args: [...process.execArgv, process.argv[1] ?? ''] },
  };
}

export interface LoadedSettings {
  readonly seq: number;
  readonly settings: ExtensionSettings;
  readonly protectedSettings: ProtectedSettings;
}

/** Reads, validates and decrypts config/<seq>.settings. Throws SettingsError naming the setting. */
export async function loadSettings(env: HandlerEnvironment, seq: number, signal?: AbortSignal): Promise<LoadedSettings> {
  const file = join(env.configFolder, `${seq}.settings`);
  const hs = parseSettingsFile(readSettingsText(file, seq));
  const settings = validatePublicSettings(hs.publicSettings);
  let protectedSettings: ProtectedSettings = {};
  if (hs.protectedSettings !== null && hs.protectedSettingsCertThumbprint !== null) {
    const plain = await decryptProtectedSettings({
      protectedSettings: hs.protectedSettings, thumbprint: hs.protectedSettingsCertThumbprint, libDir: env.libDir,
      ...(signal ? { signal } : {}),
    });
    protectedSettings = validateProtectedSettings(plain);
  }
  // Reject a bad policy here, at enable, not only when the worker starts.
  policyFromSettings(policyInput(settings, protectedSettings));
  return { seq, settings, protectedSettings };
}

/**
 * The text of config/<seq>.settings. Only a missing file for seq 0 means "no settings" (the agent
 * runs enable without any); a folder, a FIFO, an unreadable or oversized file is a SettingsError,
 * never the defaults. Opened once, without blocking, and read from that descriptor with a cap.
 */
function readSettingsText(file: string, seq: number): string {
  const cannot = (why: string) => new SettingsError('runtimeSettings', `config/${seq}.settings cannot be read (${why})`);
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'ENOENT' && seq === 0) return '';
    throw cannot(code);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw cannot(st.isDirectory() ? 'it is a folder' : 'not a regular file');
    const buf = Buffer.alloc(SETTINGS_MAX_BYTES + 1);
    let n = 0;
    for (;;) {
      let r: number;
      try { r = readSync(fd, buf, n, buf.length - n, null); } catch (e) { throw cannot((e as NodeJS.ErrnoException).code ?? 'error'); }
      if (r === 0) break;
      n += r;
      if (n > SETTINGS_MAX_BYTES) throw new SettingsError('runtimeSettings', 'the settings file is larger than 1 MiB');
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export function policyInput(s: ExtensionSettings, p: ProtectedSettings): { policy?: Readonly<Record<string, unknown>>; minimumTcb?: Readonly<Record<string, number>>; from: string } {
  const policy = p.policy ?? s.policy;
  return {
    ...(policy ? { policy } : {}),
    ...(s.minimumTcb ? { minimumTcb: s.minimumTcb } : {}),
    from: p.policy ? 'protectedSettings.policy' : 'publicSettings.policy',
  };
}

function isFinal(status: string | undefined): boolean {
  return status === 'success' || status === 'warning' || status === 'error';
}

interface LiveWorker { readonly pid: number; readonly startTime: number; readonly seq: number }

/**
 * The running worker, if any: the one recorded in state/worker.json, else the holder of the worker
 * lock (a worker that has not written its record yet, or one of another version's folder), else
 * whoever binds the abstract socket earlier versions locked with (an old version's worker during an
 * update). Only a process that is verifiably our worker (same /proc start time, `handler worker`
 * command line, our uid) counts, and its seq is read from its own command line, not from what a
 * socket says.
 */
async function findWorker(ctx: HandlerContext): Promise<LiveWorker | undefined> {
  const uid = ownUid();
  const r = readWorkerRecord(ctx.paths);
  if (r && isOurWorker(r.pid, r.startTime, uid)) return r;
  if (r) {
    ctx.logger.info('worker record is stale (process gone or pid reused); ignoring it', { pid: r.pid });
    removeWorkerRecord(ctx.paths, r.pid);
  }
  const holder = lockHolderRecord(workerLockDir(ctx.env.libDir, ctx.env.name), uid ?? 0);
  if (holder && holder.pid !== process.pid && isOurWorker(holder.pid, holder.startTime, uid)) return holder;
  const legacy = await legacyLockHolder(legacyLockName(ctx.env.libDir, ctx.env.name), 300);
  if (!legacy || legacy.pid === process.pid) return undefined;
  const startTime = procStartTime(legacy.pid);
  const seq = workerSeq(legacy.pid, ctx.env);
  return startTime !== undefined && seq !== undefined && isOurWorker(legacy.pid, startTime, uid) ? { pid: legacy.pid, startTime, seq } : undefined;
}

/**
 * The `--seq N` a worker of THIS installation was started with (its command line, as startWorker
 * wrote it): `--extension-dir <libDir>/<handler>-<version>`. A socket's answer may name any process,
 * including a genuine worker of another installation, which must never be signalled.
 */
function workerSeq(pid: number, env: HandlerEnvironment): number | undefined {
  const argv = procCmdline(pid);
  const arg = (k: string) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : undefined; };
  const dir = arg('--extension-dir');
  if (dir === undefined || dirname(resolve(dir)) !== resolve(env.libDir) || !basename(dir).startsWith(`${env.name}-`)) return undefined;
  const v = arg('--seq');
  return v !== undefined && /^\d{1,9}$/.test(v) ? Number(v) : undefined;
}

/** The uid a genuine worker runs as: ours (the agent runs handlers and so workers as root). */
export function ownUid(): number | undefined {
  return process.geteuid?.();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return procStartTime(pid) !== undefined;
  } catch {
    return false;
  }
}

/** Stops the recorded worker, if it is still ours: SIGTERM, then SIGKILL to its group after timeoutMs. */
export async function stopWorker(ctx: HandlerContext, timeoutMs = 400): Promise<boolean> {
  const w = await findWorker(ctx);
  if (!w) return false;
  ctx.logger.info('stopping worker', { pid: w.pid, seq: w.seq });
  try { process.kill(w.pid, 'SIGTERM'); } catch { /* exited meanwhile */ }
  const deadline = Date.now() + timeoutMs;
  while (alive(w.pid) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 25));
  if (alive(w.pid) && isOurWorker(w.pid, w.startTime, ownUid())) {
    ctx.logger.warn('worker did not stop in time; killing its process group', { pid: w.pid });
    try { process.kill(-w.pid, 'SIGKILL'); } catch { try { process.kill(w.pid, 'SIGKILL'); } catch { /* gone */ } }
    const d2 = Date.now() + 300;
    while (alive(w.pid) && Date.now() < d2) await new Promise((res) => setTimeout(res, 25));
  }
  removeWorkerRecord(ctx.paths, w.pid);
  return true;
}

/**
 * Starts the worker detached: its own session and process group, no inherited stdio, the handler's
 * env. Resolves once the process exists (the 'spawn' event, milliseconds), or with why it could not
 * be started (a missing or non-executable runtime), so enable can say so instead of leaving the
 * status at transitioning forever.
 */
export async function startWorker(ctx: HandlerContext, seq: number): Promise<{ pid: number } | { error: string }> {
  const args = [...ctx.self.args, 'handler', 'worker', '--extension-dir', ctx.env.extensionDir, '--seq', String(seq)];
  const devnull = openSync('/dev/null', 'r+');
  try {
    const child = spawn(ctx.self.execPath, args, {
      detached: true, // setsid(): survives the agent killing the command's process group
      stdio: [devnull, devnull, devnull],
      cwd: ctx.env.extensionDir,
      env: ctx.processEnv,
    });
    child.unref();
    const started = await new Promise<{ pid: number } | { error: string }>((resolve) => {
      child.once('spawn', () => resolve({ pid: child.pid ?? 0 }));
      child.on('error', (e: NodeJS.ErrnoException) => resolve({ error: `${ctx.self.execPath}: ${e.code ?? e.message}` }));
    });
    if ('error' in started) ctx.logger.error('worker failed to start', { error: started.error, seq });
    else ctx.logger.info('worker started', { pid: started.pid, seq });
    return started;
  } catch (e) {
    // spawn() itself throws on arguments it refuses (e.g. a NUL byte in a path).
    const error = `${ctx.self.execPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    ctx.logger.error('worker failed to start', { error, seq });
    return { error };
  } finally {
    closeSync(devnull);
  }
}

/** Starts the worker; when it cannot be started, the status and heartbeat say so (code 4). */
async function startWorkerOrReport(ctx: HandlerContext, seq: number): Promise<void> {
  const r = await startWorker(ctx, seq);
  if (!('error' in r)) return;
  const message = `cvm-attest is not running: the worker could not be started (${r.error}); reinstall the extension`;
  writeStatus(ctx.env, seq, errorStatus({ name: ctx.env.name, status: 'error', code: ExitCode.Internal, message, now: ctx.now() }));
  writeHeartbeat(ctx.env, heartbeatFile('NotReady', message, ExitCode.Internal));
}

const event = (ctx: HandlerContext, e: ExtensionEvent): boolean => writeExtensionEvent(ctx.env, e, extensionVersion(ctx.processEnv), ctx.logger);

export async function install(ctx: HandlerContext): Promise<number> {
  ensureStateDirs(ctx.paths);
  jitterSeed(ctx.paths);
  // The agent reads the heartbeat as soon as the handler is installed: say what we are waiting for.
  if (!existsSync(ctx.env.heartbeatFile)) writeHeartbeat(ctx.env, heartbeatFile('NotReady', 'cvm-attest installed; waiting for enable'));
  ctx.logger.info('installed', { extensionDir: ctx.env.extensionDir });
  event(ctx, { taskName: 'Install', level: 'Informational', message: `cvm-attest ${extensionVersion(ctx.processEnv)} installed`, operationId: 'install' });
  return 0;
}

export async function enable(ctx: HandlerContext): Promise<number> {
  const { env, logger } = ctx;
  ensureStateDirs(ctx.paths);
  for (const d of [env.statusFolder, ctx.paths.stateDir]) removeStaleTemps(d);
  // A bad ConfigSequenceNumber names no status file to report in: fail the command (exit 2, one
  // line on stderr, which the agent shows as the handler's message).
  const seq = resolveSequenceNumber(ctx.processEnv, env.configFolder);
  const existing = readStatus(env, seq);
  const worker = await findWorker(ctx);
  setDisabled(ctx.paths, false);
  // Same seq, already reported: the agent re-runs enable after restarts, reboots and new goal
  // states with unchanged settings. Leave the status alone; only make sure the worker runs.
  if (existing && existing.status.operation === 'Enable' && isFinal(existing.status.status)) {
    if (existing.status.code === ExitCode.Input) {
      logger.info('enable: same seq, settings already reported as invalid; nothing to do', { seq });
      return 0;
    }
    if (worker && worker.seq === seq) {
      logger.info('enable: same seq, worker running; nothing to do', { seq, pid: worker.pid });
      return 0;
    }
    if (worker) await stopWorker(ctx);
    writeMrseq(ctx.paths, seq);
    logger.info('enable: same seq, worker not running (reboot, crash or update); restarting it', { seq });
    writeHeartbeat(env, heartbeatFile('Ready', 'cvm-attest worker starting'));
    await startWorkerOrReport(ctx, seq);
    return 0;
  }
  if (worker && worker.seq === seq && existing?.status.status === 'transitioning') {
    logger.info('enable: worker for this seq is already on its first run', { seq, pid: worker.pid });
    return 0;
  }
  // A new seq (or no final status yet): validate, report transitioning, (re)start the worker.
  let loaded: LoadedSettings;
  try {
    loaded = await loadSettings(env, seq);
  } catch (e) {
    if (!(e instanceof SettingsError)) throw e;
    await stopWorker(ctx);
    writeMrseq(ctx.paths, seq);
    logger.warn('enable: invalid settings', { seq, setting: e.setting, error: e.message });
    writeStatus(env, seq, errorStatus({ name: env.name, status: 'error', code: ExitCode.Input, message: `cvm-attest is not running: ${e.message}`, now: ctx.now() }));
    writeHeartbeat(env, heartbeatFile('NotReady', `invalid settings: ${e.message}`, ExitCode.Input));
    event(ctx, { taskName: 'Enable', level: 'Error', message: `invalid settings: ${e.message}`, operationId: `seq-${seq}` });
    return 0;
  }
  if (worker) await stopWorker(ctx);
  writeMrseq(ctx.paths, seq);
  const s = loaded.settings;
  writeStatus(env, seq, transitioningStatus(env.name, 'Enable',
    `cvm-attest starting: first attestation now, then every ${s.intervalMinutes} min (+ up to ${s.jitterPercent}% per-VM jitter); failure status: ${s.statusOnFailure}`, ctx.now()));
  writeHeartbeat(env, heartbeatFile('Ready', 'cvm-attest worker starting'));
  await startWorkerOrReport(ctx, seq);
  logger.info('enabled', { seq });
  event(ctx, { taskName: 'Enable', level: 'Informational', message: `enabled with settings seq ${seq}: every ${s.intervalMinutes} min, statusOnFailure ${s.statusOnFailure}`, operationId: `seq-${seq}` });
  return 0;
}

export async function disable(ctx: HandlerContext): Promise<number> {
  setDisabled(ctx.paths, true); // a worker started a moment ago exits instead of running
  const stopped = await stopWorker(ctx, 3000);
  let seq: number | undefined;
  try { seq = resolveSequenceNumber(ctx.processEnv, ctx.env.configFolder); } catch { seq = undefined; }
  if (seq !== undefined) {
    const last = readStatus(ctx.env, seq);
    const lastMsg = last ? ` Last result (${last.timestampUTC}): ${last.status.formattedMessage.message}` : '';
    writeStatus(ctx.env, seq, statusFile({ name: ctx.env.name, operation: 'Disable', status: 'success', code: 0,
      message: `cvm-attest disabled: worker ${stopped ? 'stopped' : 'was not running'}; no further attestation runs.${lastMsg}`, now: ctx.now() }));
  }
  writeHeartbeat(ctx.env, heartbeatFile('NotReady', 'cvm-attest disabled'));
  ctx.logger.info('disabled', { stopped });
  return 0;
}

export async function uninstall(ctx: HandlerContext): Promise<number> {
  setDisabled(ctx.paths, true);
  await stopWorker(ctx, 3000);
  removeState(ctx.paths);
  ctx.logger.info('uninstalled: state removed, logs kept', { logFolder: ctx.env.logFolder });
  return 0;
}

export async function update(ctx: HandlerContext): Promise<number> {
  const from = ctx.processEnv['AZURE_GUEST_AGENT_UPDATING_FROM_VERSION'];
  const target = ctx.processEnv['VERSION'];
  const own = ctx.processEnv['AZURE_GUEST_AGENT_EXTENSION_VERSION'];
  // Upgrade: the agent runs the NEW version's update (VERSION = own); carry state from `from`.
  // Downgrade: it runs the OLD (higher) version's update with VERSION = the lower target; then this
  // folder is the source and the target version's folder the destination.
  const downgrade = target !== undefined && own !== undefined && target !== own;
  const otherVersion = downgrade ? target : from;
  if (!otherVersion) {
    ctx.logger.warn('update: AZURE_GUEST_AGENT_UPDATING_FROM_VERSION not set; nothing to carry');
    return 0;
  }
  const otherDir = oldVersionDir(ctx.env.extensionDir, ctx.env.name, otherVersion);
  if (!otherDir || otherDir === ctx.env.extensionDir) {
    ctx.logger.warn('update: the other version folder is not there; nothing to carry', { from, target, own });
    return 0;
  }
  const [src, dst] = downgrade ? [ctx.env.extensionDir, otherDir] : [otherDir, ctx.env.extensionDir];
  // The agent disabled the old worker first; stop it anyway if it is still alive.
  await stopWorker({ ...ctx, paths: statePaths(src) }, 3000);
  const to = statePaths(dst);
  const carried = carryState(src, to);
  ensureStateDirs(to);
  ctx.logger.info('updated', { from, target, downgrade, carried, src, dst });
  return 0;
}
