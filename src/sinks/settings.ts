// publicSettings.sinks: validated by hand (mirrors extension/sinks.schema.json), unknown keys
// rejected so a typo never silently disables reporting. Every error names the bad setting.
import { InputError } from '../base/errors.js';
import { ALERT_STREAM, RECORD_STREAM } from './record.js';
import { DEFAULT_SPOOL_MAX_BYTES, DEFAULT_SPOOL_MAX_RECORDS } from './spool.js';

export interface ManagedIdentitySelector {
  readonly clientId?: string;
  readonly resourceId?: string;
  readonly objectId?: string;
}

/** Azure clouds with their own Logs Ingestion endpoints and token audience. */
export const MONITOR_CLOUDS = ['AzurePublicCloud', 'AzureUSGovernment', 'AzureChinaCloud'] as const;
export type MonitorCloud = (typeof MONITOR_CLOUDS)[number];
// The host suffix of each cloud's ingestion endpoints (DCR and DCE): a known one implies the cloud.
const CLOUD_HOSTS: Readonly<Record<MonitorCloud, string>> = {
  AzurePublicCloud: '.monitor.azure.com',
  AzureUSGovernment: '.monitor.azure.us',
  AzureChinaCloud: '.monitor.azure.cn',
};

export interface AzureMonitorSettings {
  readonly endpoint: string;
  /** Decides the token audience (the SDK's KnownMonitorAudience); default: from the endpoint's host, else AzurePublicCloud. */
  readonly cloud: MonitorCloud;
  readonly dcrImmutableId: string;
  readonly streamName: string;
  readonly alertsStreamName: string;
  /** User-assigned identity; absent = system-assigned. */
  readonly identity?: ManagedIdentitySelector | undefined;
  /** `managedIdentity` on Azure (default); `default` = DefaultAzureCredential (off Azure). */
  readonly credential: 'managedIdentity' | 'default';
  readonly timeoutMs: number;
  readonly spool: { readonly maxRecords: number; readonly maxBytes: number };
}

export interface AlertSettings {
  readonly enabled: boolean;
  readonly evidenceUnavailableAfter: number;
  readonly certificateExpiryDays: number;
}

export const SYSLOG_FACILITIES = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'syslog',
  'lpr',
  'news',
  'uucp',
  'cron',
  'authpriv',
  'ftp',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
] as const;
export type SyslogFacility = (typeof SYSLOG_FACILITIES)[number];

export interface SyslogSettings {
  /** Unix datagram socket of the local syslog daemon (default /dev/log), used unless `target` is set. */
  readonly socket: string;
  /** A syslog daemon listening on the network instead (rsyslog imudp/imtcp), e.g. the local one on 127.0.0.1:514. */
  readonly target?: { readonly host: string; readonly port: number; readonly protocol: 'udp' | 'tcp' } | undefined;
  readonly facility: SyslogFacility;
  readonly appName: string;
}

export interface SinksSettings {
  readonly azureMonitor?: AzureMonitorSettings | undefined;
  readonly alerts: AlertSettings;
  readonly syslog?: SyslogSettings | undefined;
}

const fail = (path: string, msg: string): never => {
  throw new InputError('E_SINKS_SETTINGS', `invalid setting sinks.${path}: ${msg}`);
};

type Obj = Record<string, unknown>;
function obj(v: unknown, path: string, allowed: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(path, 'must be an object');
  for (const k of Object.keys(v)) if (!allowed.includes(k)) fail(`${path ? `${path}.` : ''}${k}`, `unknown setting (allowed: ${allowed.join(', ')})`);
  return v as Obj;
}
function bool(o: Obj, k: string, path: string, dflt: boolean): boolean {
  const v = o[k];
  if (v === undefined) return dflt;
  return typeof v === 'boolean' ? v : fail(`${path}.${k}`, 'must be true or false');
}
function int(o: Obj, k: string, path: string, dflt: number, min: number, max: number): number {
  const v = o[k];
  if (v === undefined) return dflt;
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : fail(`${path}.${k}`, `must be an integer from ${min} to ${max}`);
}
function string(o: Obj, k: string, path: string, re: RegExp, what: string, dflt?: string): string {
  const v = o[k];
  if (v === undefined && dflt !== undefined) return dflt;
  if (v === undefined) return fail(`${path}.${k}`, `is required (${what})`);
  return typeof v === 'string' && re.test(v) ? v : fail(`${path}.${k}`, `must be ${what}`);
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const STREAM = /^Custom-[A-Za-z0-9_]{1,200}$/;

export function parseSinksSettings(raw: unknown): SinksSettings {
  if (raw === undefined || raw === null) return { alerts: { enabled: true, evidenceUnavailableAfter: 3, certificateExpiryDays: 30 } };
  const s = obj(raw, '', ['azureMonitor', 'alerts', 'syslog']);
  const alertsRaw = s.alerts === undefined ? {} : obj(s.alerts, 'alerts', ['enabled', 'evidenceUnavailableAfter', 'certificateExpiryDays']);
  const alerts: AlertSettings = {
    enabled: bool(alertsRaw, 'enabled', 'alerts', true),
    evidenceUnavailableAfter: int(alertsRaw, 'evidenceUnavailableAfter', 'alerts', 3, 1, 1000),
    certificateExpiryDays: int(alertsRaw, 'certificateExpiryDays', 'alerts', 30, 1, 3650),
  };
  return { azureMonitor: parseAzureMonitor(s.azureMonitor), alerts, syslog: parseSyslog(s.syslog) };
}

function parseAzureMonitor(v: unknown): AzureMonitorSettings | undefined {
  if (v === undefined) return undefined;
  const p = 'azureMonitor';
  const o = obj(v, p, ['enabled', 'endpoint', 'cloud', 'dcrImmutableId', 'streamName', 'alertsStreamName', 'identity', 'credential', 'timeoutMs', 'spool']);
  if (!bool(o, 'enabled', p, true)) return undefined;
  const endpoint = string(o, 'endpoint', p, /^https:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, "an https URL (the DCR's logsIngestion endpoint)").replace(/\/+$/, '');
  const host = new URL(endpoint).hostname.toLowerCase();
  const hostCloud = MONITOR_CLOUDS.find((c) => host.endsWith(CLOUD_HOSTS[c]));
  if (o.cloud !== undefined && !(MONITOR_CLOUDS as readonly unknown[]).includes(o.cloud)) fail(`${p}.cloud`, `must be one of ${MONITOR_CLOUDS.join(', ')}`);
  const cloud = (o.cloud as MonitorCloud | undefined) ?? hostCloud ?? 'AzurePublicCloud';
  // A token for one cloud is refused by another's endpoint: say so now rather than as a 401 later.
  if (hostCloud && hostCloud !== cloud) fail(`${p}.cloud`, `${cloud} does not match the endpoint ${host} (an ${hostCloud} endpoint)`);
  let identity: ManagedIdentitySelector | undefined;
  if (o.identity !== undefined) {
    const i = obj(o.identity, `${p}.identity`, ['clientId', 'resourceId', 'objectId']);
    const given = Object.keys(i).filter((k) => i[k] !== undefined);
    if (given.length !== 1) fail(`${p}.identity`, 'give exactly one of clientId, resourceId, objectId (omit identity for the system-assigned one)');
    const k = given[0]!;
    const val =
      k === 'resourceId'
        ? string(
            i,
            k,
            `${p}.identity`,
            /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/[^/]+$/i,
            'a user-assigned identity resource id',
          )
        : string(i, k, `${p}.identity`, GUID, 'a GUID');
    identity = { [k]: val };
  }
  const credential =
    o.credential === undefined
      ? 'managedIdentity'
      : o.credential === 'managedIdentity' || o.credential === 'default'
        ? o.credential
        : fail(`${p}.credential`, 'must be "managedIdentity" or "default"');
  const spoolRaw = o.spool === undefined ? {} : obj(o.spool, `${p}.spool`, ['maxRecords', 'maxBytes']);
  return {
    endpoint,
    cloud,
    dcrImmutableId: string(o, 'dcrImmutableId', p, /^dcr-[0-9a-f]{32}$/, 'a DCR immutable id (dcr- and 32 hex digits)'),
    streamName: string(o, 'streamName', p, STREAM, 'a custom stream name (Custom-...)', RECORD_STREAM),
    alertsStreamName: string(o, 'alertsStreamName', p, STREAM, 'a custom stream name (Custom-...)', ALERT_STREAM),
    identity,
    credential,
    timeoutMs: int(o, 'timeoutMs', p, 30_000, 100, 600_000),
    spool: {
      maxRecords: int(spoolRaw, 'maxRecords', `${p}.spool`, DEFAULT_SPOOL_MAX_RECORDS, 1, 1_000_000),
      maxBytes: int(spoolRaw, 'maxBytes', `${p}.spool`, DEFAULT_SPOOL_MAX_BYTES, 1024, 1024 * 1024 * 1024),
    },
  };
}

function parseSyslog(v: unknown): SyslogSettings | undefined {
  if (v === undefined) return undefined;
  const p = 'syslog';
  const o = obj(v, p, ['enabled', 'socket', 'target', 'facility', 'appName']);
  if (!bool(o, 'enabled', p, true)) return undefined;
  let target: SyslogSettings['target'];
  if (o.target !== undefined) {
    const t = obj(o.target, `${p}.target`, ['host', 'port', 'protocol']);
    const protocol =
      t.protocol === undefined ? 'udp' : t.protocol === 'udp' || t.protocol === 'tcp' ? t.protocol : fail(`${p}.target.protocol`, 'must be "udp" or "tcp"');
    target = {
      host: string(t, 'host', `${p}.target`, /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/, 'a loopback address (the local syslog daemon)', '127.0.0.1'),
      port: int(t, 'port', `${p}.target`, 514, 1, 65535),
      protocol,
    };
  }
  const facility =
    o.facility === undefined
      ? 'local4'
      : (SYSLOG_FACILITIES as readonly unknown[]).includes(o.facility)
        ? (o.facility as SyslogFacility)
        : fail(`${p}.facility`, `must be one of ${SYSLOG_FACILITIES.join(', ')}`);
  return {
    socket: string(o, 'socket', p, /^\/[^\0]{1,107}$/, 'an absolute path of a unix socket (at most 108 bytes)', '/dev/log'),
    target,
    facility,
    appName: string(o, 'appName', p, /^[!-~]{1,48}$/, 'printable ASCII without spaces, at most 48 characters (RFC 5424 APP-NAME)', 'cvm-attest'),
  };
}
