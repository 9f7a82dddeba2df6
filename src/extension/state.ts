// The extension's own state, inside its folder (the only place the agent gives it besides the
// HandlerEnvironment paths):
//   <ext>/mrseq                 last sequence number enable processed (the agent copies it on update)
//   <ext>/state/                0700
//     worker.json               the running worker: pid, /proc start time, seq, bundle path
//     last-run.json             summary of the last run (verdict, status, times)
//     last-result.json          the last run as data (last-result.ts): what `cvm-attest status` shows
//     jitter-seed               random per-VM seed of the run jitter (stable across updates)
//     disabled                  marker written by disable, removed by enable
//     cache/                    IMDS certificate cache (collector)
//     sinks/                    sinks' spool and alert state (created by the sinks)
// `update` copies state/ from the old version's folder; `uninstall` deletes it (logs are kept).
import { mkdirSync, readFileSync, existsSync, cpSync, rmSync, readdirSync } from 'node:fs';
import { randomBytes, createHash } from 'node:crypto';
import { dirname, join, basename } from 'node:path';
import { writeFileAtomicSync } from '../io/atomic-file.js';

export interface StatePaths {
  readonly stateDir: string;
  readonly workerFile: string;
  readonly lastRunFile: string;
  readonly seedFile: string;
  readonly cacheDir: string;
  readonly sinksDir: string;
  readonly mrseqFile: string;
  /** Present while disabled: a worker started just before a disable exits instead of running. */
  readonly disabledFile: string;
}

export function statePaths(extensionDir: string): StatePaths {
  const stateDir = join(extensionDir, 'state');
  return {
    stateDir,
    workerFile: join(stateDir, 'worker.json'),
    lastRunFile: join(stateDir, 'last-run.json'),
    seedFile: join(stateDir, 'jitter-seed'),
    cacheDir: join(stateDir, 'cache'),
    sinksDir: join(stateDir, 'sinks'),
    mrseqFile: join(extensionDir, 'mrseq'),
    disabledFile: join(stateDir, 'disabled'),
  };
}

export function ensureStateDirs(p: StatePaths): void {
  for (const d of [p.stateDir, p.cacheDir, p.sinksDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
}

export interface WorkerRecord {
  readonly pid: number;
  /** /proc/<pid>/stat start time (clock ticks since boot): tells a live worker from a reused pid. */
  readonly startTime: number;
  readonly seq: number;
  readonly startedAt: string;
}

export function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export function readWorkerRecord(p: StatePaths): WorkerRecord | undefined {
  const r = readJson<Partial<WorkerRecord>>(p.workerFile);
  if (!r || !Number.isInteger(r.pid) || (r.pid as number) <= 1 || !Number.isInteger(r.startTime) || !Number.isInteger(r.seq)) return undefined;
  return r as WorkerRecord;
}

export function writeWorkerRecord(p: StatePaths, r: WorkerRecord): void {
  writeFileAtomicSync(p.workerFile, JSON.stringify(r) + '\n');
}

export function removeWorkerRecord(p: StatePaths, pid: number): void {
  const r = readWorkerRecord(p);
  if (r && r.pid === pid) rmSync(p.workerFile, { force: true });
}

export function readMrseq(p: StatePaths): number | undefined {
  try {
    const t = readFileSync(p.mrseqFile, 'utf8').trim();
    return /^\d{1,9}$/.test(t) ? Number(t) : undefined;
  } catch {
    return undefined;
  }
}

export function writeMrseq(p: StatePaths, seq: number): void {
  writeFileAtomicSync(p.mrseqFile, `${seq}`, { mode: 0o644 });
}

/** A random seed created once per installation (carried across updates) for the run jitter. */
export function jitterSeed(p: StatePaths): string {
  try {
    const s = readFileSync(p.seedFile, 'utf8').trim();
    if (/^[0-9a-f]{32}$/.test(s)) return s;
  } catch {
    /* create below */
  }
  const s = randomBytes(16).toString('hex');
  mkdirSync(dirname(p.seedFile), { recursive: true, mode: 0o700 });
  writeFileAtomicSync(p.seedFile, s + '\n');
  return s;
}

/** Jitter in ms in [0, interval*percent/100): stable for a VM (vmId when known, else the install seed). */
export function jitterMs(intervalMs: number, percent: number, key: string): number {
  const span = Math.floor((intervalMs * percent) / 100);
  if (span <= 0) return 0;
  const h = createHash('sha256').update(key).digest();
  return h.readUInt32BE(0) % span;
}

/** `<lib>/<Publisher.Type>-<version>` of an earlier version, from the agent's update env var. */
export function oldVersionDir(extensionDir: string, handlerName: string, fromVersion: string): string | undefined {
  if (!/^\d+(\.\d+){0,3}$/.test(fromVersion)) return undefined;
  const dir = join(dirname(extensionDir), `${handlerName}-${fromVersion}`);
  if (existsSync(dir)) return dir;
  // The folder name may use the handler name's case as the agent wrote it: search.
  try {
    const want = `${handlerName}-${fromVersion}`.toLowerCase();
    const found = readdirSync(dirname(extensionDir)).find((n) => n.toLowerCase() === want);
    return found ? join(dirname(extensionDir), found) : undefined;
  } catch {
    return undefined;
  }
}

/** Copies state/ (cache, spool, seed, last run) from the old version; the worker record is not carried. */
export function carryState(fromExtensionDir: string, to: StatePaths): boolean {
  const from = statePaths(fromExtensionDir);
  if (!existsSync(from.stateDir)) return false;
  mkdirSync(to.stateDir, { recursive: true, mode: 0o700 });
  cpSync(from.stateDir, to.stateDir, {
    recursive: true,
    force: true,
    preserveTimestamps: true,
    filter: (src) => basename(src) !== 'worker.json' && basename(src) !== 'disabled' && !basename(src).endsWith('.tmp'),
  });
  return true;
}

export function isDisabled(p: StatePaths): boolean {
  return existsSync(p.disabledFile);
}

export function setDisabled(p: StatePaths, disabled: boolean): void {
  if (disabled) {
    mkdirSync(p.stateDir, { recursive: true, mode: 0o700 });
    writeFileAtomicSync(p.disabledFile, `${new Date().toISOString()}\n`);
  } else {
    rmSync(p.disabledFile, { force: true });
  }
}

export function removeState(p: StatePaths): void {
  rmSync(p.stateDir, { recursive: true, force: true });
}
