// Timing helpers shared by the benches (a helper, not a bench: bench.mjs skips `_` files).

/** Median wall time in ms of `fn` over `runs` calls, after `warmup` calls. */
export function median(fn, { warmup = 200, runs = 2000 } = {}) {
  for (let i = 0; i < warmup; i++) fn();
  const t = new Float64Array(runs);
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    t[i] = Number(process.hrtime.bigint() - t0) / 1e6;
  }
  t.sort();
  return t[runs >> 1];
}

/** The same for an async `fn`, awaited one call at a time. */
export async function medianAsync(fn, { warmup = 200, runs = 2000 } = {}) {
  for (let i = 0; i < warmup; i++) await fn();
  const t = new Float64Array(runs);
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    t[i] = Number(process.hrtime.bigint() - t0) / 1e6;
  }
  t.sort();
  return t[runs >> 1];
}

export const ms = (x) => `${x.toFixed(3)} ms`;

/**
 * Medians of two functions measured in alternation, one call of each per round, so that both see the
 * same machine (a noisy neighbour or a clock change slows both): for figures that are a ratio of the two.
 */
export function pairedMedians(fa, fb, { warmup = 200, runs = 2000 } = {}) {
  for (let i = 0; i < warmup; i++) {
    fa();
    fb();
  }
  const a = new Float64Array(runs);
  const b = new Float64Array(runs);
  for (let i = 0; i < runs; i++) {
    let t0 = process.hrtime.bigint();
    fa();
    a[i] = Number(process.hrtime.bigint() - t0) / 1e6;
    t0 = process.hrtime.bigint();
    fb();
    b[i] = Number(process.hrtime.bigint() - t0) / 1e6;
  }
  a.sort();
  b.sort();
  return [a[runs >> 1], b[runs >> 1]];
}

/** pairedMedians for an async `fb` (awaited), against a sync or async `fa`. */
export async function pairedMediansAsync(fa, fb, { warmup = 200, runs = 2000 } = {}) {
  for (let i = 0; i < warmup; i++) {
    await fa();
    await fb();
  }
  const a = new Float64Array(runs);
  const b = new Float64Array(runs);
  for (let i = 0; i < runs; i++) {
    let t0 = process.hrtime.bigint();
    await fa();
    a[i] = Number(process.hrtime.bigint() - t0) / 1e6;
    t0 = process.hrtime.bigint();
    await fb();
    b[i] = Number(process.hrtime.bigint() - t0) / 1e6;
  }
  a.sort();
  b.sort();
  return [a[runs >> 1], b[runs >> 1]];
}
