// config/<seq>.settings and the public settings it carries. Pure: text in, typed settings out, or a
// SettingsError naming the offending setting (shown in the extension status, never a crash).
import { parseVerifierSettings, type VerifierSettings } from './verifier-settings.js';
import { readdirSync } from 'node:fs';
import { SettingsError } from './settings-error.js';

export { SettingsError };

export type StatusOnFailure = 'error' | 'warning';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** The public settings with defaults applied. */
export interface ExtensionSettings {
  /** Minutes between attestation runs. */
  readonly intervalMinutes: number;
  /** Per-VM spread of each run, as a percentage of the interval (stable per VM, so a fleet does not run in step). */
  readonly jitterPercent: number;
  /** Inline policy document (validated by the policy parser when the worker starts). */
  readonly policy?: Readonly<Record<string, unknown>>;
  /** Minimum TCB per component: a shortcut that tightens the default policy. */
  readonly minimumTcb?: Readonly<Record<string, number>>;
  /** Prove freshness with a vTPM quote over a fresh nonce. */
  readonly freshness: boolean;
  /** TPM transport (`device:/dev/tpmrm0`, `swtpm:...`, `file:...`); env CVM_ATTEST_TPM wins. */
  readonly tpm?: string;
  /** IMDS base URL; env CVM_ATTEST_IMDS_ENDPOINT wins. */
  readonly imdsEndpoint?: string;
  /** Intel TDX: PCS v4 (or a cache with its API) base URL for collateral; env CVM_ATTEST_PCS_ENDPOINT wins. */
  readonly pcsEndpoint?: string;
  /** Sink configuration, passed as is to the sinks (they validate it). */
  readonly sinks?: unknown;
  readonly statusOnFailure: StatusOnFailure;
  readonly logLevel: LogLevel;
  /** Non-fatal remarks (e.g. Guest Attestation settings that have no meaning here). */
  readonly notes: readonly string[];
  /** A remote verifier (cvm-attest serve) to attest to on every run (verifier-settings.ts). */
  readonly verifier?: VerifierSettings;
}

export interface HandlerSettings {
  readonly publicSettings: Readonly<Record<string, unknown>>;
  /** Base64 DER CMS EnvelopedData, or null when none were given. */
  readonly protectedSettings: string | null;
  readonly protectedSettingsCertThumbprint: string | null;
}

export const SETTINGS_MAX_BYTES = 1024 * 1024;
export const DEFAULTS = { intervalMinutes: 60, jitterPercent: 10, freshness: true, statusOnFailure: 'error', logLevel: 'info' } as const;
const TCB_COMPONENTS = new Set(['bootloader', 'tee', 'snp', 'microcode', 'fmc']);
const KNOWN = new Set([
  'intervalMinutes',
  'jitterPercent',
  'policy',
  'minimumTcb',
  'freshness',
  'tpm',
  'imdsEndpoint',
  'pcsEndpoint',
  'sinks',
  'statusOnFailure',
  'logLevel',
  'AttestationConfig',
  'verifier',
]);

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])$/i;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses the text of config/<seq>.settings. An empty file (no settings at all) yields empty settings. */
export function parseSettingsFile(text: string): HandlerSettings {
  if (text.length > SETTINGS_MAX_BYTES) throw new SettingsError('runtimeSettings', 'the settings file is larger than 1 MiB');
  const t = text.replace(/^\uFEFF/, '').trim();
  if (t === '') return { publicSettings: {}, protectedSettings: null, protectedSettingsCertThumbprint: null };
  let doc: unknown;
  try {
    doc = JSON.parse(t);
  } catch {
    throw new SettingsError('runtimeSettings', 'the settings file is not valid JSON');
  }
  if (!isObject(doc) || !Array.isArray(doc['runtimeSettings'])) throw new SettingsError('runtimeSettings', 'must be an array');
  const rs = doc['runtimeSettings'] as unknown[];
  if (rs.length === 0) return { publicSettings: {}, protectedSettings: null, protectedSettingsCertThumbprint: null };
  const first = rs[0];
  if (!isObject(first) || !isObject(first['handlerSettings'])) throw new SettingsError('runtimeSettings[0].handlerSettings', 'must be an object');
  const hs = first['handlerSettings'];
  const pub = hs['publicSettings'];
  if (pub !== undefined && pub !== null && !isObject(pub)) throw new SettingsError('publicSettings', 'must be an object');
  const prot = hs['protectedSettings'];
  const thumb = hs['protectedSettingsCertThumbprint'];
  let protectedSettings: string | null = null;
  let thumbprint: string | null = null;
  if (prot !== undefined && prot !== null && prot !== '') {
    if (typeof prot !== 'string' || !/^[A-Za-z0-9+/=\s]+$/.test(prot)) throw new SettingsError('protectedSettings', 'must be base64 text');
    if (typeof thumb !== 'string' || !/^[0-9A-Fa-f]{40}$/.test(thumb))
      throw new SettingsError('protectedSettingsCertThumbprint', 'must be a SHA-1 thumbprint (40 hex digits)');
    protectedSettings = prot.replace(/\s+/g, '');
    thumbprint = thumb.toUpperCase();
  }
  return { publicSettings: pub ?? {}, protectedSettings, protectedSettingsCertThumbprint: thumbprint };
}

function intIn(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new SettingsError(`publicSettings.${name}`, `must be an integer from ${min} to ${max} (got ${JSON.stringify(v)})`);
  return v;
}

/** Validates the public settings and applies defaults. Unknown keys are errors: a typo must not pass silently. */
export function validatePublicSettings(pub: Readonly<Record<string, unknown>>): ExtensionSettings {
  const notes: string[] = [];
  for (const k of Object.keys(pub)) {
    if (!KNOWN.has(k)) throw new SettingsError(`publicSettings.${k}`, `unknown setting (known: ${[...KNOWN].join(', ')})`);
  }
  const intervalMinutes = pub['intervalMinutes'] === undefined ? DEFAULTS.intervalMinutes : intIn(pub['intervalMinutes'], 'intervalMinutes', 1, 10080);
  const jitterPercent = pub['jitterPercent'] === undefined ? DEFAULTS.jitterPercent : intIn(pub['jitterPercent'], 'jitterPercent', 0, 50);
  let policy: Record<string, unknown> | undefined;
  if (pub['policy'] !== undefined) {
    if (!isObject(pub['policy'])) throw new SettingsError('publicSettings.policy', 'must be a policy object (see extension/policy.schema.json)');
    policy = pub['policy'];
  }
  let minimumTcb: Record<string, number> | undefined;
  if (pub['minimumTcb'] !== undefined) {
    const m = pub['minimumTcb'];
    if (!isObject(m) || Object.keys(m).length === 0) throw new SettingsError('publicSettings.minimumTcb', 'must be an object of TCB component -> minimum SVN');
    minimumTcb = {};
    for (const [c, v] of Object.entries(m)) {
      if (!TCB_COMPONENTS.has(c)) throw new SettingsError(`publicSettings.minimumTcb.${c}`, `unknown TCB component (known: ${[...TCB_COMPONENTS].join(', ')})`);
      minimumTcb[c] = intIn(v, `minimumTcb.${c}`, 0, 255);
    }
  }
  let freshness: boolean = DEFAULTS.freshness;
  if (pub['freshness'] !== undefined) {
    if (typeof pub['freshness'] !== 'boolean') throw new SettingsError('publicSettings.freshness', 'must be true or false');
    freshness = pub['freshness'];
  }
  let tpm: string | undefined;
  if (pub['tpm'] !== undefined) {
    const v = pub['tpm'];
    if (typeof v !== 'string' || !/^(device|swtpm|file):\S{1,1024}$/.test(v))
      throw new SettingsError('publicSettings.tpm', 'must be device:PATH, swtpm:host=H,port=P, swtpm:path=SOCKET or file:PATH');
    tpm = v;
  }
  let imdsEndpoint: string | undefined;
  if (pub['imdsEndpoint'] !== undefined) {
    const v = pub['imdsEndpoint'];
    // The collector's rule (resolveImdsEndpoint): IMDS speaks plain http, and the base URL carries
    // no path, query or credentials. Checked here so enable names the setting instead of every run failing.
    let ok = false;
    if (typeof v === 'string' && v.length < 2048) {
      try {
        const u = new URL(v);
        ok = u.protocol === 'http:' && !u.username && !u.password && (u.pathname === '/' || u.pathname === '') && !u.search && !u.hash;
      } catch {
        ok = false;
      }
    }
    if (!ok)
      throw new SettingsError('publicSettings.imdsEndpoint', 'must be a plain http://host[:port] URL (IMDS speaks plain http; no path, query or credentials)');
    imdsEndpoint = v as string;
  }
  let pcsEndpoint: string | undefined;
  if (pub['pcsEndpoint'] !== undefined) {
    const v = pub['pcsEndpoint'];
    // Collateral is verified to the pinned Intel root whatever serves it; https keeps the fetch itself
    // private and unaltered on the way, plain http only to a loopback cache. No query or credentials (the collector's rule).
    let ok = false;
    if (typeof v === 'string' && v.length < 2048) {
      try {
        const u = new URL(v);
        ok = !u.username && !u.password && !u.search && !u.hash && (u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK.test(u.hostname)));
      } catch {
        ok = false;
      }
    }
    if (!ok)
      throw new SettingsError(
        'publicSettings.pcsEndpoint',
        'must be an https://host[:port][/path] URL (http:// only for loopback addresses; no query or credentials)',
      );
    pcsEndpoint = v as string;
  }
  const sinks = pub['sinks'];
  if (sinks !== undefined && !isObject(sinks)) throw new SettingsError('publicSettings.sinks', 'must be an object (see extension/sinks.schema.json)');
  let statusOnFailure: StatusOnFailure = DEFAULTS.statusOnFailure;
  if (pub['statusOnFailure'] !== undefined) {
    if (pub['statusOnFailure'] !== 'error' && pub['statusOnFailure'] !== 'warning')
      throw new SettingsError('publicSettings.statusOnFailure', 'must be "error" or "warning"');
    statusOnFailure = pub['statusOnFailure'];
  }
  let logLevel: LogLevel = DEFAULTS.logLevel;
  if (pub['logLevel'] !== undefined) {
    const v = pub['logLevel'];
    if (v !== 'error' && v !== 'warn' && v !== 'info' && v !== 'debug')
      throw new SettingsError('publicSettings.logLevel', 'must be error, warn, info or debug');
    logLevel = v;
  }
  if (pub['AttestationConfig'] !== undefined) {
    if (!isObject(pub['AttestationConfig'])) throw new SettingsError('publicSettings.AttestationConfig', 'must be an object');
    notes.push('AttestationConfig (Guest Attestation settings) is accepted for compatibility and ignored: cvm-attest does not use MAA');
  }
  return {
    intervalMinutes,
    jitterPercent,
    freshness,
    statusOnFailure,
    logLevel,
    notes,
    ...(policy ? { policy } : {}),
    ...(minimumTcb ? { minimumTcb } : {}),
    ...(tpm ? { tpm } : {}),
    ...(imdsEndpoint ? { imdsEndpoint } : {}),
    ...(pcsEndpoint ? { pcsEndpoint } : {}),
    ...(sinks !== undefined ? { sinks } : {}),
    ...(pub['verifier'] !== undefined ? { verifier: parseVerifierSettings(pub['verifier']) } : {}),
  };
}

/** Validates the decrypted protected settings: an object whose keys are known. */
export interface ProtectedSettings {
  /** Merged over publicSettings.sinks (keeps endpoints or identities out of the ARM template). */
  readonly sinks?: Readonly<Record<string, unknown>>;
  /** A policy kept private; wins over publicSettings.policy. */
  readonly policy?: Readonly<Record<string, unknown>>;
}

export function validateProtectedSettings(v: unknown): ProtectedSettings {
  if (!isObject(v)) throw new SettingsError('protectedSettings', 'must decrypt to a JSON object');
  for (const k of Object.keys(v)) {
    if (k !== 'sinks' && k !== 'policy') throw new SettingsError(`protectedSettings.${k}`, 'unknown setting (known: sinks, policy)');
  }
  if (v['sinks'] !== undefined && !isObject(v['sinks'])) throw new SettingsError('protectedSettings.sinks', 'must be an object');
  if (v['policy'] !== undefined && !isObject(v['policy'])) throw new SettingsError('protectedSettings.policy', 'must be a policy object');
  return v;
}

/** Deep merge of plain objects (b wins); arrays and scalars are replaced. */
export function deepMerge(a: unknown, b: unknown): unknown {
  if (!isObject(a) || !isObject(b)) return b === undefined ? a : b;
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = deepMerge(a[k], v);
  return out;
}

/** Sequence number: env ConfigSequenceNumber, else the highest N of config/N.settings, else 0. */
export function resolveSequenceNumber(env: NodeJS.ProcessEnv, configFolder: string): number {
  const raw = env['ConfigSequenceNumber'];
  if (raw !== undefined && raw !== '') {
    if (!/^\d{1,9}$/.test(raw)) throw new SettingsError('ConfigSequenceNumber', `must be a non-negative integer (got ${JSON.stringify(raw.slice(0, 20))})`);
    return Number(raw);
  }
  let max = -1;
  try {
    for (const n of readdirSync(configFolder)) {
      const m = /^(\d{1,9})\.settings$/.exec(n);
      if (m) max = Math.max(max, Number(m[1]));
    }
  } catch {
    /* no config folder yet */
  }
  return max < 0 ? 0 : max;
}
