// Pulls the TCB of each component out of the claims and lines it up against the policy's minimum, for
// reports. Pure; tolerant of claims from other versions (anything that is not a number is ignored).
import type { Claims, TcbComponents } from '../result/result.js';
import { compareText } from '../base/text-order.js';

/** One TCB_VERSION of the report (reported, committed, launch, current). */
export interface TcbColumn {
  /** `reported`, `committed`, `launch`, `current`, or another name the claims use. */
  readonly name: string;
  readonly values: TcbComponents;
}

export interface TcbTable {
  /** Components in display order (fmc first when present, then the SNP report's order). */
  readonly components: readonly string[];
  readonly columns: readonly TcbColumn[];
  readonly minimum: TcbComponents | undefined;
  /** `below[column][component]` is true when that value is below the policy's minimum. */
  readonly below: Readonly<Record<string, Readonly<Record<string, boolean>>>>;
}

const COLUMN_ORDER = ['reported', 'committed', 'launch', 'current'];
const COMPONENT_ORDER = ['fmc', 'bootloader', 'tee', 'snp', 'microcode'];

function numbersOf(v: unknown): TcbComponents | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x === 'number' && Number.isFinite(x)) out[k] = x;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function rank(order: readonly string[], name: string): number {
  const i = order.indexOf(name);
  return i === -1 ? order.length : i;
}

/**
 * Finds the TCB claims: `cvm-attest-<name>-tcb` objects of component -> number, or one
 * `cvm-attest-tcb` object of `<name>` -> components.
 */
export function tcbColumns(claims: Claims): TcbColumn[] {
  const found = new Map<string, TcbComponents>();
  for (const [key, value] of Object.entries(claims)) {
    const m = /^cvm-attest-([a-z0-9]+)-tcb$/.exec(key);
    const name = m?.[1];
    const values = name !== undefined ? numbersOf(value) : undefined;
    if (name !== undefined && values) found.set(name, values);
  }
  const nested = claims['cvm-attest-tcb'];
  if (nested !== null && typeof nested === 'object' && !Array.isArray(nested)) {
    for (const [name, value] of Object.entries(nested as Record<string, unknown>)) {
      const values = numbersOf(value);
      if (values && !found.has(name)) found.set(name, values);
    }
  }
  return [...found.entries()]
    .sort(([a], [b]) => rank(COLUMN_ORDER, a) - rank(COLUMN_ORDER, b) || compareText(a, b))
    .map(([name, values]) => ({ name, values }));
}

/** The TCB table of a result: every component of every TCB claim, and which are below the minimum. */
export function tcbTable(claims: Claims, minimum: TcbComponents | undefined): TcbTable {
  const columns = tcbColumns(claims);
  const names = new Set<string>();
  for (const c of columns) for (const k of Object.keys(c.values)) names.add(k);
  for (const k of Object.keys(minimum ?? {})) names.add(k);
  const components = [...names].sort((a, b) => rank(COMPONENT_ORDER, a) - rank(COMPONENT_ORDER, b) || compareText(a, b));
  const below: Record<string, Record<string, boolean>> = {};
  for (const c of columns) {
    const row: Record<string, boolean> = {};
    for (const k of components) {
      const v = c.values[k];
      const min = minimum?.[k];
      row[k] = v !== undefined && min !== undefined && v < min;
    }
    below[c.name] = row;
  }
  return { components, columns, minimum, below };
}
