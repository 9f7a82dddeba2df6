// Ordering of names (claim names, TCB components) by UTF-16 code unit: the same on every machine and
// locale, and without String.localeCompare, whose ICU collation data cost the long-lived worker ~6 MB
// of resident memory the first time any report sorted a list.

/** -1, 0 or 1 as `a` sorts before, with or after `b` by code unit (a plain, locale-free order). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
