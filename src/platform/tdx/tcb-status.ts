// The TCB status of a TD by Intel's matching rules (TCB info v3, QE identity v2, as Intel's reference
// QVL applies them): the first TCB level, in the order Intel lists them (highest first), whose SGX
// components and PCESVN the PCK certificate meets and whose TDX components TEE_TCB_SVN meets; then
// the TDX module's own level (TEE_TCB_SVN major version -> tdxModuleIdentities); then the QE's level.
// Module and QE statuses can only lower the platform status. Pure.
import type { EnclaveReport } from './enclave-report.js';
import type { PckExtensions } from './pck-extensions.js';
import type { QeIdentity, QeTcbLevel } from './qe-identity.js';
import type { TcbStatus } from './signed-json.js';
import type { TcbInfo, TdxModuleTcbLevel, TdxTcbLevel } from './tcb-info.js';
import type { TdQuoteBody } from './quote.js';

export interface TdxTcbMatch {
  readonly level?: TdxTcbLevel;
  readonly moduleId?: string;
  readonly moduleLevel?: TdxModuleTcbLevel;
  /** Set when no status can be given (the TCB is unsupported or the module unknown). */
  readonly problem?: string;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function masked(a: Uint8Array, mask: Uint8Array): string {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! & (mask[i] ?? 0);
  return hex(out);
}

export function matchTdxTcb(info: TcbInfo, pck: PckExtensions, body: TdQuoteBody): TdxTcbMatch {
  const svn = body.teeTcbSvn;
  const major = svn[1]!;
  // With a TDX module identity (major version > 0), components 0 and 1 are the module's own SVNs,
  // judged by the module identity instead of the TCB level.
  const start = major > 0 ? 2 : 0;
  let level: TdxTcbLevel | undefined;
  for (const l of info.tcbLevels) {
    if (!l.sgxComponents.every((v, i) => pck.tcbComponents[i]! >= v) || pck.pceSvn < l.pceSvn) continue;
    let tdxOk = true;
    for (let i = start; i < 16; i++) if (svn[i]! < l.tdxComponents[i]!) tdxOk = false;
    if (tdxOk) {
      level = l;
      break;
    }
  }
  if (!level)
    return {
      problem: `no TCB level of FMSPC ${info.fmspc} is met by the PCK TCB (${pck.tcbComponents.join('.')}, PCESVN ${pck.pceSvn}) and TEE_TCB_SVN ${hex(svn)}: TCB not supported`,
    };
  if (major === 0) {
    const m = info.tdxModule;
    if (hex(body.mrSignerSeam) !== hex(m.mrsigner))
      return { level, problem: `MRSIGNERSEAM ${hex(body.mrSignerSeam)} is not the TDX module signer of the TCB info` };
    if (masked(body.seamAttributes, m.attributesMask) !== masked(m.attributes, m.attributesMask))
      return { level, problem: 'SEAMATTRIBUTES do not match the TCB info (under its mask)' };
    return { level };
  }
  const moduleId = `TDX_${major.toString(16).toUpperCase().padStart(2, '0')}`;
  const id = info.tdxModuleIdentities.find((x) => x.id === moduleId);
  if (!id) return { level, moduleId, problem: `the TCB info has no TDX module identity ${moduleId}` };
  if (hex(body.mrSignerSeam) !== hex(id.mrsigner))
    return { level, moduleId, problem: `MRSIGNERSEAM ${hex(body.mrSignerSeam)} is not the signer of ${moduleId}` };
  if (masked(body.seamAttributes, id.attributesMask) !== masked(id.attributes, id.attributesMask))
    return { level, moduleId, problem: `SEAMATTRIBUTES do not match ${moduleId} (under its mask)` };
  const moduleLevel = id.tcbLevels.find((l) => svn[0]! >= l.isvsvn);
  if (!moduleLevel) return { level, moduleId, problem: `TDX module SVN ${svn[0]} is below every level of ${moduleId}` };
  return { level, moduleId, moduleLevel };
}

export interface QeMatch {
  readonly level?: QeTcbLevel;
  readonly problem?: string;
}

export function matchQeIdentity(qe: QeIdentity, r: EnclaveReport): QeMatch {
  if (hex(r.mrSigner) !== hex(qe.mrsigner)) return { problem: `QE MRSIGNER ${hex(r.mrSigner)} is not Intel's TD QE signer ${hex(qe.mrsigner)}` };
  if (r.isvProdId !== qe.isvProdId) return { problem: `QE ISVPRODID ${r.isvProdId} is not ${qe.isvProdId}` };
  if ((r.miscSelect & qe.miscselectMask) >>> 0 !== (qe.miscselect & qe.miscselectMask) >>> 0)
    return { problem: 'QE MISCSELECT does not match the QE identity (under its mask)' };
  if (masked(r.attributes, qe.attributesMask) !== masked(qe.attributes, qe.attributesMask))
    return { problem: 'QE ATTRIBUTES do not match the QE identity (under its mask)' };
  const level = qe.tcbLevels.find((l) => r.isvSvn >= l.isvsvn);
  if (!level) return { problem: `QE ISVSVN ${r.isvSvn} is below every level of the QE identity` };
  return { level };
}

/** A module or QE status applied to the platform status (Intel's convergence rules). */
export function converge(platform: TcbStatus, other: TcbStatus): TcbStatus {
  if (other === 'Revoked' || platform === 'Revoked') return 'Revoked';
  if (other === 'OutOfDate' || other === 'OutOfDateConfigurationNeeded') {
    if (platform === 'UpToDate' || platform === 'SWHardeningNeeded') return 'OutOfDate';
    if (platform === 'ConfigurationNeeded' || platform === 'ConfigurationAndSWHardeningNeeded') return 'OutOfDateConfigurationNeeded';
  }
  return platform;
}
