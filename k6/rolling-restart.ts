// ROLLING RESTART: steady traffic while every app process is replaced, one at a time. The goal is
// zero failed requests: nginx takes a process out of rotation before it drains, and retries an
// idempotent request on another process if one fails anyway.
//
// k6 cannot start the restart itself: run this, and during it, in another terminal,
//   npm run rolling-restart               (native stack)
//   npm run compose:rolling-restart       (compose)
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e RATE=200 -e DURATION=60 k6/rolling-restart.ts
import { check } from 'k6';
import http from 'k6/http';
import type { Options } from 'k6/options';
import { arrivalRateVUs, BASE_URL, numberFromEnv, RESULTS_DIR, requireReady, shortNames } from './lib/config.ts';
import { counterValue, fmt, metricValue, type SummaryData, TREND_STATS, writeSummary } from './lib/summary.ts';

const RATE = numberFromEnv('RATE', 200);
const DURATION_SECONDS = numberFromEnv('DURATION', 60);

export const options: Options = {
  scenarios: {
    steady: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: `${DURATION_SECONDS}s`,
      // Sized for requests as slow as the p99 goal below: a restart may hold some that long.
      ...arrivalRateVUs(RATE, 1),
    },
  },
  summaryTrendStats: TREND_STATS,
  thresholds: {
    // The goal, stated as it is: not one failed request while processes come and go.
    http_req_failed: ['rate==0'],
    checks: ['rate==1'],
    'http_req_duration{scenario:steady}': ['p(99)<1000'],
  },
};

export function setup(): { names: string[] } {
  requireReady();
  return { names: shortNames(50) };
}

export default function steadyTraffic(data: { names: string[] }): void {
  // Both kinds of proxied answer: the hot path and the page (which reads the store).
  const name = data.names[Math.floor(Math.random() * data.names.length)] ?? '';
  const redirect = http.get(`${BASE_URL}/${name}`, { redirects: 0, tags: { name: 'GET /:name' } });
  check(redirect, { 'short link 303': (r) => r.status === 303 });
  if (Math.random() < 0.2) {
    const page = http.get(`${BASE_URL}/`, { responseType: 'none' });
    check(page, { 'page 200': (r) => r.status === 200 });
  }
}

export function handleSummary(data: SummaryData): Record<string, string> {
  const result = {
    rate: RATE,
    durationSeconds: DURATION_SECONDS,
    requests: metricValue(data, 'http_reqs', 'count'),
    failedRate: metricValue(data, 'http_req_failed', 'rate'),
    p99Ms: metricValue(data, 'http_req_duration{scenario:steady}', 'p(99)'),
    dropped: counterValue(data, 'dropped_iterations'),
  };
  const lines = [
    `${fmt(result.requests)} requests at ${RATE}/s for ${DURATION_SECONDS} s; failed ${fmt(result.failedRate * 100)}% (goal: 0)`,
    `p99 ${fmt(result.p99Ms)} ms; arrivals dropped for want of a VU (not requests, so not failures): ${fmt(result.dropped)}`,
  ];
  return writeSummary(data, { scenario: 'rolling-restart', lines, result }, RESULTS_DIR);
}
