// Defender-style security alerts, raised from one run's outcome and what earlier runs saw (drift).
// Each alert condition has a fingerprint; an alert fires when a condition appears or its
// fingerprint changes, never again while it stays the same, so a fleet sees one alert per change,
// not one per run. Baselines (chip, measurement, TCB per chip) move only on authentic evidence:
// claims from a report whose signature or chain failed are not trusted to define "before".
// Pure but for each alert's random SystemAlertId; the state is kept by alert-state.ts.
import type { TcbComponents } from '../result/result.js';
import { AUTHENTICITY_GROUPS } from '../result/check-groups.js';
import { readFacts } from './record.js';
import type { AlertSettings } from './settings.js';
import { errorFacts, isFailedOutcome, type SinkIdentity, type SinkOutcome } from './types.js';
import { makeAlert, dropUndefined, type AlertCondition, type SecurityAlert } from './alert-catalogue.js';
import type { AlertState } from './alert-state.js';

export interface AlertContext {
  readonly settings: AlertSettings;
  /** RecordId of this run's record. */
  readonly recordId: string;
  readonly now?: Date;
  readonly agentVersion?: string | undefined;
}

/** Pure: the alerts this run raises and the state to remember. */
export function evaluateAlerts(prev: AlertState, outcome: SinkOutcome, ctx: AlertContext): { alerts: SecurityAlert[]; state: AlertState } {
  const now = (ctx.now ?? new Date()).toISOString();
  const active: Record<string, { fingerprint: string; since: string }> = { ...prev.active };
  const conditions: AlertCondition[] = [];
  const clear: string[] = [];
  let state: AlertState;

  if (isFailedOutcome(outcome)) {
    const failures = prev.collectionFailures + 1;
    const since = prev.firstCollectionFailureAt ?? now;
    if (failures >= ctx.settings.evidenceUnavailableAfter) {
      const err = errorFacts(outcome.error);
      conditions.push({
        key: 'EvidenceUnavailable',
        kind: 'EvidenceUnavailable',
        fingerprint: 'unavailable',
        description: `No attestation evidence could be collected in ${failures} consecutive runs since ${since}: ${err.code}: ${err.message}`.slice(0, 2000),
        props: { consecutiveFailures: failures, firstFailureAt: since, errorCode: err.code, errorMessage: err.message },
      });
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
      conditions.push({
        key: 'AttestationFailed',
        kind: 'AttestationFailed',
        fingerprint: idsList.join(',') || 'fail',
        description: `Attestation failed: ${failed.map((c) => `${c.id}: ${c.reason}`).join('; ') || 'verdict fail'}`.slice(0, 2000),
        props: { failedChecks: failed.map((c) => ({ id: c.id, group: c.group, reason: c.reason })), product: r.product },
      });
    } else clear.push('AttestationFailed');

    if (f.isDebuggable === true) {
      conditions.push({
        key: 'DebugEnabled',
        kind: 'DebugEnabled',
        fingerprint: f.measurement ?? 'debug',
        description: 'The SNP guest policy of this VM allows debugging: the hypervisor can read and change its memory.',
        props: { measurement: f.measurement, authentic },
      });
    } else if (f.isDebuggable === false) clear.push('DebugEnabled');

    const min = r.policy?.minimumTcb;
    if (min && f.reportedTcb) {
      const below = Object.entries(min)
        .filter(([k, v]) => (f.reportedTcb![k] ?? -1) < v)
        .map(([k]) => k);
      if (below.length > 0) {
        conditions.push({
          key: 'TcbBelowMinimum',
          kind: 'TcbBelowMinimum',
          fingerprint: canonical(f.reportedTcb),
          description: `Reported TCB ${fmtTcb(f.reportedTcb)} is below the policy minimum ${fmtTcb(min)} (${below.join(', ')}).`,
          props: { reportedTcb: f.reportedTcb, minimumTcb: min, components: below },
        });
      } else clear.push('TcbBelowMinimum');
    } else if (!min) clear.push('TcbBelowMinimum');

    let { chipId, measurement } = prev;
    const tcbByChip: Record<string, TcbComponents> = { ...prev.tcbByChip };
    if (authentic) {
      if (f.chipId && prev.chipId && f.chipId !== prev.chipId) {
        conditions.push({
          key: 'ChipChanged',
          kind: 'ChipChanged',
          fingerprint: f.chipId,
          description: `The VM now runs on chip ${f.chipId.slice(0, 16)}... (was ${prev.chipId.slice(0, 16)}...).`,
          props: { previousChipId: prev.chipId, chipId: f.chipId },
        });
      }
      if (f.measurement && prev.measurement && f.measurement !== prev.measurement) {
        conditions.push({
          key: 'MeasurementChanged',
          kind: 'MeasurementChanged',
          fingerprint: f.measurement,
          description: `Launch measurement changed from ${prev.measurement} to ${f.measurement}.`,
          props: { previousMeasurement: prev.measurement, measurement: f.measurement },
        });
      }
      if (f.chipId && f.reportedTcb) {
        const before = prev.tcbByChip[f.chipId];
        const lower = before
          ? Object.entries(before)
              .filter(([k, v]) => f.reportedTcb![k] !== undefined && f.reportedTcb![k] < v)
              .map(([k]) => k)
          : [];
        if (before && lower.length > 0) {
          conditions.push({
            key: 'TcbRollback',
            kind: 'TcbRollback',
            fingerprint: `${canonical(before)}>${canonical(f.reportedTcb)}`,
            description: `Reported TCB on chip ${f.chipId.slice(0, 16)}... went down from ${fmtTcb(before)} to ${fmtTcb(f.reportedTcb)} (${lower.join(', ')}).`,
            props: { chipId: f.chipId, previousTcb: before, reportedTcb: f.reportedTcb, components: lower },
          });
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
      conditions.push({
        key,
        kind: 'CertificateExpiringSoon',
        fingerprint: cert.notAfter,
        description: `The ${cert.role} certificate (${cert.subject}) ${t < Date.parse(now) ? 'expired' : 'expires'} on ${cert.notAfter} (${fromNow(t - Date.parse(now))}).`,
        props: { role: cert.role, subject: cert.subject, notAfter: cert.notAfter, sha256: cert.sha256, daysLeft: days },
      });
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

/** What a sink dropped since the last DeliveryDropped alert. */
export interface DropFacts {
  readonly sink: string;
  readonly dropped: number;
  readonly total: number;
  readonly reason?: string | undefined;
}

/** An alert for records a sink dropped (spool full, or refused alone by the service): every drop is alerted. */
export function deliveryDroppedAlert(
  drops: readonly DropFacts[],
  identity: SinkIdentity | undefined,
  ctx: { recordId: string; now?: Date; agentVersion?: string | undefined },
): SecurityAlert {
  const now = (ctx.now ?? new Date()).toISOString();
  const n = drops.reduce((a, d) => a + d.dropped, 0);
  const what = drops.map((d) => `${d.sink}: ${d.dropped} dropped${d.reason ? ` (${d.reason})` : ''}`).join('; ');
  return makeAlert(
    {
      key: 'DeliveryDropped',
      kind: 'DeliveryDropped',
      fingerprint: String(n),
      description: `${n} record(s) or alert(s) were dropped before delivery: ${what}`.slice(0, 2000),
      props: { drops: drops.map((d) => dropUndefined({ sink: d.sink, dropped: d.dropped, totalDropped: d.total, reason: d.reason })) },
    },
    identity,
    now,
    now,
    ctx,
  );
}

function canonical(t: TcbComponents): string {
  return Object.keys(t)
    .sort()
    .map((k) => `${k}=${t[k]}`)
    .join(',');
}
function fmtTcb(t: TcbComponents): string {
  return `{${Object.entries(t)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ')}}`;
}

/** How far a time is from now, in words that stay true: "in 10 days", "in 5 hours", "560 days ago", "less than an hour ago". */
export function fromNow(ms: number): string {
  const abs = Math.abs(ms);
  const unit = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
  const n = abs >= 86_400_000 ? unit(Math.floor(abs / 86_400_000), 'day') : abs >= 3_600_000 ? unit(Math.floor(abs / 3_600_000), 'hour') : 'less than an hour';
  return ms < 0 ? `${n} ago` : `in ${n}`;
}
