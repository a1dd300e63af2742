/**
 * Latencies in milliseconds with their fractions kept: a redirect on loopback takes well under a
 * millisecond, so whole-millisecond histograms (autocannon's, say) would read 0 or 1.
 */
export class LatencyRecorder {
  #values = new Float64Array(4096);
  #count = 0;
  #sum = 0;
  #sorted = true;

  record(milliseconds: number): void {
    if (this.#count === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#count++] = milliseconds;
    this.#sum += milliseconds;
    this.#sorted = false;
  }

  get count(): number {
    return this.#count;
  }

  get mean(): number {
    return this.#count === 0 ? Number.NaN : this.#sum / this.#count;
  }

  /** Nearest-rank percentile, `p` in 0–100. */
  percentile(p: number): number {
    if (this.#count === 0) return Number.NaN;
    const values = this.#values.subarray(0, this.#count);
    if (!this.#sorted) {
      values.sort();
      this.#sorted = true;
    }
    const rank = Math.min(this.#count, Math.max(1, Math.ceil((p / 100) * this.#count)));
    return values[rank - 1] ?? Number.NaN;
  }

  summary(): LatencySummary {
    return {
      count: this.#count,
      mean: this.mean,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      max: this.percentile(100),
    };
  }
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** What one run of a load generator (wrk, k6) reports: requests, rate, latency and every status. */
export interface LoadResult {
  requests: number;
  durationSeconds: number;
  rps: number;
  latency: LatencySummary;
  statuses: Record<string, number>;
  /** Requests that got no answer at all (connection error or timeout). */
  errors: number;
}

/** The middle value (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
}

/** Counts by status (or any key) from several runs, added up. */
export function addCounts(counts: Iterable<Readonly<Record<string, number>>>): Record<string, number> {
  const total: Record<string, number> = {};
  for (const each of counts) for (const [key, count] of Object.entries(each)) total[key] = (total[key] ?? 0) + count;
  return total;
}
