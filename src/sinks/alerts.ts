// Defender-style security alerts, raised from one run's outcome and what earlier runs saw (drift).
// Each alert condition has a fingerprint; an alert fires when a condition appears or its
// fingerprint changes, never again while it stays the same, so a fleet sees one alert per change,
// not one per run. Baselines (chip, measurement, TCB per chip) move only on authentic evidence:
// claims from a report whose signature or chain failed are not trusted to define "before".
import { randomUUID } from 'node:crypto';
import { readFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, writeFileAtomic } from '../io/atomic-file.js';
import type { TcbComponents } from '../result/result.js';
import { readFacts, type LogRecord } from './record.js';
import type { AlertSettings } from './settings.js';
import { errorFacts, isFailedOutcome, type SinkIdentity, type SinkOutcome } from './types.js';

export const ALERT_KINDS = ['AttestationFailed', 'DebugEnabled', 'TcbBelowMinimum', 'TcbRollback', 'MeasurementChanged', 'ChipChanged',
  'EvidenceUnavailable', 'CertificateExpiringSoon', 'DeliveryDropped'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];
export type AlertSeverity = 'High' | 'Medium' | 'Low' | 'Informational';

/** One alert, shaped like a Microsoft Defender for Cloud SecurityAlert (columns of ALERT_COLUMNS). */
export interface SecurityAlert {
  readonly TimeGenerated: string;
  readonly SystemAlertId: string;
  readonly AlertName: string;
  readonly AlertType: `CvmAttest_${AlertKind}`;
  readonly AlertSeverity: AlertSeverity;
  readonly Description: string;
  readonly RemediationSteps: readonly string[];
  readonly CompromisedEntity: string;
  readonly StartTime: string;
  readonly EndTime: string;
  readonly ProductName: 'cvm-attest';
  readonly VendorName: 'cvm-attest';
  readonly VmId?: string;
  readonly ResourceId?: string;
  readonly SubscriptionId?: string;
  readonly RecordId: string;
  readonly ExtendedProperties: Readonly<Record<string, unknown>>;
}

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

const SEVERITY: Record<AlertKind, AlertSeverity> = {
  AttestationFailed: 'High', DebugEnabled: 'High', TcbBelowMinimum: 'Medium', TcbRollback: 'High',
  MeasurementChanged: 'Medium', ChipChanged: 'Informational', EvidenceUnavailable: 'Medium', CertificateExpiringSoon: 'Low', DeliveryDropped: 'Medium',
};
const NAME: Record<AlertKind, string> = {
  AttestationFailed: 'Confidential VM attestation failed',
  DebugEnabled: 'Confidential VM launched with debugging enabled',
  TcbBelowMinimum: 'Confidential VM platform TCB below the policy minimum',
  TcbRollback: 'Confidential VM platform TCB rolled back',
  MeasurementChanged: 'Confidential VM launch measurement changed',
  ChipChanged: 'Confidential VM moved to another host',
  EvidenceUnavailable: 'Confidential VM attestation evidence unavailable',
  CertificateExpiringSoon: 'Certificate used for attestation expires soon',
  DeliveryDropped: 'Confidential VM attestation records dropped before delivery',
};
const REMEDIATION: Record<AlertKind, readonly string[]> = {
  AttestationFailed: ['Read FailedChecks in the alert and the CvmAttestation_CL record of the run.', 'Treat the VM as untrusted: do not release secrets to it until it attests again.', 'If the failure is unexpected, redeploy the VM and open a case with the evidence bundle.'],
  DebugEnabled: ['The guest policy allows the host to debug (read) guest memory: the VM is not confidential.', 'Stop the VM, release no secrets to it, and redeploy it from a confidential image with debugging disabled.'],
  TcbBelowMinimum: ['The host runs AMD firmware older than your policy accepts.', 'Redeploy or resize the VM so it lands on an updated host, or review the policy minimum.'],
  TcbRollback: ['The reported TCB on the same chip is lower than a previous run saw: firmware was downgraded.', 'Treat the VM as untrusted and report the host (chip id in the alert) to Azure support.'],
  MeasurementChanged: ['The launch measurement (firmware image) differs from the previous run.', 'Confirm a planned platform or image update explains it; otherwise treat the VM as untrusted.'],
  ChipChanged: ['The VM now runs on another physical processor (host migration or redeploy). No action is needed if this was expected.'],
  EvidenceUnavailable: ['The agent could not collect attestation evidence several times in a row.', 'Check the extension status and logs on the VM (vTPM access, IMDS reachability).'],
  CertificateExpiringSoon: ['A certificate of the attestation chain (AMD VCEK chain, or Intel PCK chain and collateral signer) expires soon; IMDS or PCS should serve a renewed one.', 'If it is not renewed, check the VM\'s IMDS access and the certificate cache.'],
  DeliveryDropped: ['Records or alerts of this VM were dropped: the spool was full (a long outage) or the service refused a record it accepts from others.', 'Read the reason in the alert and the sink status on the VM; fix the destination (DCR, role, network) so the queue drains.', 'Runs whose records were dropped are missing from the fleet view: read the VM\'s local status and report.html for them.'],
};

export interface AlertContext {
  readonly settings: AlertSettings;
  /** RecordId of this run's record. */
  readonly recordId: string;
  readonly now?: Date;
  readonly agentVersion?: string | undefined;
}

// Failures in these groups mean the claims cannot be trusted as a baseline.
const AUTHENTICITY_GROUPS = new Set(['structure', 'signature', 'chain', 'tcb', 'chip-id']);

interface Condition { key: string; kind: AlertKind; fingerprint: string; description: string; props: Record<string, unknown> }

/** Pure: the alerts this run raises and the state to remember. */
export function evaluateAlerts(prev: AlertState, outcome: SinkOutcome, ctx: AlertContext): { alerts: SecurityAlert[]; state: AlertState } {
  const now = (ctx.now ?? new Date()).toISOString();
  const active: Record<string, { fingerprint: string; since: string }> = { ...prev.active };
  const conditions: Condition[] = [];
  const clear: string[] = [];
  let state: AlertState;

  if (isFailedOutcome(outcome)) {
    const failures = prev.collectionFailures + 1;
    const since = prev.firstCollectionFailureAt ?? now;
    if (failures >= ctx.settings.evidenceUnavailableAfter) {
      const err = errorFacts(outcome.error);
      conditions.push({ key: 'EvidenceUnavailable', kind: 'EvidenceUnavailable', fingerprint: 'unavailable',
        description: `No attestation evidence could be collected in ${failures} consecutive runs since ${since}: ${err.code}: ${err.message}`.slice(0, 2000),
        props: { consecutiveFailures: failures, firstFailureAt: since, errorCode: err.code, errorMessage: err.message } });
    }
    state = { ...prev, collectionFailures: failures, firstCollectionFailureAt: since, active };
  } else {
    const r = outcome.result;
    clear.push('EvidenceUnavailable');
    const f = readFacts(r);
    const failed = r.checks.filter((c) => c.status === 'fail');
    const authentic = !failed.some((c) => AUTHENTICITY_GROUPS.has(c.group));

    if (r.verdict === 'fail') {
      const idsList = failed.map((c) => c.id).sort();
      conditions.push({ key: 'AttestationFailed', kind: 'AttestationFailed', fingerprint: idsList.join(',') || 'fail',
        description: `Attestation failed: ${failed.map((c) => `${c.id}: ${c.reason}`).join('; ') || 'verdict fail'}`.slice(0, 2000),
        props: { failedChecks: failed.map((c) => ({ id: c.id, group: c.group, reason: c.reason })), product: r.product } });
    } else clear.push('AttestationFailed');

    if (f.isDebuggable === true) {
      conditions.push({ key: 'DebugEnabled', kind: 'DebugEnabled', fingerprint: f.measurement ?? 'debug',
        description: 'The SNP guest policy of this VM allows debugging: the hypervisor can read and change its memory.', props: { measurement: f.measurement, authentic } });
    } else if (f.isDebuggable === false) clear.push('DebugEnabled');

    const min = r.policy?.minimumTcb;
    if (min && f.reportedTcb) {
      const below = Object.entries(min).filter(([k, v]) => (f.reportedTcb![k] ?? -1) < v).map(([k]) => k);
      if (below.length > 0) {
        conditions.push({ key: 'TcbBelowMinimum', kind: 'TcbBelowMinimum', fingerprint: canonical(f.reportedTcb),
          description: `Reported TCB ${fmtTcb(f.reportedTcb)} is below the policy minimum ${fmtTcb(min)} (${below.join(', ')}).`, props: { reportedTcb: f.reportedTcb, minimumTcb: min, components: below } });
      } else clear.push('TcbBelowMinimum');
    } else if (!min) clear.push('TcbBelowMinimum');

    let { chipId, measurement } = prev;
    const tcbByChip: Record<string, TcbComponents> = { ...prev.tcbByChip };
    if (authentic) {
      if (f.chipId && prev.chipId && f.chipId !== prev.chipId) {
        conditions.push({ key: 'ChipChanged', kind: 'ChipChanged', fingerprint: f.chipId,
          description: `The VM now runs on chip ${f.chipId.slice(0, 16)}... (was ${prev.chipId.slice(0, 16)}...).`, props: { previousChipId: prev.chipId, chipId: f.chipId } });
      }
      if (f.measurement && prev.measurement && f.measurement !== prev.measurement) {
        conditions.push({ key: 'MeasurementChanged', kind: 'MeasurementChanged', fingerprint: f.measurement,
          description: `Launch measurement changed from ${prev.measurement} to ${f.measurement}.`, props: { previousMeasurement: prev.measurement, measurement: f.measurement } });
      }
      if (f.chipId && f.reportedTcb) {
        const before = prev.tcbByChip[f.chipId];
        const lower = before ? Object.entries(before).filter(([k, v]) => f.reportedTcb![k] !== undefined && f.reportedTcb![k]! < v).map(([k]) => k) : [];
        if (before && lower.length > 0) {
          conditions.push({ key: 'TcbRollback', kind: 'TcbRollback', fingerprint: `${canonical(before)}>${canonical(f.reportedTcb)}`,
            description: `Reported TCB on chip ${f.chipId.slice(0, 16)}... went down from ${fmtTcb(before)} to ${fmtTcb(f.reportedTcb)} (${lower.join(', ')}).`,
            props: { chipId: f.chipId, previousTcb: before, reportedTcb: f.reportedTcb, components: lower } });
        }
        tcbByChip[f.chipId] = f.reportedTcb;
      }
      chipId = f.chipId ?? chipId;
      measurement = f.measurement ?? measurement;
    }
    // Events (not lasting conditions): forget them so the next change fires again.
    clear.push('ChipChanged', 'MeasurementChanged', 'TcbRollback');

    const horizon = Date.parse(now) + ctx.settings.certificateExpiryDays * 86_400_000;
    const expiring = new Set<string>();
    for (const cert of r.certificates ?? []) {
      const t = Date.parse(cert.notAfter);
      if (!Number.isFinite(t) || t > horizon) continue;
      const key = `CertificateExpiringSoon:${cert.sha256}`;
      expiring.add(key);
      const days = Math.max(0, Math.floor((t - Date.parse(now)) / 86_400_000));
      conditions.push({ key, kind: 'CertificateExpiringSoon', fingerprint: cert.notAfter,
        description: `The ${cert.role} certificate (${cert.subject}) ${t < Date.parse(now) ? 'expired' : 'expires'} on ${cert.notAfter} (${fromNow(t - Date.parse(now))}).`,
        props: { role: cert.role, subject: cert.subject, notAfter: cert.notAfter, sha256: cert.sha256, daysLeft: days } });
    }
    for (const k of Object.keys(active)) if (k.startsWith('CertificateExpiringSoon:') && !expiring.has(k)) clear.push(k);
    state = { v: 1, collectionFailures: 0, firstCollectionFailureAt: undefined, chipId, measurement, tcbByChip, active };
  }

  const firing = new Set(conditions.map((c) => c.key));
  for (const k of clear) if (!firing.has(k)) delete active[k];
  const alerts: SecurityAlert[] = [];
  for (const c of conditions) {
    const was = active[c.key];
    if (was && was.fingerprint === c.fingerprint) continue;
    const since = c.kind === 'EvidenceUnavailable' ? (state.firstCollectionFailureAt ?? now) : now;
    active[c.key] = { fingerprint: c.fingerprint, since };
    if (!ctx.settings.enabled) continue;
    alerts.push(makeAlert(c, outcome.identity, since, now, ctx));
  }
  // Event alerts are remembered only for this run.
  for (const k of ['ChipChanged', 'MeasurementChanged', 'TcbRollback']) delete active[k];
  return { alerts, state: { ...state, active } };
}

/** How far a time is from now, in words that stay true: "in 10 days", "in 5 hours", "560 days ago", "less than an hour ago". */
export function fromNow(ms: number): string {
  const abs = Math.abs(ms);
  const unit = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
  const n = abs >= 86_400_000 ? unit(Math.floor(abs / 86_400_000), 'day') : abs >= 3_600_000 ? unit(Math.floor(abs / 3_600_000), 'hour') : 'less than an hour';
  return ms < 0 ? `${n} ago` : `in ${n}`;
}

function makeAlert(c: Condition, id: SinkIdentity | undefined, start: string, now: string, ctx: Pick<AlertContext, 'recordId' | 'agentVersion'>): SecurityAlert {
  return {
    TimeGenerated: now,
    SystemAlertId: randomUUID(),
    AlertName: NAME[c.kind],
    AlertType: `CvmAttest_${c.kind}`,
    AlertSeverity: SEVERITY[c.kind],
    Description: c.description,
    RemediationSteps: REMEDIATION[c.kind],
    CompromisedEntity: id?.name ?? id?.resourceId ?? id?.vmId ?? 'unknown VM',
    StartTime: start,
    EndTime: now,
    ProductName: 'cvm-attest',
    VendorName: 'cvm-attest',
    ...(id?.vmId ? { VmId: id.vmId } : {}),
    ...(id?.resourceId ? { ResourceId: id.resourceId } : {}),
    ...(id?.subscriptionId ? { SubscriptionId: id.subscriptionId } : {}),
    RecordId: ctx.recordId,
    ExtendedProperties: { ...dropUndefined(c.props), ...(ctx.agentVersion ? { agentVersion: ctx.agentVersion } : {}) },
  };
}

/** What a sink dropped since the last DeliveryDropped alert. */
export interface DropFacts { readonly sink: string; readonly dropped: number; readonly total: number; readonly reason?: string | undefined }

/** An alert for records a sink dropped (spool full, or refused alone by the service): every drop is alerted. */
export function deliveryDroppedAlert(drops: readonly DropFacts[], identity: SinkIdentity | undefined, ctx: { recordId: string; now?: Date; agentVersion?: string | undefined }): SecurityAlert {
  const now = (ctx.now ?? new Date()).toISOString();
  const n = drops.reduce((a, d) => a + d.dropped, 0);
  const what = drops.map((d) => `${d.sink}: ${d.dropped} dropped${d.reason ? ` (${d.reason})` : ''}`).join('; ');
  return makeAlert({ key: 'DeliveryDropped', kind: 'DeliveryDropped', fingerprint: String(n), description: `${n} record(s) or alert(s) were dropped before delivery: ${what}`.slice(0, 2000),
    props: { drops: drops.map((d) => dropUndefined({ sink: d.sink, dropped: d.dropped, totalDropped: d.total, reason: d.reason })) } }, identity, now, now, ctx);
}

export function alertRecord(a: SecurityAlert): LogRecord {
  return a as unknown as LogRecord;
}

function canonical(t: TcbComponents): string {
  return Object.keys(t).sort().map((k) => `${k}=${t[k]}`).join(',');
}
function fmtTcb(t: TcbComponents): string {
  return `{${Object.entries(t).map(([k, v]) => `${k}: ${v}`).join(', ')}}`;
}
function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

const STATE_FILE = 'alerts-state.json';

/** Loads the drift state; a missing, torn or foreign file starts afresh (first run: no drift alerts). Every field is checked. */
export async function loadAlertState(stateDir: string): Promise<AlertState> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(join(stateDir, STATE_FILE), 'utf8'));
  } catch {
    return EMPTY_ALERT_STATE;
  }
  return sanitizeAlertState(doc);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const optStr = (v: unknown): string | undefined => (typeof v === 'string' && v.length <= 4096 ? v : undefined);

export function sanitizeAlertState(doc: unknown): AlertState {
  if (!isObj(doc) || doc.v !== 1) return EMPTY_ALERT_STATE;
  const failures = typeof doc.collectionFailures === 'number' && Number.isSafeInteger(doc.collectionFailures) && doc.collectionFailures >= 0 ? doc.collectionFailures : 0;
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
  await writeFileAtomic(join(stateDir, STATE_FILE), JSON.stringify(state), { syncDir: false });
  await fsyncDir(stateDir);
}
