// The worker as a process: find the live one (record, lock holder, or an old version's socket),
// start one detached, stop one. Only a process that is verifiably our worker is ever signalled.
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { dirname, basename, resolve } from 'node:path';
import type { HandlerEnvironment } from './handler-environment.js';
import type { HandlerContext } from './handler-context.js';
import { readWorkerRecord, removeWorkerRecord } from './state.js';
import { lockHolderRecord, workerLockDir, legacyLockHolder, legacyLockName } from './lock.js';
import { isOurWorker, procStartTime, procCmdline } from './proc.js';

export interface LiveWorker {
  readonly pid: number;
  readonly startTime: number;
  readonly seq: number;
}

/**
 * The running worker, if any: the one recorded in state/worker.json, else the holder of the worker
 * lock (a worker that has not written its record yet, or one of another version's folder), else
 * whoever binds the abstract socket earlier versions locked with (an old version's worker during an
 * update). Only a process that is verifiably our worker (same /proc start time, `handler worker`
 * command line, our uid) counts, and its seq is read from its own command line, not from what a
 * socket says.
 */
export async function findWorker(ctx: HandlerContext): Promise<LiveWorker | undefined> {
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
  const arg = (k: string) => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1] : undefined;
  };
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
  try {
    process.kill(w.pid, 'SIGTERM');
  } catch {
    /* exited meanwhile */
  }
  const deadline = Date.now() + timeoutMs;
  while (alive(w.pid) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 25));
  if (alive(w.pid) && isOurWorker(w.pid, w.startTime, ownUid())) {
    ctx.logger.warn('worker did not stop in time; killing its process group', { pid: w.pid });
    try {
      process.kill(-w.pid, 'SIGKILL');
    } catch {
      try {
        process.kill(w.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
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
