// state/last-result.json: the worker's last run as data (verdict, checks, claims, warnings, sink and
// alert state, time, seq). The ONE reader and writer: `cvm-attest status` and the demo read this
// instead of parsing back the portal strings that status.ts formats from the same run.
import { join } from 'node:path';
import { ParseError } from '../base/errors.js';
import { parseJsonBounded } from '../base/bounded-json.js';
import { writeFileAtomicSync } from '../io/atomic-file.js';
import { readFileBoundedSync } from '../io/bounded-read.js';
import type { CheckStatus, VerificationResult } from '../result/result.js';
import { checkGroupIndex } from '../result/check-groups.js';
import { claimsJson, MAX_ALERTS, type StatusAlert } from './status.js';
import type { SinkDelivery } from '../sinks/types.js';

export const LAST_RESULT_FILE = 'last-result.json';
export const LAST_RESULT_VERSION = 1;
/** Far above a real file (the claims are capped at 10 KiB as in the status). */
export const MAX_LAST_RESULT_BYTES = 1024 * 1024;

export interface LastResultCheck {
  readonly group: string;
  readonly id: string;
  readonly status: CheckStatus;
  readonly reason: string;
}
export interface LastResultAlert {
  readonly name: string;
  readonly severity: string;
  readonly description: string;
}

export interface LastResult {
  readonly v: typeof LAST_RESULT_VERSION;
  /** The settings sequence number the worker ran with. */
  readonly seq: number;
  /** When the run ended (ISO). */
  readonly at: string;
  /** The local verdict; none when the run produced none (evidence not collected). */
  readonly verdict: 'pass' | 'fail' | 'none';
  /** Why there is no verdict (verdict none). */
  readonly error?: string;
  readonly product?: string;
  /** In the status's group order. */
  readonly checks: readonly LastResultCheck[];
  /** As the status shows them: under 10 KiB, the largest values replaced by a note. */
  readonly claims?: Readonly<Record<string, unknown>>;
  readonly warnings: readonly string[];
  readonly sinks: readonly SinkDelivery[];
  readonly alerts: readonly LastResultAlert[];
  readonly nextRunAt?: string;
}

/** state/last-result.json is torn, too large, not JSON, or of a version this build does not know. */
export class LastResultError extends ParseError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_LAST_RESULT', message, options);
  }
}

export function lastResultPath(stateDir: string): string {
  return join(stateDir, LAST_RESULT_FILE);
}

export interface LastResultInput {
  readonly seq: number;
  readonly at: Date;
  readonly result?: VerificationResult;
  readonly error?: string;
  readonly warnings?: readonly string[];
  readonly deliveries: readonly SinkDelivery[];
  readonly alerts: readonly StatusAlert[];
  readonly nextRunAt?: Date;
}

/** Pure: the file's content for one run. */
export function lastResult(i: LastResultInput): LastResult {
  const r = i.result;
  const checks = r
    ? r.checks
        .map((c, n) => ({ c, n }))
        .sort((a, b) => checkGroupIndex(a.c.group) - checkGroupIndex(b.c.group) || a.n - b.n)
        .map(({ c }) => ({ group: c.group, id: c.id, status: c.status, reason: c.reason }))
    : [];
  return {
    v: LAST_RESULT_VERSION,
    seq: i.seq,
    at: i.at.toISOString(),
    verdict: r ? r.verdict : 'none',
    ...(i.error !== undefined ? { error: i.error } : {}),
    ...(r?.product ? { product: r.product } : {}),
    checks,
    ...(r ? { claims: JSON.parse(claimsJson(r.claims)) as Record<string, unknown> } : {}),
    warnings: [...new Set([...(i.warnings ?? []), ...(r?.warnings ?? [])])],
    sinks: i.deliveries,
    alerts: i.alerts.slice(0, MAX_ALERTS).map((a) => ({ name: a.AlertName, severity: a.AlertSeverity, description: a.Description })),
    ...(i.nextRunAt ? { nextRunAt: i.nextRunAt.toISOString() } : {}),
  };
}

/** Atomic (temp file + rename): a reader sees the previous run or this one, never half of one. */
export function writeLastResult(stateDir: string, r: LastResult): void {
  writeFileAtomicSync(lastResultPath(stateDir), JSON.stringify(r) + '\n', { mode: 0o600 });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

/** The last result, undefined when there is none yet; LastResultError when the file cannot be used. */
export function readLastResult(stateDir: string): LastResult | undefined {
  const path = lastResultPath(stateDir);
  let text: string;
  try {
    // The one way a file is read here too: no symlink followed, regular file, capped from the descriptor.
    text = readFileBoundedSync(path, { max: MAX_LAST_RESULT_BYTES, what: 'last result', noFollow: true }).toString('utf8');
  } catch (e) {
    if (((e as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return undefined;
    throw new LastResultError((e as Error).message, { cause: e });
  }
  let doc: unknown;
  try {
    doc = parseJsonBounded(text, { what: path, code: 'E_LAST_RESULT', maxLength: MAX_LAST_RESULT_BYTES });
  } catch (e) {
    throw new LastResultError((e as Error).message, { cause: e });
  }
  return validate(doc, path);
}

const DELIVERY_STATUSES: readonly SinkDelivery['status'][] = ['delivered', 'queued', 'failed', 'disabled'];

function sinkOf(s: unknown): SinkDelivery | undefined {
  if (!isObject(s) || !isStr(s['name']) || !isStr(s['message']) || typeof s['queueDepth'] !== 'number') return undefined;
  const status = DELIVERY_STATUSES.find((x) => x === s['status']);
  if (!status) return undefined;
  const o = (k: string): string | undefined => (isStr(s[k]) ? s[k] : undefined);
  const lastDeliveryAt = o('lastDeliveryAt'),
    lastDropAt = o('lastDropAt'),
    lastDropReason = o('lastDropReason');
  return {
    name: s['name'],
    status,
    message: s['message'],
    queueDepth: s['queueDepth'],
    ...(lastDeliveryAt !== undefined ? { lastDeliveryAt } : {}),
    ...(typeof s['dropped'] === 'number' ? { dropped: s['dropped'] } : {}),
    ...(lastDropAt !== undefined ? { lastDropAt } : {}),
    ...(lastDropReason !== undefined ? { lastDropReason } : {}),
  };
}

function validate(d: unknown, path: string): LastResult {
  const bad = (what: string): never => {
    throw new LastResultError(`${path}: ${what}`);
  };
  if (!isObject(d)) return bad('not an object');
  if (d['v'] !== LAST_RESULT_VERSION) return bad(`unknown version ${JSON.stringify(d['v'])?.slice(0, 20)} (this build reads ${LAST_RESULT_VERSION})`);
  if (!Number.isInteger(d['seq']) || !isStr(d['at']) || !['pass', 'fail', 'none'].includes(d['verdict'] as string)) bad('seq, at or verdict missing');
  const arr = (k: string): unknown[] => (Array.isArray(d[k]) ? d[k] : bad(`${k} is not a list`));
  const checks = arr('checks').map((c) =>
    isObject(c) && isStr(c['group']) && isStr(c['id']) && isStr(c['reason']) && ['pass', 'fail', 'warn', 'skip'].includes(c['status'] as string)
      ? { group: c['group'], id: c['id'], status: c['status'] as CheckStatus, reason: c['reason'] }
      : bad('a check is malformed'),
  );
  const sinks = arr('sinks').map((s) => sinkOf(s) ?? bad('a sink is malformed'));
  const alerts = arr('alerts').map((a) =>
    isObject(a) && isStr(a['name']) && isStr(a['severity']) && isStr(a['description'])
      ? { name: a['name'], severity: a['severity'], description: a['description'] }
      : bad('an alert is malformed'),
  );
  const warnings = arr('warnings').map((w) => (isStr(w) ? w : bad('a warning is not text')));
  if (d['claims'] !== undefined && !isObject(d['claims'])) bad('claims is not an object');
  const opt = (k: string): string | undefined => (d[k] === undefined ? undefined : isStr(d[k]) ? d[k] : bad(`${k} is not text`));
  const error = opt('error'),
    product = opt('product'),
    nextRunAt = opt('nextRunAt');
  return {
    v: LAST_RESULT_VERSION,
    seq: d['seq'] as number,
    at: d['at'] as string,
    verdict: d['verdict'] as LastResult['verdict'],
    ...(error !== undefined ? { error } : {}),
    ...(product !== undefined ? { product } : {}),
    checks,
    ...(isObject(d['claims']) ? { claims: d['claims'] } : {}),
    warnings,
    sinks,
    alerts,
    ...(nextRunAt !== undefined ? { nextRunAt } : {}),
  };
}
