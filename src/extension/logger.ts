// The extension's log: JSON lines into the agent-given logFolder, size-capped and rotated by
// winston's File transport. Not CommandExecution.log (the agent owns that one). Fields whose name
// smells of a secret are redacted before anything is written, as a second line of defence: the code
// never passes protected settings or tokens to the logger in the first place.
import winston from 'winston';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface ExtLogger {
  error(msg: string, meta?: object): void;
  warn(msg: string, meta?: object): void;
  info(msg: string, meta?: object): void;
  debug(msg: string, meta?: object): void;
  /** Changes the level (the worker applies publicSettings.logLevel once it has read the settings). */
  setLevel?(level: string): void;
  /** Flushes and closes the file (handler commands are short-lived). */
  close(): Promise<void>;
}

export const LOG_FILE = 'cvm-attest.log';
export const LOG_MAX_BYTES = 5 * 1024 * 1024;
export const LOG_MAX_FILES = 5;

const SECRET_KEY = /secret|password|passwd|token|protected|credential|authorization|private/i;

function redact(v: unknown, depth = 0): unknown {
  if (depth > 6 || typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map((x) => redact(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(x, depth + 1);
  return out;
}

const redactFormat = winston.format((info) => {
  for (const k of Object.keys(info)) {
    if (k === 'level' || k === 'message' || k === 'timestamp') continue;
    info[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(info[k]);
  }
  return info;
});

export interface LoggerOptions {
  readonly logFolder: string;
  readonly level?: string;
  /** Tag every line with the operation (install, enable, worker...). */
  readonly operation: string;
  readonly maxBytes?: number;
  readonly maxFiles?: number;
}

export function createExtLogger(o: LoggerOptions): ExtLogger {
  try {
    mkdirSync(o.logFolder, { recursive: true, mode: 0o755 });
  } catch {
    /* the File transport reports the error below */
  }
  const file = new winston.transports.File({
    filename: join(o.logFolder, LOG_FILE),
    maxsize: o.maxBytes ?? LOG_MAX_BYTES,
    maxFiles: o.maxFiles ?? LOG_MAX_FILES,
    tailable: true,
  });
  const w = winston.createLogger({
    level: o.level ?? 'info',
    defaultMeta: { op: o.operation, pid: process.pid },
    format: winston.format.combine(redactFormat(), winston.format.timestamp(), winston.format.json()),
    transports: [file],
    exitOnError: false,
  });
  w.on('error', () => undefined); // a full disk must not crash the handler
  let closed: Promise<void> | undefined;
  return {
    error: (m, meta) => {
      w.error(m, meta);
    },
    warn: (m, meta) => {
      w.warn(m, meta);
    },
    info: (m, meta) => {
      w.info(m, meta);
    },
    debug: (m, meta) => {
      w.debug(m, meta);
    },
    setLevel: (level) => {
      w.level = level;
    },
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        file.on('finish', () => {
          clearTimeout(t);
          resolve();
        });
        w.end();
      });
      return closed;
    },
  };
}
