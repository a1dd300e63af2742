import { LatencyRecorder, type LatencySummary } from '../analysis/latency.ts';
import type { K6Request } from '../k6.ts';

/**
 * What the harness reads out of k6's record of every request (`--out json`, see readRequests):
 * k6 stamps a request when its answer arrives and gives its duration, so each request is the
 * interval [end − duration, end] on the wall clock, the clock the observers' samples carry too.
 */

export function startOf(request: K6Request): number {
  return request.end - request.durationMs;
}

/** From the first request sent to the last one answered (epoch ms): the window λ is measured over. */
export function requestWindow(requests: readonly K6Request[]): { start: number; end: number; seconds: number } {
  if (requests.length === 0) throw new Error('k6 recorded no requests');
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const request of requests) {
    start = Math.min(start, startOf(request));
    end = Math.max(end, request.end);
  }
  return { start, end, seconds: (end - start) / 1000 };
}

/** How many of the ascending `values` are at or below `at`. */
function countAtOrBelow(values: Float64Array, at: number): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((values[middle] ?? 0) <= at) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * The client's requests in flight (sent and not yet answered) at each instant: what a counter
 * inside the load generator would have read had it been sampled then.
 */
export function inFlightAt(requests: readonly K6Request[], instants: readonly number[]): number[] {
  const starts = Float64Array.from(requests, startOf).sort();
  const ends = Float64Array.from(requests, (request) => request.end).sort();
  return instants.map((at) => countAtOrBelow(starts, at) - countAtOrBelow(ends, at));
}

/**
 * Per second from `origin` (epoch ms), by the second each answer arrived: requests answered, and
 * Little's L = λ·W for that second, which is the time in system of its requests summed over one second.
 */
export function perSecond(requests: readonly K6Request[], origin: number): Array<{ second: number; requests: number; littleL: number }> {
  const buckets: Array<{ second: number; requests: number; littleL: number }> = [];
  for (const request of requests) {
    const second = Math.max(0, Math.floor((request.end - origin) / 1000));
    for (let missing = buckets.length; missing <= second; missing++) buckets.push({ second: missing, requests: 0, littleL: 0 });
    const bucket = buckets[second];
    if (bucket === undefined) continue;
    bucket.requests++;
    bucket.littleL += request.durationMs / 1000;
  }
  return buckets;
}

export function latencyOf(requests: readonly K6Request[]): LatencySummary {
  const recorder = new LatencyRecorder();
  for (const request of requests) recorder.record(request.durationMs);
  return recorder.summary();
}

/** How many answers of each status; "0" counts requests that got none. */
export function statusCounts(requests: readonly K6Request[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const request of requests) counts[request.status] = (counts[request.status] ?? 0) + 1;
  return counts;
}
