// REDIRECTS: throughput and latency of the hot path, GET /<name> → 303.
//
// Constant arrival rate, so latency is measured at a stated load rather than at whatever rate a
// fixed number of VUs happens to reach. Every short name goes into one metric series
// (tags.name = 'GET /:name'), not one series per name.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e RATE=2000 -e DURATION=30 k6/redirects.ts
import { check } from 'k6';
import http from 'k6/http';
import type { Options } from 'k6/options';
import { arrivalRateVUs, BASE_URL, droppedArrivalsThreshold, numberFromEnv, RESULTS_DIR, requireReady, shortNames } from './lib/config.ts';
import { counterValue, fmt, metricValue, type SummaryData, TREND_STATS, writeSummary } from './lib/summary.ts';

const RATE = numberFromEnv('RATE', 1000);
const DURATION_SECONDS = numberFromEnv('DURATION', 30);
const P99_MS = numberFromEnv('P99_MS', 10);

export const options: Options = {
  scenarios: {
    redirects: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: `${DURATION_SECONDS}s`,
      ...arrivalRateVUs(RATE, P99_MS / 1000),
    },
  },
  summaryTrendStats: TREND_STATS,
  thresholds: {
    // The goal: every redirect answered, 99% of them within P99_MS (10 ms by default).
    'http_req_failed{name:GET /:name}': ['rate<0.001'],
    'http_req_duration{name:GET /:name}': [`p(99)<${P99_MS}`],
    'http_reqs{name:GET /:name}': ['count>0'],
    // The rate was held: fewer than 1% of the arrivals found no VU.
    dropped_iterations: [droppedArrivalsThreshold(RATE, DURATION_SECONDS)],
    checks: ['rate>0.999'],
  },
};

export function setup(): { names: string[] } {
  requireReady();
  return { names: shortNames(100) };
}

export default function redirect(data: { names: string[] }): void {
  const name = data.names[Math.floor(Math.random() * data.names.length)] ?? '';
  // redirects: 0: the 303 is the answer; following it would time the target site instead.
  const response = http.get(`${BASE_URL}/${name}`, { redirects: 0, tags: { name: 'GET /:name' } });
  check(response, { '303 with a Location': (r) => r.status === 303 && r.headers.Location !== undefined });
}

export function handleSummary(data: SummaryData): Record<string, string> {
  const series = 'http_req_duration{name:GET /:name}';
  const result = {
    rate: RATE,
    durationSeconds: DURATION_SECONDS,
    requests: metricValue(data, 'http_reqs{name:GET /:name}', 'count'),
    // Over the arrival window: k6's own rate divides by the whole run, setup included.
    rps: metricValue(data, 'http_reqs{name:GET /:name}', 'count') / DURATION_SECONDS,
    dropped: counterValue(data, 'dropped_iterations'),
    latencyMs: {
      avg: metricValue(data, series, 'avg'),
      p50: metricValue(data, series, 'med'),
      p90: metricValue(data, series, 'p(90)'),
      p99: metricValue(data, series, 'p(99)'),
    },
    failedRate: metricValue(data, 'http_req_failed{name:GET /:name}', 'rate'),
  };
  const lines = [
    `${fmt(result.requests)} redirects at ${fmt(result.rps)} req/s (asked for ${RATE}/s)`,
    `latency: avg ${fmt(result.latencyMs.avg)} ms, p50 ${fmt(result.latencyMs.p50)} ms, p90 ${fmt(result.latencyMs.p90)} ms, p99 ${fmt(result.latencyMs.p99)} ms (target p99 < ${P99_MS} ms)`,
    `failed: ${fmt(result.failedRate * 100)}%; arrivals dropped for want of a VU: ${fmt(result.dropped)}`,
  ];
  return writeSummary(data, { scenario: 'redirects', lines, result }, RESULTS_DIR);
}
