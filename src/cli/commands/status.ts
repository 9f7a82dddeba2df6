// `cvm-attest status`: what the extension on this VM (or in the demo's folder) last did, read from the
// files it keeps, without side effects: nothing is created, locked, signalled or rewritten.
//   status/<seq>.status   the portal status of the last operation (its status, code and message)
//   state/last-result.json the last run's verdict, checks, claims, sinks and alerts (src/extension/last-result.ts)
//   state/last-run.json   when the worker last ran and when it runs next
//   state/worker.json     the worker's pid, checked against /proc the way the handlers check it
//   state/sinks/...       each sink's last delivery (status.json), spooled records (queue depth),
//                         dropped count, alert drift state
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, resolve, basename } from 'node:path';
import type { CliCommand } from '../command.js';
import { ExitCode, InputError } from '../../base/errors.js';
import { isOurWorker } from '../../extension/proc.js';
import { statePaths, readMrseq } from '../../extension/state.js';
import { ALERT_STATE_FILE, AZURE_MONITOR_ALERT_SPOOL, SINKS_STATUS_FILE, SPOOL_FOLDERS, spoolDir } from '../../sinks/layout.js';
import { readLastResult, LastResultError, type LastResult } from '../../extension/last-result.js';

/** Where the Azure Linux agent unpacks extensions. */
export const WAAGENT_LIB = '/var/lib/waagent';
/** `Publisher.Type` of this extension (HandlerManifest.json). */
export const HANDLER_NAME = 'CvmAttest.Security.SnpAttestation';

export interface SinkView {
  readonly name: string;
  readonly queueDepth: number;
  readonly dropped: number;
  /** From sinks/status.json (written by the sinks after each delivery), else the last extension status. */
  readonly status?: string;
  readonly message?: string;
  readonly lastDeliveryAt?: string;
}

export interface CheckView {
  readonly group: string;
  readonly id: string;
  /** pass, fail, warn or skip (as the verifier said); the group's portal status when it cannot be split. */
  readonly status: string;
  readonly reason: string;
}

export interface AlertView {
  readonly name: string;
  readonly severity: string;
  readonly description: string;
}

export interface StatusView {
  readonly extensionDir: string;
  readonly handlerName: string;
  /** The extension version: the `<handlerName>-<version>` folder the agent unpacked the package into. */
  readonly version?: string;
  readonly seq?: number;
  readonly result?: {
    /** The last attestation verdict (pass / fail), also after a disable; none while the first run is going. */
    readonly verdict: 'pass' | 'fail' | 'none';
    /** When that verdict was reached, when the status says (a disable's status quotes the last result). */
    readonly verdictAt?: string;
    /** The portal status of the last operation (a disable that worked is `success`, whatever the verdict). */
    readonly operation: string;
    readonly status: string;
    readonly code: number;
    readonly at: string;
    readonly message: string;
    /** Each check of the last run (state/last-result.json), in the status's group order. */
    readonly checks: readonly CheckView[];
    readonly claims?: Readonly<Record<string, unknown>>;
  };
  readonly lastRun?: { readonly at?: string; readonly nextRunAt?: string; readonly summary?: string };
  readonly worker: { readonly running: boolean; readonly pid?: number; readonly seq?: number; readonly startedAt?: string; readonly note: string };
  readonly heartbeat?: { readonly status: string; readonly message: string; readonly modifiedAt: string };
  readonly sinks: readonly SinkView[];
  readonly alerts: readonly AlertView[];
  /** Alert conditions still active (raised once, not repeated while they last). */
  readonly activeAlertConditions: readonly { readonly key: string; readonly since: string }[];
  readonly htmlReport?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function readJsonFile(path: string, max = 1024 * 1024): unknown {
  try {
    const st = statSync(path);
    if (!st.isFile() || st.size > max) return undefined;
    return JSON.parse(readFileSync(path, 'utf8').replace(/^\uFEFF/, '')) as unknown;
  } catch {
    return undefined;
  }
}

/** The status files' time format (seconds, Z), as the disable status quoted it. */
function utcSeconds(iso: string): string {
  return iso.replace(/\.\d{3}Z$/, 'Z');
}

function str(o: Record<string, unknown>, k: string): string | undefined {
  const v = o[k];
  return typeof v === 'string' ? v : undefined;
}

/** The newest `<lib>/<handlerName>-<version>` folder (by version, then mtime), if any. */
export function findInstallation(lib = WAAGENT_LIB, handlerName = HANDLER_NAME): string | undefined {
  let names: string[];
  try {
    names = readdirSync(lib);
  } catch {
    return undefined;
  }
  const prefix = `${handlerName}-`.toLowerCase();
  const found = names
    .filter((n) => n.toLowerCase().startsWith(prefix) && /^\d+(\.\d+){0,3}$/.test(n.slice(prefix.length)))
    .map((n) => join(lib, n))
    .filter((d) => existsSync(join(d, 'HandlerEnvironment.json')));
  const ver = (d: string) => basename(d).slice(prefix.length).split('.').map(Number);
  found.sort((a, b) => {
    const va = ver(a),
      vb = ver(b);
    for (let i = 0; i < 4; i++) {
      const d = (va[i] ?? 0) - (vb[i] ?? 0);
      if (d !== 0) return d;
    }
    return statSync(a).mtimeMs - statSync(b).mtimeMs;
  });
  return found.at(-1);
}

/** --dir, else $AZURE_GUEST_AGENT_EXTENSION_PATH, else the newest installation under /var/lib/waagent. */
export function resolveExtensionDir(dir: string | undefined, env: NodeJS.ProcessEnv = process.env, lib = WAAGENT_LIB): string {
  const given = dir ?? env['AZURE_GUEST_AGENT_EXTENSION_PATH'];
  if (given) {
    const d = resolve(given);
    if (!existsSync(join(d, 'HandlerEnvironment.json'))) {
      throw new InputError(
        'E_NO_INSTALLATION',
        `${d} is not a cvm-attest extension folder (no HandlerEnvironment.json); give the folder the Azure agent unpacked the extension into, e.g. --dir ${lib}/${HANDLER_NAME}-<version>`,
      );
    }
    return d;
  }
  const found = findInstallation(lib);
  if (!found) {
    throw new InputError(
      'E_NO_INSTALLATION',
      `no cvm-attest extension installation found under ${lib}/${HANDLER_NAME}-*; is the extension installed on this VM? (give --dir EXTENSION_DIR, or run \`npm run demo\` to see one)`,
    );
  }
  return found;
}

function countSpool(dir: string): { depth: number; dropped: number } {
  let depth = 0;
  try {
    for (const n of readdirSync(dir)) if (/^\d{20}-[A-Za-z0-9-]{1,64}\.json$/.test(n)) depth++;
  } catch {
    /* no spool yet */
  }
  const st = readJsonFile(join(dir, 'state.json'));
  const dropped = isObject(st) && typeof st['dropped'] === 'number' ? st['dropped'] : 0;
  return { depth, dropped };
}

/** Reads everything `status` shows. Pure reads: safe while the worker runs. */
export function readStatusView(extensionDir: string): StatusView {
  const dir = resolve(extensionDir);
  const he = readJsonFile(join(dir, 'HandlerEnvironment.json'));
  const first: unknown = Array.isArray(he) ? (he as unknown[])[0] : he;
  const henv = isObject(first) && isObject(first['handlerEnvironment']) ? first['handlerEnvironment'] : {};
  const handlerName = isObject(first) && typeof first['name'] === 'string' ? first['name'] : HANDLER_NAME;
  const statusFolder = resolve(dir, str(henv, 'statusFolder') ?? 'status');
  const heartbeatFile = str(henv, 'heartbeatFile');

  const paths = statePaths(dir);
  let seq = readMrseq(paths); // undefined: never enabled
  if (seq === undefined) {
    try {
      const seqs = readdirSync(statusFolder)
        .map((n) => /^(\d{1,9})\.status$/.exec(n)?.[1])
        .filter((s): s is string => !!s)
        .map(Number);
      if (seqs.length) seq = Math.max(...seqs);
    } catch {
      /* no status yet */
    }
  }

  const stateDir = paths.stateDir;
  let last: LastResult | undefined;
  try {
    last = readLastResult(stateDir);
  } catch (e) {
    if (!(e instanceof LastResultError)) throw e;
    last = undefined; // torn or from another version: read as no result, like a torn status file
  }

  let result: StatusView['result'];
  const sinkFromStatus = new Map<string, { status: string; message: string; lastDeliveryAt?: string }>();
  const alerts: AlertView[] = [];
  if (seq !== undefined) {
    const doc = readJsonFile(join(statusFolder, `${seq}.status`));
    const e: unknown = Array.isArray(doc) ? (doc as unknown[])[0] : undefined;
    const s = isObject(e) && isObject(e['status']) ? e['status'] : undefined;
    if (isObject(e) && s) {
      const fm = isObject(s['formattedMessage']) ? s['formattedMessage'] : {};
      const operation = str(s, 'operation') ?? '';
      const portal = str(s, 'status') ?? '';
      const at = str(e, 'timestampUTC') ?? '';
      // The status file shows the last run while it is this seq's final Enable status; a disable
      // keeps quoting its verdict; a new seq's first run (transitioning) or a worker that could not
      // start shows none.
      const shown = last !== undefined && last.seq === seq && operation === 'Enable' && portal !== 'transitioning' && portal !== '' ? last : undefined;
      const quoted = operation === 'Disable' ? last : undefined;
      if (shown) {
        for (const d of shown.sinks)
          sinkFromStatus.set(d.name, { status: d.status, message: d.message, ...(d.lastDeliveryAt ? { lastDeliveryAt: d.lastDeliveryAt } : {}) });
        alerts.push(...shown.alerts);
      }
      const verdict = shown?.verdict ?? quoted?.verdict ?? 'none';
      result = {
        verdict,
        ...(verdict === 'none' ? {} : shown ? { verdictAt: at } : { verdictAt: utcSeconds(quoted!.at) }),
        operation,
        status: portal,
        code: typeof s['code'] === 'number' ? s['code'] : -1,
        at,
        message: str(fm, 'message') ?? '',
        checks: shown?.checks ?? [],
        ...(shown?.claims ? { claims: shown.claims } : {}),
      };
    }
  }

  const lr = readJsonFile(paths.lastRunFile);
  const lastRun = isObject(lr)
    ? {
        ...(str(lr, 'at') ? { at: str(lr, 'at') } : {}),
        ...(str(lr, 'nextRunAt') ? { nextRunAt: str(lr, 'nextRunAt') } : {}),
        ...(str(lr, 'summary') ? { summary: str(lr, 'summary') } : {}),
      }
    : undefined;

  const wr = readJsonFile(paths.workerFile);
  let worker: StatusView['worker'];
  if (isObject(wr) && Number.isInteger(wr['pid']) && Number.isInteger(wr['startTime'])) {
    const pid = wr['pid'] as number;
    const running = pid > 1 && isOurWorker(pid, wr['startTime'] as number); // the handlers' own test: same start time, `handler worker`
    worker = {
      running,
      pid,
      ...(Number.isInteger(wr['seq']) ? { seq: wr['seq'] as number } : {}),
      ...(str(wr, 'startedAt') ? { startedAt: str(wr, 'startedAt') } : {}),
      note: running ? 'running' : 'not running (recorded process is gone or is another process)',
    };
  } else {
    worker = { running: false, note: result?.operation === 'Disable' ? 'not running (extension disabled)' : 'not running' };
  }

  let heartbeat: StatusView['heartbeat'];
  if (heartbeatFile) {
    const hp = resolve(dir, heartbeatFile);
    const hb = readJsonFile(hp);
    const h0 = Array.isArray(hb) && isObject(hb[0]) && isObject(hb[0]['heartbeat']) ? hb[0]['heartbeat'] : undefined;
    if (h0) {
      heartbeat = {
        status: str(h0, 'status') ?? '',
        message: isObject(h0['formattedMessage']) ? (str(h0['formattedMessage'], 'message') ?? '') : '',
        modifiedAt: statSync(hp).mtime.toISOString(),
      };
    }
  }

  const sinksDir = paths.sinksDir;
  const sinks: SinkView[] = [];
  // The sinks record their last state in sinks/status.json after every delivery (background retries
  // included); the status file's substatus is the fallback. The queue depth is counted live.
  const recorded = new Map<string, { status: string; message: string; lastDeliveryAt?: string }>();
  const sj = readJsonFile(join(sinksDir, SINKS_STATUS_FILE));
  for (const d of Array.isArray(sj) ? sj : []) {
    if (!isObject(d) || typeof d['name'] !== 'string' || typeof d['status'] !== 'string') continue;
    const at = str(d, 'lastDeliveryAt');
    recorded.set(d['name'], { status: d['status'], message: str(d, 'message') ?? '', ...(at ? { lastDeliveryAt: at } : {}) });
  }
  for (const [name, folder] of Object.entries(SPOOL_FOLDERS)) {
    const spool = spoolDir(sinksDir, folder);
    const fromStatus = recorded.get(name) ?? sinkFromStatus.get(name);
    if (!existsSync(spool) && (!fromStatus || fromStatus.status === 'disabled')) continue;
    const { depth, dropped } = countSpool(spool);
    // Azure Monitor keeps its alerts in a queue of their own (records cannot evict them).
    const alertQ = name === 'azureMonitor' ? countSpool(spoolDir(sinksDir, AZURE_MONITOR_ALERT_SPOOL)) : { depth: 0, dropped: 0 };
    sinks.push({ name, queueDepth: depth + alertQ.depth, dropped: dropped + alertQ.dropped, ...(fromStatus ?? {}) });
  }

  const as = readJsonFile(join(sinksDir, ALERT_STATE_FILE));
  const activeAlertConditions =
    isObject(as) && isObject(as['active'])
      ? Object.entries(as['active'])
          .filter(([, v]) => isObject(v))
          .map(([key, v]) => ({ key, since: str(v as Record<string, unknown>, 'since') ?? '' }))
      : [];

  // The worker writes state/report.html (src/extension/worker.ts), nothing else.
  const htmlPath = join(stateDir, 'report.html');
  const htmlReport = existsSync(htmlPath) ? htmlPath : undefined;
  const prefix = `${handlerName}-`;
  const folder = basename(dir);
  const version = folder.startsWith(prefix) && /^\d+(\.\d+){1,3}$/.test(folder.slice(prefix.length)) ? folder.slice(prefix.length) : undefined;

  return {
    extensionDir: dir,
    handlerName,
    ...(version ? { version } : {}),
    ...(seq !== undefined ? { seq } : {}),
    ...(result ? { result } : {}),
    ...(lastRun ? { lastRun } : {}),
    worker,
    ...(heartbeat ? { heartbeat } : {}),
    sinks,
    alerts,
    activeAlertConditions,
    ...(htmlReport ? { htmlReport } : {}),
  };
}

/** One line on the guest (issue 11): how freshness was shown, the AK certificate, the event log. */
export function guestSummary(checks: readonly CheckView[]): string | undefined {
  const by = (id: string): CheckView | undefined => checks.find((c) => c.id === id);
  const f = by('freshness');
  const ak = by('ak-certificate');
  const log = by('event-log');
  if (!f && !ak && !log) return undefined;
  const fresh = f
    ? (/^fresh by (report\+quote|report|quote)\b/.exec(f.reason)?.[1] ?? /fresh by (report\+quote|report|quote)\b/.exec(f.reason)?.[1])
    : undefined;
  const parts = [
    f ? (fresh ? `fresh by ${fresh}` : `freshness ${f.status}`) : 'freshness not checked',
    ak ? `AK certificate ${ak.status === 'skip' ? 'absent' : ak.status}` : undefined,
    log
      ? log.status === 'pass'
        ? `event log replays${/Secure Boot (on|OFF)/.exec(log.reason) ? `, Secure Boot ${/Secure Boot (on|OFF)/.exec(log.reason)![1]}` : ''}`
        : `event log ${log.status === 'skip' ? 'absent' : log.status}`
      : undefined,
  ].filter(Boolean);
  return parts.join('; ');
}

function verdictOf(v: StatusView): string {
  const r = v.result;
  if (!r) return 'no result yet';
  if (r.operation === 'Disable') return r.verdict === 'none' ? 'DISABLED' : `DISABLED (last verdict ${r.verdict.toUpperCase()})`;
  if (r.status === 'transitioning') return 'RUNNING FIRST ATTESTATION';
  if (r.verdict !== 'none') return r.verdict.toUpperCase();
  return r.status.toUpperCase();
}

/** The agent calls a heartbeat older than 10 minutes Unresponsive (the worker refreshes it every 4). */
const HEARTBEAT_STALE_MS = 10 * 60_000;
/** A run not started a minute after it was due. */
const OVERDUE_MS = 60_000;

/** The text view: verdict first, then the facts an operator asks for, one per line. */
export function renderStatusText(v: StatusView, now: Date = new Date()): string {
  const out: string[] = [];
  const r = v.result;
  out.push(`cvm-attest status: ${verdictOf(v)}`);
  out.push(`  extension      ${v.extensionDir} (${v.handlerName}${v.version ? ` ${v.version}` : ''}${v.seq !== undefined ? `, settings seq ${v.seq}` : ''})`);
  if (r) {
    out.push(`  last result    ${r.verdict === 'none' ? 'no verdict yet' : `${r.verdict.toUpperCase()}${r.verdictAt ? ` at ${r.verdictAt}` : ''}`}`);
    out.push(`  portal status  ${r.status} (code ${r.code}, operation ${r.operation}) at ${r.at}`);
    out.push(`  message        ${r.message}`);
    const w = Math.max(8, ...r.checks.map((c) => c.id.length));
    for (const c of r.checks) out.push(`    [${c.status === 'fail' ? 'FAIL' : c.status}] ${c.id.padEnd(w)}  ${c.reason}`);
    const guest = guestSummary(r.checks);
    if (guest) out.push(`  guest          ${guest}`);
  } else {
    out.push('  last result    none yet (the extension was never enabled, or the first run has not finished)');
  }
  if (v.lastRun?.at) out.push(`  last run       ${v.lastRun.at}`);
  const next = v.lastRun?.nextRunAt;
  const overdue = next !== undefined && Date.parse(next) < now.getTime() - OVERDUE_MS ? ' (overdue: the worker may be stuck; see its log)' : '';
  out.push(`  next run       ${v.worker.running && next ? `${next}${overdue}` : v.worker.running ? 'after the first run' : 'none (worker not running)'}`);
  out.push(
    `  worker         ${v.worker.note}${v.worker.pid !== undefined ? ` (pid ${v.worker.pid}${v.worker.startedAt ? `, started ${v.worker.startedAt}` : ''})` : ''}`,
  );
  if (v.heartbeat) {
    const stale =
      now.getTime() - Date.parse(v.heartbeat.modifiedAt) > HEARTBEAT_STALE_MS ? ' (older than 10 minutes: the agent reports the extension Unresponsive)' : '';
    out.push(`  heartbeat      ${v.heartbeat.status} at ${v.heartbeat.modifiedAt}${stale}: ${v.heartbeat.message}`);
  }
  if (v.sinks.length === 0) out.push('  sinks          none configured');
  for (const s of v.sinks) {
    out.push(
      `  sink ${s.name.padEnd(13)} queue ${s.queueDepth}${s.dropped ? `, dropped ${s.dropped}` : ''}; last delivery ${s.lastDeliveryAt ?? 'none recorded'}${s.status ? `; ${s.status}: ${s.message ?? ''}` : ''}`,
    );
  }
  for (const a of v.alerts) out.push(`  alert          ${a.severity} ${a.name}: ${a.description}`);
  // Alerts are raised once per condition: one still active is not repeated by later runs, so "none" is
  // only said when nothing was raised and nothing is active.
  if (v.activeAlertConditions.length)
    out.push(`  active alerts  ${v.activeAlertConditions.map((c) => `${c.key} since ${c.since}`).join('; ')} (raised once, not repeated while active)`);
  else if (v.alerts.length === 0) out.push('  alerts         none');
  if (v.htmlReport) out.push(`  HTML report    ${v.htmlReport}`);
  return out.join('\n') + '\n';
}

const command: CliCommand = {
  command: 'status',
  describe:
    'Show the last attestation result, the worker and the sinks of the extension on this VM (read-only; exit 0 when it could be read, the verdict is in the output)',
  builder: (y) =>
    y
      .option('dir', {
        type: 'string',
        describe: `extension folder (default: $AZURE_GUEST_AGENT_EXTENSION_PATH, else the newest ${WAAGENT_LIB}/${HANDLER_NAME}-*)`,
      })
      .option('format', { choices: ['text', 'json'] as const, default: 'text', describe: 'output format' })
      .example('sudo cvm-attest status', 'on a VM with the extension installed')
      .example(
        'cvm-attest status --dir /var/lib/waagent/CvmAttest.Security.SnpAttestation-0.1.0',
        'a given extension folder (e.g. one kept by `node scripts/demo.mjs --keep`)',
      )
      .example('sudo cvm-attest status --format json | jq -r .result.verdict', 'machine-readable: pass, fail or none'),
  async run(args) {
    const dir = typeof args['dir'] === 'string' && args['dir'] !== '' ? args['dir'] : undefined;
    const view = readStatusView(resolveExtensionDir(dir));
    if (args['format'] === 'json') process.stdout.write(JSON.stringify(view, null, 2) + '\n');
    else process.stdout.write(renderStatusText(view));
    return ExitCode.Pass;
  },
};

export default command;
