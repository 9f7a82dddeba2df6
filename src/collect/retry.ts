// Bounded retries with full-jitter exponential backoff, honouring a server's Retry-After (capped so
// a misbehaving endpoint cannot park the collector), abortable at every wait.

export interface RetryOptions {
  /** Attempts in total, first one included (>= 1). */
  attempts: number;
  /** Backoff before retry n (1-based) is random in [0, min(maxDelayMs, baseDelayMs * 2^(n-1))]. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Upper bound for a server-requested Retry-After wait. */
  retryAfterCapMs: number;
  signal?: AbortSignal;
  /** Random source in [0, 1); injectable for tests. */
  random?: () => number;
}

/** What one attempt reports: a value, or an error with whether to retry and a server-requested delay. */
export type AttemptOutcome<T> = { ok: true; value: T } | { ok: false; error: Error; retryable: boolean; retryAfterMs?: number };

export function backoffDelay(retry: number, o: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs' | 'random'>): number {
  const ceiling = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor((o.random ?? Math.random)() * ceiling);
}

/**
 * Parses a Retry-After header: delta-seconds or an HTTP date. Returns milliseconds (>= 0) or
 * undefined when absent or unparseable.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const t = v.trim();
  if (/^\d{1,9}$/.test(t)) return Number(t) * 1000;
  const date = Date.parse(t);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `attempt` until it succeeds, fails without being retryable, or the attempts run out; the
 * last error is thrown. `onRetry` sees each error that leads to a retry (for warnings/logs).
 */
export async function withRetry<T>(
  attempt: (n: number) => Promise<AttemptOutcome<T>>,
  options: RetryOptions,
  onRetry?: (error: Error, delayMs: number, n: number) => void,
): Promise<T> {
  const attempts = Math.max(1, Math.floor(options.attempts));
  for (let n = 1; ; n++) {
    const outcome = await attempt(n);
    if (outcome.ok) return outcome.value;
    if (!outcome.retryable || n >= attempts || options.signal?.aborted) throw outcome.error;
    const delay = outcome.retryAfterMs !== undefined ? Math.min(outcome.retryAfterMs, options.retryAfterCapMs) : backoffDelay(n, options);
    onRetry?.(outcome.error, delay, n);
    await sleep(delay, options.signal);
  }
}
