// The SEV-SNP ATTESTATION_REPORT (AMD SEV-SNP ABI, 1184 bytes), versions 2-5. Pure and bounds-checked.
// Malformed lengths/versions throw ParseError; must-be-zero violations and similar are collected in
// `structureIssues` so the verifier can report them as a failed `structure` check with the field named.
import { ParseError } from '../../base/errors.js';
import type { Product } from '../../result/result.js';
import { isAllZero, reversed, view } from '../../base/bytes.js';
import { decodeTcb, tcbReservedNonZero, type TcbVersion } from './tcb.js';

export const SNP_REPORT_SIZE = 1184;
/** The signed part of the report: bytes 0x000..0x29F. */
export const SNP_SIGNED_SIZE = 0x2a0;
export const SUPPORTED_REPORT_VERSIONS: readonly number[] = [2, 3, 4, 5];

export interface GuestPolicy {
  readonly raw: bigint;
  readonly abiMinor: number;
  readonly abiMajor: number;
  readonly smt: boolean;
  readonly migrateMa: boolean;
  readonly debug: boolean;
  readonly singleSocket: boolean;
  readonly cxlAllow: boolean;
  readonly memAes256Xts: boolean;
  readonly raplDis: boolean;
  readonly ciphertextHiding: boolean;
  readonly pageSwapDisable: boolean;
}

export interface PlatformInfo {
  readonly raw: bigint;
  readonly smtEnabled: boolean;
  readonly tsmeEnabled: boolean;
  readonly eccEnabled: boolean;
  readonly raplDisabled: boolean;
  readonly ciphertextHidingEnabled: boolean;
  readonly aliasCheckComplete: boolean;
}

export type SigningKey = 'vcek' | 'vlek' | 'none';

export interface FirmwareVersion {
  readonly major: number;
  readonly minor: number;
  readonly build: number;
}

export interface SnpReport {
  /** The 1184 bytes as received (the signature covers bytes 0..0x29F of exactly these). */
  readonly bytes: Uint8Array;
  readonly version: number;
  readonly guestSvn: number;
  readonly policy: GuestPolicy;
  readonly familyId: Uint8Array;
  readonly imageId: Uint8Array;
  readonly vmpl: number;
  readonly signatureAlgo: number;
  readonly currentTcb: TcbVersion;
  readonly platformInfo: PlatformInfo;
  readonly authorKeyEn: boolean;
  readonly maskChipKey: boolean;
  /** SIGNING_KEY field; `undefined` for a reserved value (also listed in structureIssues). */
  readonly signingKey: SigningKey | undefined;
  readonly reportData: Uint8Array;
  readonly measurement: Uint8Array;
  readonly hostData: Uint8Array;
  readonly idKeyDigest: Uint8Array;
  readonly authorKeyDigest: Uint8Array;
  readonly reportId: Uint8Array;
  readonly reportIdMa: Uint8Array;
  readonly reportedTcb: TcbVersion;
  /** v3+: CPUID family/model/stepping. */
  readonly cpuid?: { readonly family: number; readonly model: number; readonly stepping: number };
  /** From CPUID (v3+) when recognised; otherwise undefined (take it from the VCEK issuer). */
  readonly product: Product | undefined;
  /** 64 bytes as in the report (Turin: only the first 8 are meaningful). */
  readonly chipId: Uint8Array;
  readonly committedTcb: TcbVersion;
  readonly currentVersion: FirmwareVersion;
  readonly committedVersion: FirmwareVersion;
  readonly launchTcb: TcbVersion;
  /** v5 only. */
  readonly launchMitVector?: bigint;
  readonly currentMitVector?: bigint;
  /** R and S, 48 bytes each, big-endian (converted from the report's little-endian). */
  readonly signature: { readonly r: Uint8Array; readonly s: Uint8Array };
  /** Violations of must-be-zero/must-be-one rules and reserved values; empty for a well-formed report. */
  readonly structureIssues: readonly string[];
}

/** Product from the CPUID family/model (AMD family 19h: Milan, Genoa; 1Ah: Turin). */
export function productFromCpuid(family: number, model: number): Product | undefined {
  if (family === 0x19 && model <= 0x0f) return 'Milan';
  if (family === 0x19 && ((model >= 0x10 && model <= 0x1f) || (model >= 0xa0 && model <= 0xaf))) return 'Genoa';
  if (family === 0x1a && model <= 0x11) return 'Turin';
  return undefined;
}

function decodePolicy(raw: bigint): GuestPolicy {
  const bit = (n: number): boolean => ((raw >> BigInt(n)) & 1n) === 1n;
  return {
    raw,
    abiMinor: Number(raw & 0xffn),
    abiMajor: Number((raw >> 8n) & 0xffn),
    smt: bit(16),
    migrateMa: bit(18),
    debug: bit(19),
    singleSocket: bit(20),
    cxlAllow: bit(21),
    memAes256Xts: bit(22),
    raplDis: bit(23),
    ciphertextHiding: bit(24),
    pageSwapDisable: bit(25),
  };
}

function decodePlatformInfo(raw: bigint): PlatformInfo {
  const bit = (n: number): boolean => ((raw >> BigInt(n)) & 1n) === 1n;
  return {
    raw,
    smtEnabled: bit(0),
    tsmeEnabled: bit(1),
    eccEnabled: bit(2),
    raplDisabled: bit(3),
    ciphertextHidingEnabled: bit(4),
    aliasCheckComplete: bit(5),
  };
}

/** Parses exactly one 1184-byte report. Throws ParseError on a wrong size or an unsupported version. */
export function parseSnpReport(input: Uint8Array): SnpReport {
  if (!(input instanceof Uint8Array)) throw new ParseError('E_SNP_REPORT', 'SNP report must be bytes');
  if (input.length !== SNP_REPORT_SIZE) {
    throw new ParseError('E_SNP_REPORT_SIZE', `SNP report must be ${SNP_REPORT_SIZE} bytes, got ${input.length}`);
  }
  const b = input.slice();
  const dv = view(b);
  const u32 = (o: number): number => dv.getUint32(o, true);
  const u64 = (o: number): bigint => dv.getBigUint64(o, true);
  // Fields are views of our private copy `b`, never of the caller's buffer.
  const bytes = (o: number, n: number): Uint8Array => b.subarray(o, o + n);

  const version = u32(0x000);
  if (!SUPPORTED_REPORT_VERSIONS.includes(version)) {
    throw new ParseError('E_SNP_REPORT_VERSION', `unsupported SNP report version ${version} (supported: ${SUPPORTED_REPORT_VERSIONS.join(', ')})`);
  }
  const issues: string[] = [];
  const mbz = (start: number, end: number, name: string): void => {
    if (!isAllZero(b, start, end)) issues.push(`${name} (0x${start.toString(16)}..0x${(end - 1).toString(16)}) must be zero`);
  };

  const policyRaw = u64(0x008);
  if (((policyRaw >> 17n) & 1n) !== 1n) issues.push('POLICY bit 17 (reserved) must be one');
  if (policyRaw >> 26n !== 0n) issues.push('POLICY bits 26-63 (reserved) must be zero');

  const signatureAlgo = u32(0x034);
  if (signatureAlgo !== 1) issues.push(`SIGNATURE_ALGO is ${signatureAlgo}, expected 1 (ECDSA P-384 with SHA-384)`);

  const keyInfo = u32(0x048);
  const signingKeyField = (keyInfo >>> 2) & 0x7;
  const signingKey: SigningKey | undefined = signingKeyField === 0 ? 'vcek' : signingKeyField === 1 ? 'vlek' : signingKeyField === 7 ? 'none' : undefined;
  if (signingKey === undefined) issues.push(`SIGNING_KEY ${signingKeyField} is a reserved value`);
  if (keyInfo >>> 5 !== 0) issues.push('key information bits 5-31 (reserved) must be zero');
  mbz(0x04c, 0x050, 'reserved');

  let cpuid: SnpReport['cpuid'];
  let product: Product | undefined;
  if (version >= 3) {
    cpuid = { family: b[0x188]!, model: b[0x189]!, stepping: b[0x18a]! };
    product = productFromCpuid(cpuid.family, cpuid.model);
    mbz(0x18b, 0x1a0, 'reserved');
  } else {
    mbz(0x188, 0x1a0, 'reserved');
  }
  mbz(0x1eb, 0x1ec, 'reserved');
  mbz(0x1ef, 0x1f0, 'reserved');
  let launchMitVector: bigint | undefined;
  let currentMitVector: bigint | undefined;
  if (version >= 5) {
    launchMitVector = u64(0x1f8);
    currentMitVector = u64(0x200);
    mbz(0x208, 0x2a0, 'reserved');
  } else {
    mbz(0x1f8, 0x2a0, 'reserved');
  }
  // Signature: R and S are 72-byte little-endian fields of which P-384 uses the low 48 bytes.
  mbz(0x2a0 + 48, 0x2a0 + 72, 'SIGNATURE.R high bytes');
  mbz(0x2e8 + 48, 0x2e8 + 72, 'SIGNATURE.S high bytes');
  mbz(0x330, SNP_REPORT_SIZE, 'SIGNATURE reserved');

  const tcb = (o: number): TcbVersion => {
    const raw = u64(o);
    return decodeTcb(raw, product);
  };
  const reportedTcb = tcb(0x180);
  for (const [o, name] of [
    [0x038, 'CURRENT_TCB'],
    [0x180, 'REPORTED_TCB'],
    [0x1e0, 'COMMITTED_TCB'],
    [0x1f0, 'LAUNCH_TCB'],
  ] as const) {
    if (tcbReservedNonZero(u64(o), product)) issues.push(`${name} reserved bytes must be zero`);
  }

  return {
    bytes: b,
    version,
    guestSvn: u32(0x004),
    policy: decodePolicy(policyRaw),
    familyId: bytes(0x010, 16),
    imageId: bytes(0x020, 16),
    vmpl: u32(0x030),
    signatureAlgo,
    currentTcb: tcb(0x038),
    platformInfo: decodePlatformInfo(u64(0x040)),
    authorKeyEn: (keyInfo & 1) === 1,
    maskChipKey: (keyInfo & 2) === 2,
    signingKey,
    reportData: bytes(0x050, 64),
    measurement: bytes(0x090, 48),
    hostData: bytes(0x0c0, 32),
    idKeyDigest: bytes(0x0e0, 48),
    authorKeyDigest: bytes(0x110, 48),
    reportId: bytes(0x140, 32),
    reportIdMa: bytes(0x160, 32),
    reportedTcb,
    ...(cpuid ? { cpuid } : {}),
    product,
    chipId: bytes(0x1a0, 64),
    committedTcb: tcb(0x1e0),
    currentVersion: { build: b[0x1e8]!, minor: b[0x1e9]!, major: b[0x1ea]! },
    committedVersion: { build: b[0x1ec]!, minor: b[0x1ed]!, major: b[0x1ee]! },
    launchTcb: tcb(0x1f0),
    ...(launchMitVector !== undefined ? { launchMitVector, currentMitVector: currentMitVector! } : {}),
    signature: { r: reversed(bytes(0x2a0, 48)), s: reversed(bytes(0x2e8, 48)) },
    structureIssues: issues,
  };
}

/** Re-decodes the report's TCBs for a product learnt elsewhere (v2 reports: from the VCEK issuer). */
export function withProduct(r: SnpReport, product: Product): SnpReport {
  if (r.product === product) return r;
  return {
    ...r,
    currentTcb: decodeTcb(r.currentTcb.raw, product),
    reportedTcb: decodeTcb(r.reportedTcb.raw, product),
    committedTcb: decodeTcb(r.committedTcb.raw, product),
    launchTcb: decodeTcb(r.launchTcb.raw, product),
  };
}
