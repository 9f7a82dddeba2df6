// The alert rules' memory between runs (and agent restarts): <stateDir>/alerts-state.json, read
// defensively (a missing, torn or foreign file starts afresh) and written atomically.
import { readFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, writeFileAtomic } from '../io/atomic-file.js';
import type { TcbComponents } from '../result/result.js';
import { ALERT_STATE_FILE } from './layout.js';

/** What earlier runs saw, persisted between runs (and agent restarts) in the state directory. */
export interface AlertState {
  readonly v: 1;
  /** Failed collections in a row, and when the first of them happened. */
  readonly collectionFailures: number;
  readonly firstCollectionFailureAt?: string | undefined;
  readonly chipId?: string | undefined;
  readonly measurement?: string | undefined;
  /** Last reported TCB seen on each chip (rollback = lower than this on the same chip). */
  readonly tcbByChip: Readonly<Record<string, TcbComponents>>;
  /** Active conditions: key -> fingerprint, and when each started. */
  readonly active: Readonly<Record<string, { readonly fingerprint: string; readonly since: string }>>;
}

export const EMPTY_ALERT_STATE: AlertState = { v: 1, collectionFailures: 0, tcbByChip: {}, active: {} };

/** Loads the drift state; a missing, torn or foreign file starts afresh (first run: no drift alerts). Every field is checked. */
export async function loadAlertState(stateDir: string): Promise<AlertState> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(join(stateDir, ALERT_STATE_FILE), 'utf8'));
  } catch {
    return EMPTY_ALERT_STATE;
  }
  return sanitizeAlertState(doc);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const optStr = (v: unknown): string | undefined => (typeof v === 'string' && v.length <= 4096 ? v : undefined);

export function sanitizeAlertState(doc: unknown): AlertState {
  if (!isObj(doc) || doc.v !== 1) return EMPTY_ALERT_STATE;
  const failures =
    typeof doc.collectionFailures === 'number' && Number.isSafeInteger(doc.collectionFailures) && doc.collectionFailures >= 0 ? doc.collectionFailures : 0;
  const tcbByChip: Record<string, TcbComponents> = {};
  if (isObj(doc.tcbByChip)) {
    for (const [chip, t] of Object.entries(doc.tcbByChip).slice(0, 64)) {
      if (!isObj(t)) continue;
      const comps = Object.fromEntries(Object.entries(t).filter(([, x]) => typeof x === 'number' && Number.isSafeInteger(x))) as Record<string, number>;
      if (Object.keys(comps).length > 0) tcbByChip[chip] = comps;
    }
  }
  const active: Record<string, { fingerprint: string; since: string }> = {};
  if (isObj(doc.active)) {
    for (const [k, a] of Object.entries(doc.active).slice(0, 256)) {
      if (isObj(a) && typeof a.fingerprint === 'string' && typeof a.since === 'string') active[k] = { fingerprint: a.fingerprint, since: a.since };
    }
  }
  return {
    v: 1,
    collectionFailures: failures,
    firstCollectionFailureAt: failures > 0 ? optStr(doc.firstCollectionFailureAt) : undefined,
    chipId: optStr(doc.chipId),
    measurement: optStr(doc.measurement),
    tcbByChip,
    active,
  };
}

/** Saves the drift state atomically (temp file, fsync, rename, directory fsync). */
export async function saveAlertState(stateDir: string, state: AlertState): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(stateDir, ALERT_STATE_FILE), JSON.stringify(state), { syncDir: false });
  await fsyncDir(stateDir);
}
