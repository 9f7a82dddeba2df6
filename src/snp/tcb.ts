// TCB_VERSION: a u64 whose bytes are per-component security patch levels. The byte layout differs
// between Milan/Genoa and Turin (which adds the FMC and moves the others), so decoding needs the product.
import type { Product, TcbComponents } from '../verify/result.js';

export interface TcbVersion {
  /** The u64 as read (little-endian) from the report. */
  readonly raw: bigint;
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
  /** Turin only. */
  readonly fmc?: number;
}

const byteAt = (raw: bigint, i: number): number => Number((raw >> BigInt(8 * i)) & 0xffn);

/** Decodes a TCB_VERSION; `product` undefined means the Milan/Genoa layout (v2 reports carry no CPUID; Turin never emits v2). */
export function decodeTcb(raw: bigint, product: Product | undefined): TcbVersion {
  if (product === 'Turin') {
    return { raw, fmc: byteAt(raw, 0), bootloader: byteAt(raw, 1), tee: byteAt(raw, 2), snp: byteAt(raw, 3), microcode: byteAt(raw, 7) };
  }
  return { raw, bootloader: byteAt(raw, 0), tee: byteAt(raw, 1), snp: byteAt(raw, 6), microcode: byteAt(raw, 7) };
}

/** Bytes that are reserved in the product's layout (must be zero in a well-formed TCB_VERSION). */
export function tcbReservedNonZero(raw: bigint, product: Product | undefined): boolean {
  const reserved = product === 'Turin' ? [4, 5, 6] : [2, 3, 4, 5];
  return reserved.some((i) => byteAt(raw, i) !== 0);
}

/** The components as a plain record (fmc only when present), for claims and policy. */
export function tcbComponents(t: TcbVersion): TcbComponents {
  const c: Record<string, number> = { bootloader: t.bootloader, tee: t.tee, snp: t.snp, microcode: t.microcode };
  if (t.fmc !== undefined) c.fmc = t.fmc;
  return c;
}

/** The TCB as 16 hex digits, big-endian (the IMDS `tcbm` and KDS URL form). */
export function tcbHex(raw: bigint): string {
  return raw.toString(16).padStart(16, '0');
}
