// The documented floors of `npm run bench` (a helper, not a bench: bench.mjs skips `_` files).
// Each figure with a floor prints `[floor <= L: met]` or `[floor <= L: MISSED]`; at exit the script
// prints one summary line and exits 1 when any floor was missed, so a regression is never a quiet 0.
const results = [];

/** The verdict text for `value` against the floor `limit` (lower is better), recorded for the summary. */
export function floor(name, value, limit, unit = 'ms') {
  const met = value <= limit;
  results.push({ name, met });
  if (!met) process.exitCode = 1;
  return `[floor <= ${limit}${unit === 'x' ? 'x' : ` ${unit}`}: ${met ? 'met' : 'MISSED'}]`;
}

/** The same for a figure where higher is better (a throughput ratio): met when `value >= limit`. */
export function atLeast(name, value, limit, unit = '') {
  const met = value >= limit;
  results.push({ name, met });
  if (!met) process.exitCode = 1;
  return `[floor >= ${limit}${unit ? ` ${unit}` : ''}: ${met ? 'met' : 'MISSED'}]`;
}

process.on('exit', () => {
  if (results.length === 0) return;
  const missed = results.filter((r) => !r.met).map((r) => r.name);
  console.log(
    missed.length === 0
      ? `floors: all ${results.length} met`
      : `floors: ${missed.length} of ${results.length} MISSED (${missed.join('; ')}): exit 1. On a busy machine rerun this bench alone before calling it a regression.`,
  );
});
