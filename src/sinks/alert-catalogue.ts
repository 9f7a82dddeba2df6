// The alert catalogue: each kind's name, severity and remediation text, and how one alert (a
// Microsoft Defender for Cloud SecurityAlert row) is made from a raised condition.
import { randomUUID } from 'node:crypto';
import type { LogRecord } from './record.js';
import type { SinkIdentity } from './types.js';

export const ALERT_KINDS = [
  'AttestationFailed',
  'DebugEnabled',
  'TcbBelowMinimum',
  'TcbRollback',
  'MeasurementChanged',
  'ChipChanged',
  'EvidenceUnavailable',
  'CertificateExpiringSoon',
  'DeliveryDropped',
] as const;
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

export const ALERT_SEVERITY: Record<AlertKind, AlertSeverity> = {
  AttestationFailed: 'High',
  DebugEnabled: 'High',
  TcbBelowMinimum: 'Medium',
  TcbRollback: 'High',
  MeasurementChanged: 'Medium',
  ChipChanged: 'Informational',
  EvidenceUnavailable: 'Medium',
  CertificateExpiringSoon: 'Low',
  DeliveryDropped: 'Medium',
};
export const ALERT_NAME: Record<AlertKind, string> = {
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
export const ALERT_REMEDIATION: Record<AlertKind, readonly string[]> = {
  AttestationFailed: [
    'Read FailedChecks in the alert and the CvmAttestation_CL record of the run.',
    'Treat the VM as untrusted: do not release secrets to it until it attests again.',
    'If the failure is unexpected, redeploy the VM and open a case with the evidence bundle.',
  ],
  DebugEnabled: [
    'The guest policy allows the host to debug (read) guest memory: the VM is not confidential.',
    'Stop the VM, release no secrets to it, and redeploy it from a confidential image with debugging disabled.',
  ],
  TcbBelowMinimum: [
    'The host runs AMD firmware older than your policy accepts.',
    'Redeploy or resize the VM so it lands on an updated host, or review the policy minimum.',
  ],
  TcbRollback: [
    'The reported TCB on the same chip is lower than a previous run saw: firmware was downgraded.',
    'Treat the VM as untrusted and report the host (chip id in the alert) to Azure support.',
  ],
  MeasurementChanged: [
    'The launch measurement (firmware image) differs from the previous run.',
    'Confirm a planned platform or image update explains it; otherwise treat the VM as untrusted.',
  ],
  ChipChanged: ['The VM now runs on another physical processor (host migration or redeploy). No action is needed if this was expected.'],
  EvidenceUnavailable: [
    'The agent could not collect attestation evidence several times in a row.',
    'Check the extension status and logs on the VM (vTPM access, IMDS reachability).',
  ],
  CertificateExpiringSoon: [
    'A certificate of the attestation chain (AMD VCEK chain, or Intel PCK chain and collateral signer) expires soon; IMDS or PCS should serve a renewed one.',
    "If it is not renewed, check the VM's IMDS access and the certificate cache.",
  ],
  DeliveryDropped: [
    'Records or alerts of this VM were dropped: the spool was full (a long outage) or the service refused a record it accepts from others.',
    'Read the reason in the alert and the sink status on the VM; fix the destination (DCR, role, network) so the queue drains.',
    "Runs whose records were dropped are missing from the fleet view: read the VM's local status and report.html for them.",
  ],
};

/** A condition a rule raised: its kind, what identifies this occurrence (fingerprint), the text and the properties. */
export interface AlertCondition {
  readonly key: string;
  readonly kind: AlertKind;
  readonly fingerprint: string;
  readonly description: string;
  readonly props: Record<string, unknown>;
}

export function makeAlert(
  c: AlertCondition,
  id: SinkIdentity | undefined,
  start: string,
  now: string,
  ctx: { readonly recordId: string; readonly agentVersion?: string | undefined },
): SecurityAlert {
  return {
    TimeGenerated: now,
    SystemAlertId: randomUUID(),
    AlertName: ALERT_NAME[c.kind],
    AlertType: `CvmAttest_${c.kind}`,
    AlertSeverity: ALERT_SEVERITY[c.kind],
    Description: c.description,
    RemediationSteps: ALERT_REMEDIATION[c.kind],
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

/** An alert as the row the sinks send (every column is a string, a list or an object). */
export function alertRecord(a: SecurityAlert): LogRecord {
  return { ...a };
}

export function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

const SEVERITIES: readonly AlertSeverity[] = ['High', 'Medium', 'Low', 'Informational'];

/** An alert read back from a spool file (written by alertRecord), checked column by column; undefined when it is not one. */
export function securityAlertFrom(r: Readonly<Record<string, unknown>>): SecurityAlert | undefined {
  const str = (k: string): string | undefined => (typeof r[k] === 'string' ? r[k] : undefined);
  const kind = ALERT_KINDS.find((k) => r['AlertType'] === `CvmAttest_${k}`);
  const severity = SEVERITIES.find((s) => s === r['AlertSeverity']);
  const steps = r['RemediationSteps'];
  const props = r['ExtendedProperties'];
  const [TimeGenerated, SystemAlertId, AlertName, Description, CompromisedEntity, StartTime, EndTime, RecordId] = [
    'TimeGenerated',
    'SystemAlertId',
    'AlertName',
    'Description',
    'CompromisedEntity',
    'StartTime',
    'EndTime',
    'RecordId',
  ].map(str);
  if (
    !kind ||
    !severity ||
    !Array.isArray(steps) ||
    !steps.every((s) => typeof s === 'string') ||
    typeof props !== 'object' ||
    props === null ||
    Array.isArray(props)
  )
    return undefined;
  if (
    TimeGenerated === undefined ||
    SystemAlertId === undefined ||
    AlertName === undefined ||
    Description === undefined ||
    CompromisedEntity === undefined ||
    StartTime === undefined ||
    EndTime === undefined ||
    RecordId === undefined
  )
    return undefined;
  const VmId = str('VmId'),
    ResourceId = str('ResourceId'),
    SubscriptionId = str('SubscriptionId');
  return {
    TimeGenerated,
    SystemAlertId,
    AlertName,
    AlertType: `CvmAttest_${kind}`,
    AlertSeverity: severity,
    Description,
    RemediationSteps: steps,
    CompromisedEntity,
    StartTime,
    EndTime,
    ProductName: 'cvm-attest',
    VendorName: 'cvm-attest',
    ...(VmId !== undefined ? { VmId } : {}),
    ...(ResourceId !== undefined ? { ResourceId } : {}),
    ...(SubscriptionId !== undefined ? { SubscriptionId } : {}),
    RecordId,
    ExtendedProperties: props as Readonly<Record<string, unknown>>,
  };
}
