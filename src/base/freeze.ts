// Deep freezing for results shared between callers (memoised parses and outcomes): once frozen, no
// consumer can change what the next one gets. Byte arrays are left as they are: a typed array with
// elements cannot be frozen, and the parsers hand out private copies of those.

/** Freezes `v` and every object inside it (not typed arrays); returns `v`. */
export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !ArrayBuffer.isView(v) && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as object)) deepFreeze(x);
  }
  return v;
}
