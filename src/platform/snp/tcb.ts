// TCB_VERSION: a u64 whose bytes are per-component security patch levels. The byte layout differs
// between Milan/Genoa and Turin (which adds the FMC and moves the others), so decoding needs the product.
import type { Product, TcbComponents } from '../../result/result.js';

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

// Split once into two 32-bit halves: cheaper than a BigInt shift per byte.
function bytesOf(raw: bigint): number[] {
  const lo = Number(raw & 0xffffffffn);
  const hi = Number(raw >> 32n);
  return [lo & 0xff, (lo >>> 8) & 0xff, (lo >>> 16) & 0xff, lo >>> 24, hi & 0xff, (hi >>> 8) & 0xff, (hi >>> 16) & 0xff, hi >>> 24];
}

/** Decodes a TCB_VERSION; `product` undefined means the Milan/Genoa layout (v2 reports carry no CPUID; Turin never emits v2). */
export function decodeTcb(raw: bigint, product: Product | undefined): TcbVersion {
  const b = bytesOf(raw);
  if (product === 'Turin') return { raw, fmc: b[0]!, bootloader: b[1]!, tee: b[2]!, snp: b[3]!, microcode: b[7]! };
  return { raw, bootloader: b[0]!, tee: b[1]!, snp: b[6]!, microcode: b[7]! };
}

/** Bytes that are reserved in the product's layout (must be zero in a well-formed TCB_VERSION). */
export function tcbReservedNonZero(raw: bigint, product: Product | undefined): boolean {
  const reserved = product === 'Turin' ? [4, 5, 6] : [2, 3, 4, 5];
  const b = bytesOf(raw);
  return reserved.some((i) => b[i] !== 0);
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
