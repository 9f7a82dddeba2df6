// The check groups, once: the order they run in is the order every view lists them (extension
// substatus, HTML report). Pure.

/** Check groups, in the order they run; one extension substatus per group. */
export const CHECK_GROUPS = [
  'structure',
  'signature',
  'chain',
  'tcb',
  'chip-id',
  'crl',
  /** Intel TDX only: TCB info and QE identity signatures and freshness. */
  'collateral',
  'runtime-data',
  'freshness',
  'ak-certificate',
  'event-log',
  'policy',
] as const;

export type CheckGroup = (typeof CHECK_GROUPS)[number];

/** Failures in these groups mean the evidence is not genuine: its claims cannot be trusted (e.g. as an alert baseline). */
export const AUTHENTICITY_GROUPS: ReadonlySet<CheckGroup> = new Set<CheckGroup>(['structure', 'signature', 'chain', 'tcb', 'chip-id']);

/** Position of a group in CHECK_GROUPS (an unknown one sorts last). */
export function checkGroupIndex(g: string): number {
  const i = (CHECK_GROUPS as readonly string[]).indexOf(g);
  return i === -1 ? CHECK_GROUPS.length : i;
}
