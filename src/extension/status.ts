// status/<seq>.status and the heartbeat file: what the agent uploads and the portal shows. Pure
// builders; writing is in files.ts. The agent (exthandlers.py) truncates only a status file larger
// than 128 KiB: then it cuts the top message to 1024 characters, each substatus name/message to 10 KiB
// and drops the substatus past 128 KiB. We keep every file under 128 KiB (in bytes) so nothing is
// cut by the agent, and still keep the top message to 1024 characters (what the portal shows in
// full): the verdict and the key facts first, then one entry per check group, sinks, alerts, and
// the claims last.
import { ExitCode } from '../base/errors.js';
import type { CheckGroup, CheckResult, VerificationResult } from '../result/result.js';
import { CHECK_GROUPS } from '../result/check-groups.js';
import type { SinkDelivery, SinkIdentity } from '../sinks/types.js';
import type { SecurityAlert } from '../sinks/alert-catalogue.js';

export type ExtStatusValue = 'transitioning' | 'success' | 'warning' | 'error';
export type Operation = 'Install' | 'Enable' | 'Disable' | 'Uninstall' | 'Update';

export interface FormattedMessage {
  readonly lang: 'en-US';
  readonly message: string;
}
export interface SubStatus {
  readonly name: string;
  readonly status: ExtStatusValue;
  readonly code: number;
  readonly formattedMessage: FormattedMessage;
}
export interface StatusEntry {
  readonly version: 1;
  readonly timestampUTC: string;
  readonly status: {
    readonly name: string;
    readonly operation: Operation;
    readonly status: ExtStatusValue;
    readonly code: number;
    readonly formattedMessage: FormattedMessage;
    readonly substatus: readonly SubStatus[];
  };
}
export type StatusFile = readonly [StatusEntry];

export const MAX_TOP_MESSAGE = 1024;
export const MAX_SUBSTATUS_FIELD = 10 * 1024;
/** The agent's limit on the status file (exthandlers.py _MAX_STATUS_FILE_SIZE_IN_BYTES), in bytes. */
export const MAX_STATUS_FILE_BYTES = 128 * 1024;
const OMITTED_RESERVE = 160;
export const MAX_CLAIMS_JSON = 10 * 1024 - 64;
/** Sink and alert entries are kept short so the claims (last) always fit under the total. */
export const MAX_SIDE_MESSAGE = 1024;
export const MAX_ALERTS = 16;

const msg = (message: string): FormattedMessage => ({ lang: 'en-US', message });

/** Timestamp the way the agent writes its own: seconds, Z. */
export function utcStamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  return s.slice(0, Math.max(0, max - 3)) + '...';
}

export interface StatusInput {
  readonly name: string;
  readonly operation: Operation;
  readonly status: ExtStatusValue;
  readonly code: number;
  readonly message: string;
  readonly substatus?: readonly SubStatus[];
  readonly now: Date;
}

export function statusFile(i: StatusInput): StatusFile {
  const top: StatusEntry = {
    version: 1,
    timestampUTC: utcStamp(i.now),
    status: { name: i.name, operation: i.operation, status: i.status, code: i.code, formattedMessage: msg(cut(i.message, MAX_TOP_MESSAGE)), substatus: [] },
  };
  // The agent's 128 KiB is the file's size: count the bytes JSON.stringify will write (escapes,
  // UTF-8), not characters. An entry that does not fit is left out and the next ones still tried
  // (the claims come last and are small); what was left out is said in a final entry.
  const subs: SubStatus[] = [];
  let total = Buffer.byteLength(JSON.stringify([top]), 'utf8') + OMITTED_RESERVE;
  let omitted = 0;
  for (const s of i.substatus ?? []) {
    const e: SubStatus = {
      name: cut(s.name, 256),
      status: s.status,
      code: s.code,
      formattedMessage: msg(cut(s.formattedMessage.message, MAX_SUBSTATUS_FIELD)),
    };
    const bytes = Buffer.byteLength(JSON.stringify(e), 'utf8') + 1; // + the comma
    if (total + bytes > MAX_STATUS_FILE_BYTES) {
      omitted++;
      continue;
    }
    total += bytes;
    subs.push(e);
  }
  if (omitted) subs.push(sub('omitted', 'warning', `${omitted} substatus entr${omitted === 1 ? 'y' : 'ies'} left out: the status file is limited to 128 KiB`));
  return [{ ...top, status: { ...top.status, substatus: subs } }];
}

export function sub(name: string, status: ExtStatusValue, message: string, code = 0): SubStatus {
  return { name, status, code, formattedMessage: msg(message) };
}

// ---- attestation outcome -> status ----

/** What the status says of the VM (the collector's IMDS identity, as the sinks carry it). */
export type Identity = Pick<SinkIdentity, 'vmId' | 'resourceId' | 'name'>;
/** What the status shows of an alert. */
export type StatusAlert = Pick<SecurityAlert, 'AlertName' | 'AlertSeverity' | 'Description'>;

export interface OutcomeStatusInput {
  readonly name: string;
  readonly result: VerificationResult;
  readonly identity?: Identity | undefined;
  readonly warnings?: readonly string[];
  readonly deliveries?: readonly SinkDelivery[];
  readonly alerts?: readonly StatusAlert[];
  readonly statusOnFailure: 'error' | 'warning';
  readonly nextRunAt?: Date;
  readonly notes?: readonly string[];
  readonly now: Date;
}

function claim(claims: Readonly<Record<string, unknown>>, k: string): unknown {
  return claims[k];
}

function tcbFact(result: VerificationResult): string | undefined {
  const c = result.claims;
  const parts: string[] = [];
  for (const [label, key] of [
    ['bl', 'x-ms-sevsnpvm-bootloader-svn'],
    ['tee', 'x-ms-sevsnpvm-tee-svn'],
    ['snp', 'x-ms-sevsnpvm-snpfw-svn'],
    ['ucode', 'x-ms-sevsnpvm-microcode-svn'],
  ] as const) {
    const v = claim(c, key);
    if (typeof v === 'number' || typeof v === 'string') parts.push(`${label}=${v}`);
  }
  return parts.length ? `TCB ${parts.join(' ')}` : undefined;
}

function shortHex(v: unknown, n = 16): string | undefined {
  return typeof v === 'string' && v.length > 0 ? (v.length > n ? `${v.slice(0, n)}...` : v) : undefined;
}

/** The one-line verdict plus key facts, most important first (kept to 1024 characters, what the portal shows). */
export function topMessage(i: OutcomeStatusInput): string {
  const r = i.result;
  const failed = r.checks.filter((c) => c.status === 'fail');
  const head =
    r.verdict === 'pass'
      ? r.platform === 'TDX'
        ? `PASS: genuine Intel TDX, verified against the pinned Intel SGX root without MAA`
        : `PASS: genuine AMD SEV-SNP${r.product ? ` (${r.product})` : ''}, verified against pinned AMD roots without MAA`
      : `FAIL: ${failed.length} check${failed.length === 1 ? '' : 's'} failed: ${failed.map((c) => `${c.id} (${c.reason})`).join('; ')}`;
  const facts: string[] = [];
  if (r.verdict !== 'pass' && r.product) facts.push(`product ${r.product}`);
  const tcb = tcbFact(r);
  if (tcb) facts.push(tcb);
  if (r.platform === 'TDX' && r.tdx)
    facts.push(`TCB ${r.tdx.tcbStatus ?? 'undetermined'}${r.tdx.advisoryIds.length ? ` (${r.tdx.advisoryIds.join(' ')})` : ''}`);
  const m = shortHex(claim(r.claims, 'x-ms-sevsnpvm-launchmeasurement') ?? claim(r.claims, 'tdx_mrtd'));
  if (m) facts.push(`${r.platform === 'TDX' ? 'MRTD' : 'measurement'} ${m}`);
  const dbg = claim(r.claims, 'x-ms-sevsnpvm-is-debuggable') ?? claim(r.claims, 'tdx_td_attributes_debug');
  if (dbg === true) facts.push('DEBUG ENABLED');
  const fresh = r.checks.find((c) => c.group === 'freshness');
  const freshBy = claim(r.claims, 'cvm-attest-fresh-by');
  facts.push(fresh ? (typeof freshBy === 'string' ? `fresh by ${freshBy}` : `freshness ${fresh.status}`) : 'no quote');
  facts.push(`at ${utcStamp(new Date(r.verifiedAt))}`);
  if (i.nextRunAt) facts.push(`next run ${utcStamp(i.nextRunAt)}`);
  if (i.identity?.vmId) facts.push(`vmId ${i.identity.vmId}`);
  facts.push(`policy ${r.policy.hash.slice(0, 12)}`);
  const warn = [...new Set([...(i.warnings ?? []), ...r.warnings, ...(i.notes ?? [])])]; // collection warnings are also in r.warnings
  const tail = warn.length ? ` | warnings: ${warn.join('; ')}` : '';
  return cut(`${head} | ${facts.join(', ')}${tail}`, MAX_TOP_MESSAGE);
}

function groupSubstatus(group: CheckGroup, checks: readonly CheckResult[], failStatus: ExtStatusValue): SubStatus {
  const worst = checks.some((c) => c.status === 'fail')
    ? 'fail'
    : checks.some((c) => c.status === 'warn')
      ? 'warn'
      : checks.every((c) => c.status === 'skip')
        ? 'skip'
        : 'pass';
  // A check that was not made is not a success: a group of skipped checks is a warning that says so.
  const status: ExtStatusValue = worst === 'fail' ? failStatus : worst === 'warn' || worst === 'skip' ? 'warning' : 'success';
  const word = (st: CheckResult['status']) => (st === 'skip' ? 'NOT CHECKED' : st.toUpperCase());
  const lines = checks.map((c) => `${word(c.status)} ${c.id}: ${c.reason}`);
  // One check reads as itself; a group of several leads with its counts.
  const counts = (['fail', 'warn', 'pass', 'skip'] as const)
    .map((st) => [st, checks.filter((c) => c.status === st).length] as const)
    .filter(([, n]) => n > 0)
    .map(([st, n]) => `${n} ${st === 'skip' ? 'not checked' : st}`);
  const message = lines.length === 1 ? lines[0]! : `${checks.length} checks: ${counts.join(', ')} | ${lines.join(' | ')}`;
  return sub(`check: ${group}`, status, message, worst === 'fail' ? ExitCode.Fail : 0);
}

/** JSON of the claims, under 10 KiB: the largest values are replaced by a note until it fits. */
export function claimsJson(claims: Readonly<Record<string, unknown>>, max = MAX_CLAIMS_JSON): string {
  const c: Record<string, unknown> = { ...claims };
  let s = JSON.stringify(c);
  while (s.length > max) {
    let bigKey: string | undefined;
    let bigLen = -1;
    for (const [k, v] of Object.entries(c)) {
      const l = JSON.stringify(v)?.length ?? 0;
      if (l > bigLen && !(typeof v === 'string' && v.startsWith('[omitted'))) {
        bigLen = l;
        bigKey = k;
      }
    }
    if (bigKey === undefined || bigLen <= 40) {
      return JSON.stringify({ omitted: `claims too large (${s.length} bytes)` });
    }
    c[bigKey] = `[omitted: ${bigLen} bytes]`;
    s = JSON.stringify(c);
  }
  return s;
}

/** A drop stays a warning this long after it happened. */
export const DROP_WARNING_MS = 24 * 3600_000;

/** failed (refused, spool unwritable, delivery threw) is an error; queued, or a recent drop, a warning. */
export function sinkSubstatus(d: SinkDelivery, now: Date = new Date()): SubStatus {
  const dropAt = d.lastDropAt ? Date.parse(d.lastDropAt) : NaN;
  const recentDrop = (d.dropped ?? 0) > 0 && Number.isFinite(dropAt) && now.getTime() - dropAt < DROP_WARNING_MS;
  const status: ExtStatusValue = d.status === 'failed' ? 'error' : d.status === 'queued' || recentDrop ? 'warning' : 'success';
  const parts = [`${d.status}: ${d.message}`, `queue ${d.queueDepth}`];
  if (d.lastDeliveryAt) parts.push(`last delivery ${d.lastDeliveryAt}`);
  if (d.dropped) parts.push(`dropped ${d.dropped}${d.lastDropAt ? ` (last ${d.lastDropAt}${d.lastDropReason ? `: ${d.lastDropReason}` : ''})` : ''}`);
  return sub(`sink: ${d.name}`, status, cut(parts.join('; '), MAX_SIDE_MESSAGE));
}

/** Alert substatus by severity: High is an error, Medium and Low a warning, Informational a success. */
export function alertSubstatus(a: StatusAlert): SubStatus {
  const status: ExtStatusValue = a.AlertSeverity === 'High' ? 'error' : a.AlertSeverity === 'Informational' ? 'success' : 'warning';
  return sub(`alert: ${a.AlertName}`, status, cut(`${a.AlertSeverity}: ${a.Description}`, MAX_SIDE_MESSAGE));
}

export function outcomeStatus(i: OutcomeStatusInput): StatusFile {
  const r = i.result;
  const failStatus: ExtStatusValue = i.statusOnFailure;
  const subs: SubStatus[] = [];
  for (const g of CHECK_GROUPS) {
    const checks = r.checks.filter((c) => c.group === g);
    if (checks.length) subs.push(groupSubstatus(g, checks, failStatus));
  }
  for (const d of i.deliveries ?? []) subs.push(sinkSubstatus(d, i.now));
  for (const a of (i.alerts ?? []).slice(0, MAX_ALERTS)) subs.push(alertSubstatus(a));
  subs.push(sub('claims', 'success', claimsJson(r.claims)));
  return statusFile({
    name: i.name,
    operation: 'Enable',
    status: r.verdict === 'pass' ? 'success' : failStatus,
    code: r.verdict === 'pass' ? ExitCode.Pass : ExitCode.Fail,
    message: topMessage(i),
    substatus: subs,
    now: i.now,
  });
}

export interface ErrorStatusInput {
  readonly name: string;
  readonly operation?: Operation;
  readonly status: 'error' | 'warning';
  readonly code: number;
  readonly message: string;
  readonly deliveries?: readonly SinkDelivery[];
  readonly alerts?: readonly StatusAlert[];
  readonly nextRunAt?: Date;
  readonly now: Date;
}

export function errorStatus(i: ErrorStatusInput): StatusFile {
  const subs: SubStatus[] = [];
  for (const d of i.deliveries ?? []) subs.push(sinkSubstatus(d, i.now));
  for (const a of (i.alerts ?? []).slice(0, MAX_ALERTS)) subs.push(alertSubstatus(a));
  const next = i.nextRunAt ? ` | next run ${utcStamp(i.nextRunAt)}` : '';
  return statusFile({
    name: i.name,
    operation: i.operation ?? 'Enable',
    status: i.status,
    code: i.code,
    message: `${i.message}${next}`,
    substatus: subs,
    now: i.now,
  });
}

export function transitioningStatus(name: string, operation: Operation, message: string, now: Date): StatusFile {
  return statusFile({ name, operation, status: 'transitioning', code: 0, message, now });
}

// ---- heartbeat ----

export interface HeartbeatEntry {
  readonly version: 1;
  readonly heartbeat: { readonly status: 'Ready' | 'NotReady'; readonly code: number; readonly formattedMessage: FormattedMessage };
}

export function heartbeatFile(status: 'Ready' | 'NotReady', message: string, code = 0): readonly [HeartbeatEntry] {
  return [{ version: 1, heartbeat: { status, code, formattedMessage: msg(cut(message, MAX_TOP_MESSAGE)) } }];
}
