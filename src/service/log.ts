// The service's log: winston JSON lines on stdout (containers collect stdout). Callers pass only
// metadata they chose (ids, verdicts, timings), never evidence, tokens or keys; keys that smell of a
// secret are redacted anyway as a second line of defence.
import winston from 'winston';

export interface ServiceLogger {
  error(msg: string, meta?: object): void;
  warn(msg: string, meta?: object): void;
  info(msg: string, meta?: object): void;
  close(): Promise<void>;
}

const SECRET = /secret|password|token|private|key|evidence|authorization/i;

const redact = winston.format((info) => {
  for (const k of Object.keys(info)) if (k !== 'level' && k !== 'message' && k !== 'timestamp' && SECRET.test(k)) info[k] = '[redacted]';
  return info;
});

export function serviceLogger(level = process.env.CVM_ATTEST_LOG_LEVEL ?? 'info'): ServiceLogger {
  const stream = new winston.transports.Stream({ stream: process.stdout });
  const logger = winston.createLogger({
    level,
    format: winston.format.combine(winston.format.timestamp(), redact(), winston.format.json()),
    transports: [stream],
  });
  // A line logged after close (a late timer during shutdown) is dropped, not a crash.
  let open = true;
  // winston runs a filtered line through its whole stream pipeline before dropping it: ask first
  // (the level is fixed for the logger's life), so `info` per attestation costs nothing at level warn.
  const on = { error: logger.isErrorEnabled(), warn: logger.isWarnEnabled(), info: logger.isInfoEnabled() };
  return {
    error: (m, meta) => void (open && on.error && logger.error(m, meta)),
    warn: (m, meta) => void (open && on.warn && logger.warn(m, meta)),
    info: (m, meta) => void (open && on.info && logger.info(m, meta)),
    close: () =>
      new Promise((resolve) => {
        if (!open) return resolve();
        open = false;
        logger.on('finish', () => resolve());
        logger.end();
        setTimeout(resolve, 200).unref();
      }),
  };
}
