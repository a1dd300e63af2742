// CREATIONS: bookmark creations arriving at a steady rate (an open model: one every 1/RATE s
// whatever the answers, as independent users would), each a new name whose URI check fetches URI
// (`{n}` becomes a number unique within the run). Sent to the app processes directly, round-robin
// (APP_URLS), so nginx's per-client burst limit is no factor. `npm run bench` runs it beside wrk,
// for the redirects' tail while CPU-heavy checks (HTTPS, gzip) arrive.
//
//   k6 run -e APP_URLS=http://127.0.0.1:PORT1,http://127.0.0.1:PORT2 -e URI='http://127.0.0.1:PORT1/healthz?{n}' -e RATE=100 -e DURATION=10 k6/creations.ts
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import type { Options } from 'k6/options';
import {
  APP_URLS,
  announceLoadStarts,
  arrivalRateVUs,
  droppedArrivalsThreshold,
  numberFromEnv,
  RESULTS_DIR,
  requireReady,
  stringFromEnv,
} from './lib/config.ts';
import { counterValue, fmt, metricValue, type SummaryData, TREND_STATS, writeSummary } from './lib/summary.ts';

const RATE = numberFromEnv('RATE', 100);
/** Seconds; fractions allowed (the bench matches a wrk run). */
const DURATION_SECONDS = numberFromEnv('DURATION', 10);
const P99_MS = numberFromEnv('P99_MS', 1000);
/** What each new bookmark points at; the service checks it, so it must answer. */
const URI = stringFromEnv('URI', `${APP_URLS[0] ?? ''}/healthz?{n}`);
/** Names are `steady-<TAG>-<n>`: runs against one store must not repeat a name. */
const TAG = stringFromEnv('TAG', Date.now().toString(36));
/** A creation not answered by then counts as status 0, not as a slow one. */
const TIMEOUT = '30s';
const SERIES = 'POST /api/bookmarks';

const created = new Counter('bookmarks_created');

export const options: Options = {
  scenarios: {
    creations: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: `${Math.round(DURATION_SECONDS * 1000)}ms`,
      ...arrivalRateVUs(RATE, P99_MS / 1000),
    },
  },
  summaryTrendStats: TREND_STATS,
  thresholds: {
    // The goal: every creation answered 201 (its check passed), 99% within P99_MS.
    [`http_req_duration{name:${SERIES}}`]: [`p(99)<${P99_MS}`],
    [`http_reqs{name:${SERIES}}`]: ['count>0'],
    checks: ['rate==1'],
    dropped_iterations: [droppedArrivalsThreshold(RATE, DURATION_SECONDS)],
  },
};

export function setup(): void {
  for (const url of APP_URLS) requireReady(url);
  announceLoadStarts();
}

export default function create(): void {
  const n = exec.scenario.iterationInTest;
  const appUrl = APP_URLS[n % APP_URLS.length] ?? '';
  const response = http.post(
    `${appUrl}/api/bookmarks`,
    JSON.stringify({ uri: URI.split('{n}').join(String(n)), name: `steady-${TAG}-${n}` }),
    {
      headers: { 'content-type': 'application/json' },
      tags: { name: SERIES },
      timeout: TIMEOUT,
    },
  );
  if (response.status === 201) created.add(1);
  check(response, { 'created (201)': (r) => r.status === 201 });
}

export function handleSummary(data: SummaryData): Record<string, string> {
  const series = `http_req_duration{name:${SERIES}}`;
  const sent = metricValue(data, `http_reqs{name:${SERIES}}`, 'count');
  const result = {
    rate: RATE,
    durationSeconds: DURATION_SECONDS,
    sent,
    // Over the arrival window: k6's own rate divides by the whole run, setup included.
    ratePerSecond: sent / DURATION_SECONDS,
    created: counterValue(data, 'bookmarks_created'),
    dropped: counterValue(data, 'dropped_iterations'),
    latencyMs: { p50: metricValue(data, series, 'med'), p99: metricValue(data, series, 'p(99)') },
  };
  const lines = [
    `${fmt(result.sent)} creations at ${fmt(result.ratePerSecond)}/s (asked for ${RATE}/s), ${fmt(result.created)} answered 201`,
    `latency: p50 ${fmt(result.latencyMs.p50)} ms, p99 ${fmt(result.latencyMs.p99)} ms (target p99 < ${P99_MS} ms); arrivals dropped for want of a VU: ${fmt(result.dropped)}`,
  ];
  return writeSummary(data, { scenario: 'creations', lines, result }, RESULTS_DIR);
}
