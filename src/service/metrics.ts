// Prometheus text exposition (format 0.0.4) for the few series the service keeps: verifications by
// verdict and platform, a latency histogram of POST /v1/attest, and nonce counters. Hand-written: a
// dozen lines beat a client library for three metric types.
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const label = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export class Metrics {
  readonly #verifications = new Map<string, number>();
  readonly #nonces = new Map<string, number>();
  readonly #buckets = new Array<number>(BUCKETS.length).fill(0);
  #sum = 0;
  #count = 0;

  verification(verdict: string, platform: string): void {
    const k = `verdict="${label(verdict)}",platform="${label(platform)}"`;
    this.#verifications.set(k, (this.#verifications.get(k) ?? 0) + 1);
  }
  /** result: issued | accepted | malformed | unknown | expired | used */
  nonce(result: string): void {
    this.#nonces.set(result, (this.#nonces.get(result) ?? 0) + 1);
  }
  latency(seconds: number): void {
    this.#sum += seconds;
    this.#count++;
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) this.#buckets[i]!++;
  }

  render(extra: Readonly<Record<string, number>> = {}): string {
    const out: string[] = [];
    out.push('# HELP cvm_attest_verifications_total Verifications by verdict and platform.', '# TYPE cvm_attest_verifications_total counter');
    for (const [k, v] of this.#verifications) out.push(`cvm_attest_verifications_total{${k}} ${v}`);
    out.push(
      '# HELP cvm_attest_attest_duration_seconds Time to answer POST /v1/attest (verification and signing included).',
      '# TYPE cvm_attest_attest_duration_seconds histogram',
    );
    BUCKETS.forEach((b, i) => out.push(`cvm_attest_attest_duration_seconds_bucket{le="${b}"} ${this.#buckets[i]}`));
    out.push(
      `cvm_attest_attest_duration_seconds_bucket{le="+Inf"} ${this.#count}`,
      `cvm_attest_attest_duration_seconds_sum ${this.#sum}`,
      `cvm_attest_attest_duration_seconds_count ${this.#count}`,
    );
    out.push('# HELP cvm_attest_nonces_total Challenge nonces issued and the outcome of each presented.', '# TYPE cvm_attest_nonces_total counter');
    for (const [k, v] of this.#nonces) out.push(`cvm_attest_nonces_total{result="${label(k)}"} ${v}`);
    for (const [k, v] of Object.entries(extra)) out.push(`# TYPE ${k} gauge`, `${k} ${v}`);
    return out.join('\n') + '\n';
  }
}
