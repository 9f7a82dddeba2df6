// Extension telemetry events: JSON files in HandlerEnvironment's eventsFolder, which the Azure Linux
// agent collects (azurelinuxagent/ga/collect_telemetry_events.py) into Azure's extension telemetry, as
// Microsoft's own extensions do. The agent's contract, read from its code:
//   - file names ^\d+\.json$ (anything else is ignored and later deleted); a file holds one event
//     or an array; files over 4 MiB are skipped; every file is deleted once read;
//   - each event has all of Version, Timestamp, TaskName, EventLevel, Message, EventPid, EventTid,
//     OperationId (string values; keys case-insensitive), else it is dropped; Message must not be
//     empty and is cut to 3072 characters; an event whose fields add up to more than 6144
//     characters is dropped; at most 300 events per extension per collection (5 min by default);
//   - the agent may read a file while it is being written: write to a temp name, then rename.
// Telemetry never fails a command: a write that cannot happen is logged and dropped.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../io/atomic-file.js';
import type { HandlerEnvironment } from './handler-environment.js';

export const EVENT_LIMITS = { messageChars: 3072, eventChars: 6144, fileBytes: 4 * 1024 * 1024, perCollection: 300 } as const;
/** Files waiting in the folder beyond which we stop adding (the agent is not collecting them). */
export const MAX_PENDING_FILES = 100;
export const EVENT_FILE_RE = /^\d+\.json$/;

export type EventLevel = 'Critical' | 'Error' | 'Warning' | 'Verbose' | 'Informational' | 'LogAlways';
export interface ExtensionEvent {
  /** What happened: Install, Enable, Disable, Uninstall, Update, Attestation. */
  readonly taskName: string;
  readonly level: EventLevel;
  readonly message: string;
  /** Groups the events of one operation (the config sequence number, a run id). */
  readonly operationId: string;
}

/** Pure: the event as the agent reads it, within its limits (the message is cut first). */
export function formatEvent(e: ExtensionEvent, version: string, now: Date, pid: number): Record<string, string> {
  const clean = (s: string, max: number): string => s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, ' ').slice(0, max);
  const base = {
    Version: clean(version, 64),
    Timestamp: now.toISOString(),
    TaskName: clean(e.taskName, 64),
    EventLevel: e.level,
    EventPid: String(pid),
    EventTid: '0',
    OperationId: clean(e.operationId, 128),
  };
  const room = EVENT_LIMITS.eventChars - Object.values(base).reduce((n, v) => n + v.length, 0);
  const message = clean(e.message.trim(), Math.min(EVENT_LIMITS.messageChars, room)) || '(no message)';
  return { ...base, Message: message };
}

let counter = 0;
/** A digits-only, time-ordered, unique file name (the agent reads newest first). */
export function eventFileName(now: Date): string {
  counter = (counter + 1) % 1000;
  return `${now.getTime()}${String(process.pid % 100000).padStart(5, '0')}${String(counter).padStart(3, '0')}.json`;
}

export interface TelemetryLogger {
  warn(msg: string, meta?: Record<string, unknown>): void;
}

/** Writes one event file; false (and a log line) when it was not written. */
export function writeExtensionEvent(env: HandlerEnvironment, e: ExtensionEvent, version: string, logger?: TelemetryLogger, now = new Date()): boolean {
  if (!env.eventsFolder) return false; // an agent without the extension telemetry pipeline
  try {
    const pending = readdirSync(env.eventsFolder).filter((f) => EVENT_FILE_RE.test(f)).length;
    if (pending >= MAX_PENDING_FILES) {
      logger?.warn('extension telemetry event dropped: the agent is not collecting the events folder', { pending, task: e.taskName });
      return false;
    }
    writeFileAtomicSync(join(env.eventsFolder, eventFileName(now)), JSON.stringify(formatEvent(e, version, now, process.pid)), { mode: 0o600, syncDir: false }); // telemetry: no folder fsync on the enable path
    return true;
  } catch (err) {
    logger?.warn('extension telemetry event not written', { error: (err as NodeJS.ErrnoException).code ?? (err as Error).message, task: e.taskName });
    return false;
  }
}

/** The extension version the agent runs (its environment), else the build's. */
export function extensionVersion(processEnv: Readonly<Record<string, string | undefined>>): string {
  return processEnv['AZURE_GUEST_AGENT_EXTENSION_VERSION'] ?? process.env['CVM_ATTEST_VERSION'] ?? 'dev';
}
