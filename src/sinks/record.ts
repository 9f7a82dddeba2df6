// The two record shapes cvm-attest sends to Log Analytics, column by column. These arrays are the
// single source of truth: the ARM template's stream declarations and table schemas must match them
// (test/sinks/schema-agreement.test.ts), and docs/azure-monitor.md documents the same columns.
import { randomUUID } from 'node:crypto';
import type { CheckResult, TcbComponents, VerificationResult } from '../result/result.js';
import { errorFacts, isFailedOutcome, type SinkIdentity, type SinkOutcome, type VerifiedOutcome } from './types.js';
import { TDX_RECORD_COLUMNS, tdxColumns } from './record-tdx.js';

/** Column types a DCR stream declaration and a Log Analytics table both accept. */
export type ColumnType = 'string' | 'int' | 'long' | 'real' | 'boolean' | 'datetime' | 'dynamic';

export interface ColumnDef {
  readonly name: string;
  readonly type: ColumnType;
  readonly description: string;
}

export const RECORD_TABLE = 'CvmAttestation_CL';
export const RECORD_STREAM = 'Custom-CvmAttestation';
export const ALERT_TABLE = 'CvmAttestationAlert_CL';
export const ALERT_STREAM = 'Custom-CvmAttestationAlert';

/** One row per attestation run. */
export const RECORD_COLUMNS: readonly ColumnDef[] = [
  { name: 'TimeGenerated', type: 'datetime', description: "When the run was evaluated (the verifier's clock; the agent's clock for a failed collection)." },
  {
    name: 'AttestedAt',
    type: 'datetime',
    description:
      'When the run happened, as TimeGenerated, but never rewritten: Log Analytics replaces a TimeGenerated over 2 days old (a record delivered after a long outage) with the ingestion time.',
  },
  {
    name: 'RecordId',
    type: 'string',
    description: 'Random UUID of this run; a re-sent record keeps it, so `summarize arg_max(TimeGenerated, *) by RecordId` removes duplicates.',
  },
  { name: 'VmId', type: 'string', description: "The VM's unique id (IMDS compute.vmId)." },
  { name: 'ResourceId', type: 'string', description: 'ARM resource id of the VM.' },
  { name: 'SubscriptionId', type: 'string', description: 'Subscription of the VM.' },
  { name: 'ResourceGroup', type: 'string', description: 'Resource group of the VM.' },
  { name: 'VmName', type: 'string', description: 'VM name.' },
  { name: 'Location', type: 'string', description: 'Azure region.' },
  { name: 'VmSize', type: 'string', description: 'VM size (e.g. Standard_DC4as_v5).' },
  { name: 'Verdict', type: 'string', description: '`pass`, `fail` (evidence evaluated and rejected) or `error` (no evidence could be collected).' },
  { name: 'FailedChecks', type: 'dynamic', description: 'Array of `{id, group, reason}` for every failed check (empty on pass).' },
  { name: 'Warnings', type: 'dynamic', description: 'Array of warning strings (warn checks, cached certificates, collector warnings).' },
  { name: 'Product', type: 'string', description: 'AMD product the evidence was verified for: Milan, Genoa or Turin.' },
  { name: 'ReportedTcb', type: 'dynamic', description: 'Reported TCB as components `{bootloader, tee, snp, microcode[, fmc]}`.' },
  { name: 'CommittedTcb', type: 'dynamic', description: 'Committed TCB as components.' },
  { name: 'LaunchTcb', type: 'dynamic', description: 'TCB at launch as components.' },
  { name: 'Measurement', type: 'string', description: 'Launch measurement, lowercase hex (96 characters).' },
  { name: 'HostData', type: 'string', description: 'HOST_DATA, lowercase hex (64 characters).' },
  { name: 'IdKeyDigest', type: 'string', description: 'ID key digest, lowercase hex (96 characters).' },
  { name: 'ChipId', type: 'string', description: 'Chip id, lowercase hex (128 characters); changes when the VM moves host.' },
  { name: 'IsDebuggable', type: 'boolean', description: 'Guest policy DEBUG bit: true means the hypervisor can read guest memory.' },
  { name: 'Vmpl', type: 'int', description: 'VMPL the report was requested at.' },
  { name: 'ReportVersion', type: 'int', description: 'SNP attestation report version.' },
  { name: 'HclHeaderVersion', type: 'int', description: 'Version field of the HCL report header (absent for a bare SNP report).' },
  {
    name: 'Fresh',
    type: 'boolean',
    description:
      'True when freshness was verified: the HCL report carries the nonce as user-data, or a vTPM quote over it verified against the attested key (see FreshBy).',
  },
  {
    name: 'FreshBy',
    type: 'string',
    description:
      "How freshness was shown: `report` (the HCL report's user-data is the nonce), `quote` (a vTPM quote over the nonce), `report+quote`; absent when not fresh.",
  },
  {
    name: 'SecureBoot',
    type: 'boolean',
    description: 'Secure Boot state from the TCG event log replayed to the quoted PCR 7 (absent when no log replays to a quote).',
  },
  {
    name: 'AkCertificate',
    type: 'string',
    description: 'The vTPM AK certificate check: `pass` (chains to the pinned Azure Virtual TPM root, for HCLAkPub), `fail`, or `absent`.',
  },
  { name: 'PolicyHash', type: 'string', description: 'SHA-256 of the canonical JSON of the policy that judged the evidence.' },
  { name: 'AgentVersion', type: 'string', description: 'cvm-attest version that produced the record.' },
  { name: 'ErrorCode', type: 'string', description: 'For Verdict `error`: the stable error code (e.g. a collection failure code).' },
  { name: 'ErrorMessage', type: 'string', description: 'For Verdict `error`: one line saying what failed.' },
  { name: 'Claims', type: 'dynamic', description: "Every claim: MAA's `x-ms-*` names and formats plus cvm-attest's `cvm-attest-*` claims." },
  ...TDX_RECORD_COLUMNS,
  // Written by `cvm-attest serve` (the remote verifier): there VmId is the attested vmUniqueId and
  // what the VM says about itself goes only in the Claimed* columns.
  {
    name: 'ReportedBy',
    type: 'string',
    description:
      "`verifier` for a record written by cvm-attest serve (VmId is then the vmUniqueId attested in the report's runtime data); absent or `vm` when the VM wrote it itself.",
  },
  { name: 'TokenId', type: 'string', description: 'jti of the token the verifier issued (pass only).' },
  {
    name: 'ClaimedVmId',
    type: 'string',
    description: "Verifier records: the vmId the VM claimed (IMDS), unverified; differs from VmId when a VM reports in another's name.",
  },
  { name: 'ClaimedVmName', type: 'string', description: 'Verifier records: the VM name the VM claimed, unverified.' },
  { name: 'ClaimedResourceId', type: 'string', description: 'Verifier records: the ARM resource id the VM claimed, unverified.' },
  { name: 'ClaimedSubscriptionId', type: 'string', description: 'Verifier records: the subscription the VM claimed, unverified.' },
  { name: 'ClaimedResourceGroup', type: 'string', description: 'Verifier records: the resource group the VM claimed, unverified.' },
];

/** One row per raised alert, shaped like a Microsoft Defender for Cloud security alert. */
export const ALERT_COLUMNS: readonly ColumnDef[] = [
  { name: 'TimeGenerated', type: 'datetime', description: 'When the alert was raised.' },
  { name: 'SystemAlertId', type: 'string', description: 'Unique id of the alert (UUID); a re-sent alert keeps it.' },
  { name: 'AlertName', type: 'string', description: 'Display name, e.g. "Confidential VM attestation failed".' },
  {
    name: 'AlertType',
    type: 'string',
    description:
      'Stable type: CvmAttest_AttestationFailed, _DebugEnabled, _TcbBelowMinimum, _TcbRollback, _MeasurementChanged, _ChipChanged, _EvidenceUnavailable, _CertificateExpiringSoon, _DeliveryDropped.',
  },
  { name: 'AlertSeverity', type: 'string', description: "High, Medium, Low or Informational (Defender's scale)." },
  { name: 'Description', type: 'string', description: 'What happened, with the values involved.' },
  { name: 'RemediationSteps', type: 'dynamic', description: "Array of steps, as Defender's RemediationSteps." },
  { name: 'CompromisedEntity', type: 'string', description: 'The VM (name, else resource id, else vmId).' },
  { name: 'StartTime', type: 'datetime', description: 'First run that showed the condition.' },
  { name: 'EndTime', type: 'datetime', description: 'Run that raised the alert.' },
  { name: 'ProductName', type: 'string', description: 'Always "cvm-attest".' },
  { name: 'VendorName', type: 'string', description: 'Always "cvm-attest".' },
  { name: 'VmId', type: 'string', description: "The VM's unique id." },
  { name: 'ResourceId', type: 'string', description: 'ARM resource id of the VM.' },
  { name: 'SubscriptionId', type: 'string', description: 'Subscription of the VM.' },
  { name: 'RecordId', type: 'string', description: 'RecordId of the attestation record of the run that raised the alert.' },
  { name: 'ExtendedProperties', type: 'dynamic', description: 'Alert-specific values (previous and new TCB, measurement, chip id, failed checks...).' },
];

export type RecordValue = string | number | boolean | readonly unknown[] | Readonly<Record<string, unknown>>;
/** A row as sent: columns absent for this run are omitted (Log Analytics stores null). */
export type LogRecord = Readonly<Record<string, RecordValue>>;

export interface RecordContext {
  readonly agentVersion?: string | undefined;
  /** Time for a failed collection (defaults to now). */
  readonly now?: Date;
  /** Record id (defaults to a random UUID). */
  readonly recordId?: string;
}

// The service truncates any field over 64 KB; keep Claims whole JSON below that.
const MAX_DYNAMIC_CHARS = 60_000;

/** Builds the attestation record of one run. Pure apart from the random id. */
export function buildRecord(outcome: SinkOutcome, ctx: RecordContext = {}): LogRecord {
  const row: Record<string, RecordValue | undefined> = {
    RecordId: ctx.recordId ?? randomUUID(),
    ...identityColumns(outcome.identity),
    AgentVersion: ctx.agentVersion,
  };
  if (isFailedOutcome(outcome)) {
    row.TimeGenerated = (ctx.now ?? new Date()).toISOString();
    row.AttestedAt = row.TimeGenerated;
    row.Verdict = 'error';
    row.FailedChecks = [];
    row.Warnings = [...(outcome.warnings ?? [])];
    const err = errorFacts(outcome.error);
    row.ErrorCode = err.code;
    row.ErrorMessage = err.message;
    return compact(row);
  }
  const r = outcome.result;
  const c = r.claims;
  const facts = readFacts(r);
  const at = validIso(r.verifiedAt) ?? (ctx.now ?? new Date()).toISOString();
  Object.assign(row, {
    TimeGenerated: at,
    AttestedAt: at,
    Verdict: r.verdict,
    FailedChecks: r.checks.filter((k) => k.status === 'fail').map((k: CheckResult) => ({ id: k.id, group: k.group, reason: k.reason })),
    Warnings: [...new Set([...r.warnings, ...(outcome.warnings ?? [])])],
    Product: r.product ?? str(claim(c, 'cvm-attest-product')),
    ReportedTcb: facts.reportedTcb,
    CommittedTcb: facts.committedTcb,
    LaunchTcb: facts.launchTcb,
    Measurement: facts.measurement,
    HostData: str(claim(c, 'x-ms-sevsnpvm-hostdata')),
    IdKeyDigest: str(claim(c, 'x-ms-sevsnpvm-idkeydigest')),
    ChipId: facts.chipId,
    IsDebuggable: facts.isDebuggable,
    Vmpl: int(claim(c, 'x-ms-sevsnpvm-vmpl')),
    ReportVersion: int(claim(c, 'cvm-attest-report-version')),
    HclHeaderVersion: int(claim(c, 'cvm-attest-hcl-header-version')),
    Fresh: r.checks.some((k) => k.group === 'freshness' && k.status === 'pass') && !r.checks.some((k) => k.group === 'freshness' && k.status === 'fail'),
    ...guestColumns(r),
    PolicyHash: r.policy?.hash,
    Claims: boundedClaims(c),
    ...tdxColumns(r),
  });
  if (outcome.reporter?.by === 'verifier') Object.assign(row, verifierColumns(outcome.reporter));
  return compact(row);
}

/** A verifier's record: the attested id is VmId, the VM's own words are Claimed* only. */
function verifierColumns(r: NonNullable<VerifiedOutcome['reporter']>): Record<string, RecordValue | undefined> {
  const claimed = r.claimed;
  return {
    ...identityColumns(undefined),
    VmId: r.attestedVmId?.toLowerCase(),
    ReportedBy: 'verifier',
    TokenId: r.tokenId,
    ClaimedVmId: claimed?.vmId,
    ClaimedVmName: claimed?.name,
    ClaimedResourceId: claimed?.resourceId,
    ClaimedSubscriptionId: claimed?.subscriptionId,
    ClaimedResourceGroup: claimed?.resourceGroupName,
  };
}

/** FreshBy, SecureBoot, AkCertificate: the guest facts of issue 11, from claims and checks. */
function guestColumns(r: VerificationResult): Record<string, RecordValue | undefined> {
  const by = claim(r.claims, 'cvm-attest-fresh-by');
  const sb = claim(r.claims, 'secureboot');
  const ak = r.checks.find((k) => k.group === 'ak-certificate');
  return {
    FreshBy: by === 'report' || by === 'quote' || by === 'report+quote' ? by : undefined,
    SecureBoot: typeof sb === 'boolean' ? sb : undefined,
    AkCertificate: !ak ? undefined : ak.status === 'skip' ? 'absent' : ak.status === 'pass' ? 'pass' : 'fail',
  };
}

/** The facts alerts compare between runs, read from a result's claims. */
export interface ResultFacts {
  readonly chipId?: string | undefined;
  readonly measurement?: string | undefined;
  readonly isDebuggable?: boolean | undefined;
  readonly reportedTcb?: TcbComponents | undefined;
  readonly committedTcb?: TcbComponents | undefined;
  readonly launchTcb?: TcbComponents | undefined;
}

export function readFacts(r: VerificationResult): ResultFacts {
  const c = r.claims;
  // On TDX the launch measurement is MRTD and DEBUG is TD ATTRIBUTES bit 0 (the alerts compare both alike).
  const debuggable = claim(c, 'x-ms-sevsnpvm-is-debuggable') ?? claim(c, 'tdx_td_attributes_debug');
  return {
    chipId: str(claim(c, 'cvm-attest-chip-id')),
    measurement: str(claim(c, 'x-ms-sevsnpvm-launchmeasurement')) ?? str(claim(c, 'tdx_mrtd')),
    isDebuggable: typeof debuggable === 'boolean' ? debuggable : undefined,
    reportedTcb: tcb(claim(c, 'cvm-attest-reported-tcb')),
    committedTcb: tcb(claim(c, 'cvm-attest-committed-tcb')),
    launchTcb: tcb(claim(c, 'cvm-attest-launch-tcb')),
  };
}

export function identityColumns(id: SinkIdentity | undefined): Record<string, string | undefined> {
  return {
    VmId: id?.vmId,
    ResourceId: id?.resourceId,
    SubscriptionId: id?.subscriptionId,
    ResourceGroup: id?.resourceGroupName,
    VmName: id?.name,
    Location: id?.location,
    VmSize: id?.vmSize,
  };
}

// Claim names are the verifier's (src/platform/snp/claims.ts): MAA's x-ms-sevsnpvm-* and our cvm-attest-*.
function claim(c: Readonly<Record<string, unknown>>, name: string): unknown {
  return c[name] ?? undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function int(v: unknown): number | undefined {
  // Columns typed int are 32-bit signed; our values (VMPL, versions) are small and non-negative.
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 31) return v;
  if (typeof v === 'string' && /^\d{1,9}$/.test(v)) return Number(v);
  return undefined;
}

function tcb(v: unknown): TcbComponents | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === 'number' && Number.isSafeInteger(x)) out[k] = x;
  return Object.keys(out).length > 0 ? out : undefined;
}

function validIso(s: string | undefined): string | undefined {
  if (typeof s !== 'string') return undefined;
  const t = Date.parse(s);
  return Number.isFinite(t) ? new Date(t).toISOString() : undefined;
}

function boundedClaims(c: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  if (JSON.stringify(c).length <= MAX_DYNAMIC_CHARS) return c;
  // Drop the biggest claims (x-ms-runtime with its keys) until it fits, and say so.
  const entries = Object.entries(c).sort((a, b) => JSON.stringify(b[1]).length - JSON.stringify(a[1]).length);
  const kept: Record<string, unknown> = { ...c };
  const dropped: string[] = [];
  for (const [k] of entries) {
    if (JSON.stringify(kept).length <= MAX_DYNAMIC_CHARS - 2000) break;
    delete kept[k];
    dropped.push(k);
  }
  kept['cvm-attest-claims-omitted'] = dropped;
  return kept;
}

function compact(row: Record<string, RecordValue | undefined>): LogRecord {
  const out: Record<string, RecordValue> = {};
  for (const col of RECORD_COLUMNS) {
    const v = row[col.name];
    if (v !== undefined) out[col.name] = v;
  }
  return out;
}
