// Results remembered per input object, for inputs that never change once made: parsed certificates and
// runtime data (private parses, frozen or never written to). A WeakMap, so an entry goes with its key.

/** `f`, computed once per argument object and then remembered; `f` must not return undefined. */
export function perObject<K extends object, V>(f: (k: K) => V): (k: K) => V {
  const memo = new WeakMap<K, V>();
  return (k) => {
    let v = memo.get(k);
    if (v === undefined) {
      v = f(k);
      memo.set(k, v);
    }
    return v;
  };
}
