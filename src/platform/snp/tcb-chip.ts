// Checks 4 and 5: the VCEK's SPL extensions equal the report's REPORTED_TCB (the product's layout, Turin
// with its FMC), and its hwID equals CHIP_ID (Turin: 8 bytes; skipped with a warn when CHIP_ID is masked).
import { bytesEqual, isAllZero, toHex } from '../../base/bytes.js';
import type { Certificate } from '../../x509/certificate.js';
import type { SnpReport } from './report.js';
import { tcbHex } from './tcb.js';
import type { CheckResult, Product } from '../../result/result.js';

type SplName = 'fmc' | 'bootloader' | 'tee' | 'snp' | 'microcode';
const SPLS: readonly (readonly [SplName, string])[] = [
  ['bootloader', 'blSPL'],
  ['tee', 'teeSPL'],
  ['snp', 'snpSPL'],
  ['microcode', 'ucodeSPL'],
];
const TURIN_SPLS: readonly (readonly [SplName, string])[] = [['fmc', 'fmcSPL'], ...SPLS];

export function checkTcb(report: SnpReport, leaf: Certificate | undefined, role: string, product: Product | undefined, thimTcbm?: string): CheckResult {
  const base = { id: 'tcb', group: 'tcb' } as const;
  if (!leaf) return { id: base.id, group: base.group, status: 'fail', reason: `no ${role} to compare REPORTED_TCB with` };
  const t = report.reportedTcb;
  const names = product === 'Turin' ? TURIN_SPLS : SPLS;
  const bad: string[] = [];
  for (const [k, ext] of names) {
    const want = t[k];
    const got = leaf.amd[k];
    if (got === undefined) bad.push(`${ext} missing`);
    else if (got !== want) bad.push(`${ext} ${got} != ${k} ${want}`);
  }
  const hex = tcbHex(t.raw);
  if (bad.length) return { id: base.id, group: base.group, status: 'fail', reason: `${role} TCB does not match REPORTED_TCB 0x${hex}: ${bad.join(', ')}` };
  const reason = `${role} SPLs equal REPORTED_TCB 0x${hex} (${product === 'Turin' ? `fmc ${t.fmc}, ` : ''}bootloader ${t.bootloader}, tee ${t.tee}, snp ${t.snp}, microcode ${t.microcode})`;
  if (thimTcbm !== undefined && thimTcbm !== hex) {
    return { id: base.id, group: base.group, status: 'warn', reason: `${reason}; but IMDS tcbm ${thimTcbm} differs from REPORTED_TCB` };
  }
  return { id: base.id, group: base.group, status: 'pass', reason };
}

export function checkChipId(report: SnpReport, leaf: Certificate | undefined, role: string, product: Product | undefined): CheckResult {
  const base = { id: 'chip-id', group: 'chip-id' } as const;
  if (role === 'VLEK') return { id: base.id, group: base.group, status: 'skip', reason: 'a VLEK is not bound to one chip (no hwID)' };
  const n = product === 'Turin' ? 8 : 64;
  const chip = report.chipId.subarray(0, n);
  if (isAllZero(report.chipId))
    return { id: base.id, group: base.group, status: 'warn', reason: 'CHIP_ID is masked (all zero): the VCEK cannot be tied to this chip' };
  if (!leaf) return { id: base.id, group: base.group, status: 'fail', reason: `no ${role} to compare CHIP_ID with` };
  const hw = leaf.amd.hwId;
  if (!hw) return { id: base.id, group: base.group, status: 'fail', reason: `the ${role} has no hwID extension` };
  if (hw.length !== n)
    return { id: base.id, group: base.group, status: 'fail', reason: `the ${role} hwID is ${hw.length} bytes, expected ${n} for ${product ?? 'this product'}` };
  if (!bytesEqual(hw, chip))
    return {
      id: base.id,
      group: base.group,
      status: 'fail',
      reason: `the ${role} hwID ${toHex(hw.subarray(0, 8))}... is another chip's (CHIP_ID ${toHex(chip.subarray(0, 8))}...)`,
    };
  return { id: base.id, group: base.group, status: 'pass', reason: `${role} hwID equals CHIP_ID ${toHex(chip.subarray(0, 8))}...` };
}
