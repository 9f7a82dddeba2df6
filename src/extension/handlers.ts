// The handler commands the agent runs (install, enable, disable, uninstall, update). Each is short:
// long work belongs to the detached worker (worker.ts; started and stopped by worker-process.ts).
// See docs/extension.md for the lifecycle.
import { existsSync } from 'node:fs';
import { resolveSequenceNumber, SettingsError } from './settings.js';
import { statePaths, ensureStateDirs, jitterSeed, writeMrseq, oldVersionDir, carryState, removeState, setDisabled } from './state.js';
import { readStatus, writeStatus, writeHeartbeat } from './files.js';
import { removeStaleTemps } from '../io/atomic-file.js';
import { writeExtensionEvent, extensionVersion, type ExtensionEvent } from './telemetry.js';
import { transitioningStatus, errorStatus, heartbeatFile, statusFile } from './status.js';
import type { HandlerContext } from './handler-context.js';
import { ExitCode } from '../base/errors.js';
import { loadSettings, type LoadedSettings } from './load-settings.js';
import { findWorker, startWorker, stopWorker } from './worker-process.js';

function isFinal(status: string | undefined): boolean {
  return status === 'success' || status === 'warning' || status === 'error';
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
    writeStatus(
      env,
      seq,
      errorStatus({ name: env.name, status: 'error', code: ExitCode.Input, message: `cvm-attest is not running: ${e.message}`, now: ctx.now() }),
    );
    writeHeartbeat(env, heartbeatFile('NotReady', `invalid settings: ${e.message}`, ExitCode.Input));
    event(ctx, { taskName: 'Enable', level: 'Error', message: `invalid settings: ${e.message}`, operationId: `seq-${seq}` });
    return 0;
  }
  if (worker) await stopWorker(ctx);
  writeMrseq(ctx.paths, seq);
  const s = loaded.settings;
  writeStatus(
    env,
    seq,
    transitioningStatus(
      env.name,
      'Enable',
      `cvm-attest starting: first attestation now, then every ${s.intervalMinutes} min (+ up to ${s.jitterPercent}% per-VM jitter); failure status: ${s.statusOnFailure}`,
      ctx.now(),
    ),
  );
  writeHeartbeat(env, heartbeatFile('Ready', 'cvm-attest worker starting'));
  await startWorkerOrReport(ctx, seq);
  logger.info('enabled', { seq });
  event(ctx, {
    taskName: 'Enable',
    level: 'Informational',
    message: `enabled with settings seq ${seq}: every ${s.intervalMinutes} min, statusOnFailure ${s.statusOnFailure}`,
    operationId: `seq-${seq}`,
  });
  return 0;
}

export async function disable(ctx: HandlerContext): Promise<number> {
  setDisabled(ctx.paths, true); // a worker started a moment ago exits instead of running
  const stopped = await stopWorker(ctx, 3000);
  let seq: number | undefined;
  try {
    seq = resolveSequenceNumber(ctx.processEnv, ctx.env.configFolder);
  } catch {
    seq = undefined;
  }
  if (seq !== undefined) {
    const last = readStatus(ctx.env, seq);
    const lastMsg = last ? ` Last result (${last.timestampUTC}): ${last.status.formattedMessage.message}` : '';
    writeStatus(
      ctx.env,
      seq,
      statusFile({
        name: ctx.env.name,
        operation: 'Disable',
        status: 'success',
        code: 0,
        message: `cvm-attest disabled: worker ${stopped ? 'stopped' : 'was not running'}; no further attestation runs.${lastMsg}`,
        now: ctx.now(),
      }),
    );
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
