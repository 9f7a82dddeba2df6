// Writing the agent-read files: status/<seq>.status and the heartbeat, atomically (0644: no secrets).
import { readFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomicSync } from '../io/atomic-file.js';
import type { HandlerEnvironment } from './handler-environment.js';
import type { StatusFile, HeartbeatEntry, StatusEntry } from './status.js';

export function statusPath(env: HandlerEnvironment, seq: number): string {
  return join(env.statusFolder, `${seq}.status`);
}

export function writeStatus(env: HandlerEnvironment, seq: number, doc: StatusFile): void {
  mkdirSync(env.statusFolder, { recursive: true, mode: 0o700 });
  writeFileAtomicSync(statusPath(env, seq), JSON.stringify(doc), { mode: 0o644 });
}

export function readStatus(env: HandlerEnvironment, seq: number): StatusEntry | undefined {
  try {
    const doc = JSON.parse(readFileSync(statusPath(env, seq), 'utf8')) as unknown;
    if (!Array.isArray(doc) || typeof doc[0] !== 'object' || doc[0] === null) return undefined;
    return doc[0] as StatusEntry;
  } catch {
    return undefined;
  }
}

export function writeHeartbeat(env: HandlerEnvironment, doc: readonly [HeartbeatEntry]): void {
  mkdirSync(dirname(env.heartbeatFile), { recursive: true });
  writeFileAtomicSync(env.heartbeatFile, JSON.stringify(doc), { mode: 0o644 });
}
