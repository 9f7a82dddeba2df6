// The verification policy: a JSON document (schema: extension/policy.schema.json) with a safe default.
// Unknown keys are an error, so a typo never silently weakens a policy. Pure: no file I/O here.
import { createHash } from 'node:crypto';
import { ParseError } from '../base/errors.js';
import type { PolicySummary, Product } from '../result/result.js';
import { TCB_STATUSES, type TcbStatus } from '../result/tdx-tcb-status.js';

export type CrlMode = 'off' | 'warn' | 'enforce';
export const TCB_COMPONENT_NAMES = ['bootloader', 'tee', 'snp', 'microcode', 'fmc'] as const;
export type TcbComponentName = (typeof TCB_COMPONENT_NAMES)[number];

export interface Policy {
  /** Allow POLICY.DEBUG = 1. Default false. */
  readonly allowDebug: boolean;
  /** Highest VMPL accepted. Default 0. */
  readonly maxVmpl: number;
  /** Allow POLICY.MIGRATE_MA = 1 (a migration agent). Default false. */
  readonly allowMigrationAgent: boolean;
  /** Accept reports signed by a VLEK. Default false (VCEK only). */
  readonly allowVlek: boolean;
  /** HCL reports: the runtime-data hash must match REPORT_DATA. Default true; false turns a mismatch into a warning. */
  readonly requireRuntimeDataBinding: boolean;
  /** Require freshness: a report carrying the nonce or a quote over it. Default false. */
  readonly requireFreshness: boolean;
  /** Require a valid Azure vTPM AK certificate for HCLAkPub. Default false. */
  readonly requireAkCertificate: boolean;
  /** Minimum SPL per component, checked on REPORTED_TCB. */
  readonly minimumTcb?: Readonly<Partial<Record<TcbComponentName, number>>>;
  /** Also require minimumTcb of COMMITTED_TCB (rollback-proof firmware). Default false. */
  readonly minimumTcbCommitted: boolean;
  readonly minimumGuestSvn?: number;
  /** Lowercase hex allowlists; absent = any value accepted. */
  readonly allowedMeasurements?: readonly string[];
  readonly allowedHostData?: readonly string[];
  readonly allowedIdKeyDigests?: readonly string[];
  readonly allowedFamilyIds?: readonly string[];
  readonly allowedImageIds?: readonly string[];
  readonly allowedProducts?: readonly Product[];
  /** Minimum SNP firmware version "major.minor" or "major.minor.build" (CURRENT). */
  readonly minimumFirmwareVersion?: string;
  /** PCR index -> allowed SHA-256 values (lowercase hex); each listed PCR must be quoted with one of them. */
  readonly allowedPcrs?: Readonly<Record<string, readonly string[]>>;
  /** The replayed event log must show the SecureBoot variable on. Default false. */
  readonly requireSecureBoot: boolean;
  /** Every EFI boot application (PCR 4) the replayed log measured must be in this SHA-256 list. */
  readonly allowedBootApplicationDigests?: readonly string[];
  /** The kernel command line the replayed log measured (PCR 8) must be one of these. */
  readonly allowedKernelCmdlines?: readonly string[];
  /** What CRLs do: off = ignored; warn = revocations fail, a missing/stale CRL warns; enforce = a valid fresh CRL is required. Default warn. */
  readonly crl: CrlMode;
  // Intel TDX (ignored, with a note, on SEV-SNP). Absent = the default noted, so SNP policy hashes stay as they were.
  /** TCB statuses accepted; absent = every status but Revoked. */
  readonly allowedTdxTcbStatuses?: readonly TcbStatus[];
  /** Intel advisory ids (e.g. INTEL-SA-00960) that fail the verification when the TCB level names them. */
  readonly deniedAdvisoryIds?: readonly string[];
  readonly allowedMrtd?: readonly string[];
  readonly allowedRtmr0?: readonly string[];
  readonly allowedRtmr1?: readonly string[];
  readonly allowedRtmr2?: readonly string[];
  readonly allowedRtmr3?: readonly string[];
  readonly allowedMrConfigId?: readonly string[];
  readonly allowedMrOwner?: readonly string[];
  /** Minimum TEE_TCB_SVN (32 hex digits), compared byte by byte. */
  readonly minimumTeeTcbSvn?: string;
  /** Stale TDX collateral (TCB info, QE identity, CRLs past nextUpdate): warn (absent) or enforce (fail). */
  readonly collateral?: CollateralMode;
}

export type CollateralMode = 'warn' | 'enforce';
/** The keys that judge only one platform: set on the other, they are ignored with a note. */
export const TDX_ONLY_KEYS = [
  'allowedTdxTcbStatuses',
  'deniedAdvisoryIds',
  'allowedMrtd',
  'allowedRtmr0',
  'allowedRtmr1',
  'allowedRtmr2',
  'allowedRtmr3',
  'allowedMrConfigId',
  'allowedMrOwner',
  'minimumTeeTcbSvn',
  'collateral',
] as const;
export const SNP_ONLY_KEYS = [
  'maxVmpl',
  'allowMigrationAgent',
  'allowVlek',
  'minimumTcb',
  'minimumTcbCommitted',
  'minimumGuestSvn',
  'allowedMeasurements',
  'allowedHostData',
  'allowedIdKeyDigests',
  'allowedFamilyIds',
  'allowedImageIds',
  'allowedProducts',
  'minimumFirmwareVersion',
  'crl',
] as const;

export const defaultPolicy: Policy = Object.freeze({
  allowDebug: false,
  maxVmpl: 0,
  allowMigrationAgent: false,
  allowVlek: false,
  requireRuntimeDataBinding: true,
  requireFreshness: false,
  requireAkCertificate: false,
  requireSecureBoot: false,
  minimumTcbCommitted: false,
  crl: 'warn',
});

/** Policies made by parsePolicy (and the default): validated and frozen. */
const validated = new WeakSet<object>([defaultPolicy]);

/** True for a policy returned by parsePolicy (or defaultPolicy); others should go through parsePolicy. */
export function isParsedPolicy(p: unknown): p is Policy {
  return p !== null && typeof p === 'object' && validated.has(p);
}

const HEX_LISTS = {
  allowedMeasurements: 48,
  allowedHostData: 32,
  allowedIdKeyDigests: 48,
  allowedFamilyIds: 16,
  allowedImageIds: 16,
  allowedMrtd: 48,
  allowedRtmr0: 48,
  allowedRtmr1: 48,
  allowedRtmr2: 48,
  allowedRtmr3: 48,
  allowedMrConfigId: 48,
  allowedMrOwner: 48,
} as const;
const BOOLS = [
  'allowDebug',
  'allowMigrationAgent',
  'allowVlek',
  'requireRuntimeDataBinding',
  'requireFreshness',
  'requireAkCertificate',
  'requireSecureBoot',
  'minimumTcbCommitted',
] as const;
const KNOWN = new Set<string>([
  '$schema',
  ...BOOLS,
  'maxVmpl',
  'minimumTcb',
  'minimumGuestSvn',
  ...Object.keys(HEX_LISTS),
  'allowedProducts',
  'minimumFirmwareVersion',
  'crl',
  'allowedPcrs',
  'allowedBootApplicationDigests',
  'allowedKernelCmdlines',
  'allowedTdxTcbStatuses',
  'deniedAdvisoryIds',
  'minimumTeeTcbSvn',
  'collateral',
]);
const PRODUCTS: readonly Product[] = ['Milan', 'Genoa', 'Turin'];

const bad = (msg: string): never => {
  throw new ParseError('E_POLICY', `policy: ${msg}`);
};

function uint(v: unknown, key: string, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) bad(`${key} must be an integer 0..${max}`);
  return v as number;
}

/** Validates a parsed JSON policy and fills in the defaults. Throws ParseError naming the offending key. */
export function parsePolicy(json: unknown): Policy {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) bad('must be a JSON object');
  const o = json as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) bad(`unknown key "${k}" (see extension/policy.schema.json)`);
  const p: Record<string, unknown> = { ...defaultPolicy };
  if (o.$schema !== undefined && typeof o.$schema !== 'string') bad('$schema must be a string');
  for (const k of BOOLS) {
    if (o[k] === undefined) continue;
    if (typeof o[k] !== 'boolean') bad(`${k} must be true or false`);
    p[k] = o[k];
  }
  if (o.maxVmpl !== undefined) p.maxVmpl = uint(o.maxVmpl, 'maxVmpl', 3);
  if (o.minimumGuestSvn !== undefined) p.minimumGuestSvn = uint(o.minimumGuestSvn, 'minimumGuestSvn', 0xffffffff);
  if (o.minimumTcb !== undefined) {
    const t = o.minimumTcb;
    if (t === null || typeof t !== 'object' || Array.isArray(t)) bad('minimumTcb must be an object');
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(t as Record<string, unknown>)) {
      if (!(TCB_COMPONENT_NAMES as readonly string[]).includes(k)) bad(`minimumTcb: unknown component "${k}" (${TCB_COMPONENT_NAMES.join(', ')})`);
      out[k] = uint(v, `minimumTcb.${k}`, 255);
    }
    p.minimumTcb = out;
  }
  for (const [k, n] of Object.entries(HEX_LISTS)) {
    const v = o[k];
    if (v === undefined) continue;
    if (!Array.isArray(v) || v.length === 0) bad(`${k} must be a non-empty array of hex strings`);
    p[k] = (v as unknown[]).map((x, i) => {
      if (typeof x !== 'string' || !new RegExp(`^[0-9a-fA-F]{${n * 2}}$`).test(x)) bad(`${k}[${i}] must be ${n * 2} hex digits`);
      return (x as string).toLowerCase();
    });
  }
  if (o.allowedProducts !== undefined) {
    const v = o.allowedProducts;
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => PRODUCTS.includes(x as Product)))
      bad(`allowedProducts must be a non-empty array of ${PRODUCTS.join(', ')}`);
    p.allowedProducts = [...(v as Product[])];
  }
  if (o.minimumFirmwareVersion !== undefined) {
    const v = o.minimumFirmwareVersion;
    if (typeof v !== 'string' || !/^\d{1,3}\.\d{1,3}(\.\d{1,3})?$/.test(v) || v.split('.').some((x) => Number(x) > 255))
      bad('minimumFirmwareVersion must be "major.minor" or "major.minor.build" (each 0..255)');
    p.minimumFirmwareVersion = v;
  }
  if (o.allowedPcrs !== undefined) {
    const v = o.allowedPcrs;
    if (v === null || typeof v !== 'object' || Array.isArray(v) || Object.keys(v).length === 0)
      bad('allowedPcrs must be a non-empty object {"<PCR 0-23>": ["<SHA-256 hex>", ...]}');
    const out: Record<string, string[]> = {};
    for (const [k, list] of Object.entries(v as Record<string, unknown>)) {
      if (!/^(1?[0-9]|2[0-3])$/.test(k)) bad(`allowedPcrs: "${k.slice(0, 20)}" is not a PCR index 0-23`);
      if (!Array.isArray(list) || list.length === 0 || !list.every((x) => typeof x === 'string' && /^[0-9a-fA-F]{64}$/.test(x)))
        bad(`allowedPcrs.${k} must be a non-empty array of SHA-256 values (64 hex digits)`);
      out[k] = Object.freeze((list as string[]).map((x) => x.toLowerCase())) as string[];
    }
    p.allowedPcrs = out;
  }
  if (o.allowedBootApplicationDigests !== undefined) {
    const v = o.allowedBootApplicationDigests;
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && /^[0-9a-fA-F]{64}$/.test(x)))
      bad('allowedBootApplicationDigests must be a non-empty array of SHA-256 values (64 hex digits)');
    p.allowedBootApplicationDigests = (v as string[]).map((x) => x.toLowerCase());
  }
  if (o.allowedKernelCmdlines !== undefined) {
    const v = o.allowedKernelCmdlines;
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && x.length <= 4096))
      bad('allowedKernelCmdlines must be a non-empty array of strings (at most 4096 characters each)');
    p.allowedKernelCmdlines = [...(v as string[])];
  }
  if (o.crl !== undefined) {
    if (o.crl !== 'off' && o.crl !== 'warn' && o.crl !== 'enforce') bad('crl must be "off", "warn" or "enforce"');
    p.crl = o.crl;
  }
  if (o.allowedTdxTcbStatuses !== undefined) {
    const v = o.allowedTdxTcbStatuses;
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => (TCB_STATUSES as readonly unknown[]).includes(x)))
      bad(`allowedTdxTcbStatuses must be a non-empty array of ${TCB_STATUSES.join(', ')}`);
    p.allowedTdxTcbStatuses = [...new Set(v as TcbStatus[])];
  }
  if (o.deniedAdvisoryIds !== undefined) {
    const v = o.deniedAdvisoryIds;
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(x)))
      bad('deniedAdvisoryIds must be a non-empty array of advisory ids (e.g. "INTEL-SA-00960")');
    p.deniedAdvisoryIds = (v as string[]).map((x) => x.toUpperCase());
  }
  if (o.minimumTeeTcbSvn !== undefined) {
    if (typeof o.minimumTeeTcbSvn !== 'string' || !/^[0-9a-fA-F]{32}$/.test(o.minimumTeeTcbSvn))
      bad('minimumTeeTcbSvn must be 32 hex digits (the 16 TEE_TCB_SVN bytes)');
    p.minimumTeeTcbSvn = (o.minimumTeeTcbSvn as string).toLowerCase();
  }
  if (o.collateral !== undefined) {
    if (o.collateral !== 'warn' && o.collateral !== 'enforce') bad('collateral must be "warn" or "enforce"');
    p.collateral = o.collateral;
  }
  for (const v of Object.values(p)) if (v !== null && typeof v === 'object') Object.freeze(v);
  const policy = Object.freeze(p) as unknown as Policy;
  validated.add(policy);
  return policy;
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The canonical JSON of the effective policy (sorted keys, defaults filled): what the hash covers. */
export function canonicalPolicy(p: Policy): string {
  return canonical(p);
}

const summaries = new WeakMap<Policy, PolicySummary>();

/** Hash and minimum TCB of a policy (memoised per policy object: policies are frozen). */
export function policySummary(p: Policy): PolicySummary {
  let s = summaries.get(p);
  if (!s) {
    s = computeSummary(p);
    if (Object.isFrozen(p)) summaries.set(p, s);
  }
  return s;
}

function computeSummary(p: Policy): PolicySummary {
  const text = canonicalPolicy(p);
  const hash = createHash('sha256').update(text).digest('hex');
  // rules: a copy of what the hash covers, so a report can list the policy, not only its hash.
  const rules = JSON.parse(text) as Record<string, unknown>;
  return p.minimumTcb ? { hash, minimumTcb: { ...p.minimumTcb }, rules } : { hash, rules };
}
