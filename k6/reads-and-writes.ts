// READS AND WRITES WHILE TASKS COME AND GO: steady GETs (short links and the page) and POSTs
// (new bookmarks through the API) while the app's processes or containers are replaced, scaled or
// killed. The goal is zero failed requests, POSTs included: a POST that reached a stopping app must
// still be answered, and one that never reached it must be retried elsewhere by nginx. Every POST
// answered 201 is counted (`bookmarks_created`), so the store can be checked afterwards: bookmarks
// named `${PREFIX}-*` must number exactly that (none lost, none twice).
//
// k6 does not do the replacing: run this, and meanwhile e.g.
//   docker service update --force linkyard_app        (Swarm)
//   npm run rolling-restart                           (native stack)
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e RATE=100 -e WRITE_RATE=10 -e DURATION=60 k6/reads-and-writes.ts
// Writes come from one client: raise nginx's per-client limit (LINKYARD_RATE_LIMIT, RATE_LIMIT).
import { check } from 'k6';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import type { Options } from 'k6/options';
import { BASE_URL, numberFromEnv, RESULTS_DIR, requireReady, shortNames, stringFromEnv } from './lib/config.ts';
import { fmt, metricValue, type SummaryData, TREND_STATS, writeSummary } from './lib/summary.ts';

const RATE = numberFromEnv('RATE', 100);
const WRITE_RATE = numberFromEnv('WRITE_RATE', 10);
const DURATION_SECONDS = numberFromEnv('DURATION', 60);
/** Names of the bookmarks this run creates start with it: one run's writes can be counted apart. */
const PREFIX = stringFromEnv('PREFIX', `rw${Date.now().toString(36)}`);
/** What the new bookmarks point at; the service checks it, so it must answer (its own /healthz does). */
const WRITE_URI = stringFromEnv('WRITE_URI', `${BASE_URL}/healthz`);

const created = new Counter('bookmarks_created');

const reads = {
  executor: 'constant-arrival-rate',
  exec: 'read',
  rate: RATE,
  timeUnit: '1s',
  duration: `${DURATION_SECONDS}s`,
  // Room for slow answers while tasks start on a busy host: an arrival with no free VU is dropped
  // (counted as dropped_iterations), not sent.
  preAllocatedVUs: Math.max(10, Math.ceil(RATE / 10)),
  maxVUs: Math.max(200, RATE * 3),
} as const;

const writes = {
  ...reads,
  exec: 'write',
  rate: WRITE_RATE,
  preAllocatedVUs: Math.max(5, Math.ceil(WRITE_RATE / 2)),
  maxVUs: Math.max(100, WRITE_RATE * 10),
} as const;

export const options: Options = {
  // WRITE_RATE=0: reads only (when a failed POST is expected, e.g. an app killed mid-request).
  scenarios: WRITE_RATE > 0 ? { reads, writes } : { reads },
  summaryTrendStats: TREND_STATS,
  thresholds: {
    // The goal, stated as it is: not one failed request, read or write.
    http_req_failed: ['rate==0'],
    checks: ['rate==1'],
    'http_req_duration{scenario:reads}': ['p(99)<1000'],
    ...(WRITE_RATE > 0 ? { 'http_req_duration{scenario:writes}': ['p(99)<3000'] } : {}),
  },
};

export function setup(): { names: string[] } {
  requireReady();
  return { names: shortNames(50) };
}

export function read(data: { names: string[] }): void {
  const name = data.names[Math.floor(Math.random() * data.names.length)] ?? '';
  const redirect = http.get(`${BASE_URL}/${name}`, { redirects: 0, tags: { name: 'GET /:name' } });
  if (!check(redirect, { 'short link 303': (r) => r.status === 303 })) reportFailure('GET', name, redirect);
  if (Math.random() < 0.2) {
    const page = http.get(`${BASE_URL}/`, { responseType: 'none' });
    if (!check(page, { 'page 200': (r) => r.status === 200 })) reportFailure('GET', '/', page);
  }
}

// k6's runtime has console (its output goes to k6's log); @types/k6 does not declare it.
declare const console: { warn(...data: unknown[]): void };

/** A failed request, as a log line that says which one and how: to match with nginx's access log. */
function reportFailure(method: string, path: string, response: http.RefinedResponse<http.ResponseType | undefined>): void {
  console.warn(`failed: ${method} ${path} → ${response.status} ${response.error} after ${response.timings.duration.toFixed(0)} ms`);
}

export function write(): void {
  // Unique per VU and iteration: a 200 (identical repeat) would mean the same POST arrived twice.
  const name = `${PREFIX}-${__VU}-${__ITER}`;
  const response = http.post(`${BASE_URL}/api/bookmarks`, JSON.stringify({ uri: `${WRITE_URI}?${name}`, name }), {
    headers: { 'content-type': 'application/json' },
    tags: { name: 'POST /api/bookmarks' },
  });
  if (check(response, { 'bookmark 201': (r) => r.status === 201 })) created.add(1);
  else reportFailure('POST', `/api/bookmarks ${name}`, response);
}

export function handleSummary(data: SummaryData): Record<string, string> {
  const result = {
    rate: RATE,
    writeRate: WRITE_RATE,
    durationSeconds: DURATION_SECONDS,
    prefix: PREFIX,
    requests: metricValue(data, 'http_reqs', 'count'),
    failedRate: metricValue(data, 'http_req_failed', 'rate'),
    failed: metricValue(data, 'http_req_failed', 'passes'),
    created: data.metrics.bookmarks_created === undefined ? 0 : metricValue(data, 'bookmarks_created', 'count'),
    // Arrivals never sent for want of a free VU: load not offered, which the figures above omit.
    droppedIterations: data.metrics.dropped_iterations === undefined ? 0 : metricValue(data, 'dropped_iterations', 'count'),
    readP99Ms: metricValue(data, 'http_req_duration{scenario:reads}', 'p(99)'),
    writeP99Ms: metricValue(data, 'http_req_duration{scenario:writes}', 'p(99)'),
  };
  const lines = [
    `${fmt(result.requests)} requests (${RATE} reads/s, ${WRITE_RATE} writes/s for ${DURATION_SECONDS} s); failed ${fmt(result.failed)} (${fmt(result.failedRate * 100)}%, goal: 0)`,
    `${fmt(result.created)} bookmarks created, named ${PREFIX}-*; ${fmt(result.droppedIterations)} arrivals not sent (no free VU)`,
    `p99 reads ${fmt(result.readP99Ms)} ms, writes ${fmt(result.writeP99Ms)} ms`,
  ];
  return writeSummary(data, { scenario: 'reads-and-writes', lines, result }, RESULTS_DIR);
}
