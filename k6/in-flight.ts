// IN-FLIGHT: how many requests are in flight at once, and does Little's law predict it?
//
// The seed's question: 250 million page views a day, three requests each, 0.1 s per request.
// λ = 250e6 / 86 400 · 3 ≈ 8 681 requests/s, W = 0.1 s, so L = λ·W ≈ 868 in flight.
//
// Here page views arrive at a constant rate (an open model: arrivals do not wait for answers,
// which is what λ means), each one the page, its stylesheet and one short link (303, not
// followed). k6 has no in-flight metric, so a second scenario samples the service's own counts
// about every 100 ms: each app's http_requests_in_flight gauge (one per process, so every
// process's /metrics is read) and nginx's stub_status. The summary puts λ·W next to them.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 \
//          -e METRICS_URLS=http://127.0.0.1:8001/metrics,http://127.0.0.1:8002/metrics k6/in-flight.ts
import { check, sleep } from 'k6';
import http from 'k6/http';
import { Gauge, Trend } from 'k6/metrics';
import type { Options } from 'k6/options';
import {
  arrivalRateVUs,
  BASE_URL,
  droppedArrivalsThreshold,
  METRICS_URLS,
  NGINX_STATUS_URL,
  numberFromEnv,
  RESULTS_DIR,
  requireReady,
  shortNames,
  stylesheetPath,
} from './lib/config.ts';
import { type AppCounters, scrapeApps, scrapeNginx } from './lib/scrape.ts';
import { nginxInFlight } from './lib/stub-status.ts';
import { counterValue, fmt, metricValue, type SummaryData, TREND_STATS, writeSummary } from './lib/summary.ts';

const VIEWS_PER_SECOND = numberFromEnv('RATE', 100);
const DURATION_SECONDS = numberFromEnv('DURATION', 30);
/** |observed − λ·W| / λ·W allowed at the apps, where both sides are measured in the same place. */
const TOLERANCE = numberFromEnv('TOLERANCE', 0.25);
const P99_MS = numberFromEnv('P99_MS', 250);
/**
 * Mean milliseconds between samples; 0 leaves the sampling to the caller (`npm run loadtest`
 * samples the same counts from its own process, beside k6, and needs no second sampler).
 */
const SAMPLE_MS = numberFromEnv('SAMPLE_MS', 100);

const observedApps = new Trend('observed_in_flight_apps');
const observedNginx = new Trend('observed_in_flight_nginx');
const nginxActive = new Trend('nginx_active_connections');
// Deltas of the apps' own counters over the sampler's window; a Gauge keeps the last value.
const appRequests = new Gauge('app_requests');
const appDurationSum = new Gauge('app_request_duration_seconds_sum');
const appDurationCount = new Gauge('app_request_duration_seconds_count');
const appWindow = new Gauge('app_window_seconds');

export const options: Options = {
  scenarios: {
    page_views: {
      executor: 'constant-arrival-rate',
      exec: 'pageView',
      rate: VIEWS_PER_SECOND,
      timeUnit: '1s',
      duration: `${DURATION_SECONDS}s`,
      // A view is three requests one after the other, each allowed P99_MS.
      ...arrivalRateVUs(VIEWS_PER_SECOND, (3 * P99_MS) / 1000),
    },
    ...(SAMPLE_MS > 0 && {
      sampler: {
        executor: 'constant-vus',
        exec: 'sample',
        vus: 1,
        duration: `${DURATION_SECONDS}s`,
      },
    }),
  },
  summaryTrendStats: TREND_STATS,
  thresholds: {
    // The load itself, scrapes left out (they carry name=scrape).
    'http_req_failed{scenario:page_views}': ['rate<0.01'],
    'http_req_duration{scenario:page_views}': [`p(99)<${P99_MS}`],
    'http_reqs{scenario:page_views}': ['count>0'],
    // The rate was held: fewer than 1% of the arrivals found no VU.
    dropped_iterations: [droppedArrivalsThreshold(VIEWS_PER_SECOND, DURATION_SECONDS)],
    checks: ['rate>0.99'],
    // Listed so the summary carries them (a metric with a threshold always appears).
    ...(SAMPLE_MS > 0 && { observed_in_flight_apps: ['avg>=0'], observed_in_flight_nginx: ['avg>=0'] }),
  },
};

interface SetupData {
  stylesheet: string;
  names: string[];
}

export function setup(): SetupData {
  requireReady();
  return { stylesheet: stylesheetPath(), names: shortNames(50) };
}

export function pageView(data: SetupData): void {
  const page = http.get(`${BASE_URL}/`, { responseType: 'none', tags: { name: 'page' } });
  const stylesheet = http.get(`${BASE_URL}${data.stylesheet}`, { responseType: 'none', tags: { name: 'stylesheet' } });
  const name = data.names[Math.floor(Math.random() * data.names.length)] ?? '';
  // k6 follows redirects unless told not to: the 303 is the answer being measured.
  const redirect = http.get(`${BASE_URL}/${name}`, { redirects: 0, tags: { name: 'GET /:name' } });
  check(page, { 'page 200': (r) => r.status === 200 });
  check(stylesheet, { 'stylesheet 200': (r) => r.status === 200 });
  check(redirect, { 'short link 303': (r) => r.status === 303 && r.headers.Location !== undefined });
}

// One sampler VU: its module state lives for the whole run.
let first: { at: number; counters: AppCounters } | undefined;

export function sample(): void {
  const apps = scrapeApps(METRICS_URLS);
  const nginx = scrapeNginx(NGINX_STATUS_URL);
  if (apps !== undefined) {
    observedApps.add(apps.inFlight);
    if (first === undefined) first = { at: Date.now(), counters: apps };
    appRequests.add(apps.requests - first.counters.requests);
    appDurationSum.add(apps.durationSum - first.counters.durationSum);
    appDurationCount.add(apps.durationCount - first.counters.durationCount);
    appWindow.add((Date.now() - first.at) / 1000);
  }
  if (nginx !== undefined) {
    observedNginx.add(nginxInFlight(nginx));
    nginxActive.add(Math.max(0, nginx.active - 1));
  }
  // SAMPLE_MS ± 50 %, jittered so samples do not fall in step with the arrivals.
  sleep((SAMPLE_MS / 1000) * (0.5 + Math.random()));
}

export function handleSummary(data: SummaryData): Record<string, string> {
  // Client side: λ from requests completed over the arrival window, W from their mean duration.
  const requests = metricValue(data, 'http_reqs{scenario:page_views}', 'count');
  const lambda = requests / DURATION_SECONDS;
  const w = metricValue(data, 'http_req_duration{scenario:page_views}', 'avg') / 1000;
  const littleL = lambda * w;
  // App side, from the apps' own counters: both sides measured where the gauge is.
  const appWindowSeconds = metricValue(data, 'app_window_seconds', 'value');
  const appLambda = metricValue(data, 'app_requests', 'value') / appWindowSeconds;
  const appW =
    metricValue(data, 'app_request_duration_seconds_sum', 'value') / metricValue(data, 'app_request_duration_seconds_count', 'value');
  const appL = appLambda * appW;
  const apps = metricValue(data, 'observed_in_flight_apps', 'avg');
  const nginx = metricValue(data, 'observed_in_flight_nginx', 'avg');
  const gap = (predicted: number, observed: number) => Math.abs(observed - predicted) / predicted;
  const seedLambda = (250e6 / 86_400) * 3;
  const result = {
    load: { viewsPerSecond: VIEWS_PER_SECOND, durationSeconds: DURATION_SECONDS, dropped: counterValue(data, 'dropped_iterations') },
    client: { requests, failedRate: metricValue(data, 'http_req_failed{scenario:page_views}', 'rate'), lambda, w, littleL },
    apps: {
      lambda: appLambda,
      w: appW,
      littleL: appL,
      observed: apps,
      gap: gap(appL, apps),
      tolerance: TOLERANCE,
      held: gap(appL, apps) <= TOLERANCE,
    },
    nginx: {
      observed: nginx,
      gapFromClientL: gap(littleL, nginx),
      activeConnections: metricValue(data, 'nginx_active_connections', 'avg'),
    },
    seed: { lambda: seedLambda, w: 0.1, littleL: seedLambda * 0.1 },
  };
  const lines = [
    `seed: λ = 250e6/86400 · 3 = ${fmt(seedLambda, 5)} req/s, W = 0.1 s → L = λ·W ≈ ${fmt(seedLambda * 0.1, 4)} in flight`,
    `client: λ = ${fmt(lambda)} req/s, W = ${fmt(w * 1000)} ms → L = λ·W = ${fmt(littleL)}`,
    ...(SAMPLE_MS > 0
      ? [
          `nginx: Reading+Writing (less the status request) = ${fmt(nginx)} (${fmt(result.nginx.gapFromClientL * 100, 2)}% from the client's λ·W; nginx does not see the client's own time)`,
          `apps: λ = ${fmt(appLambda)} req/s, W = ${fmt(appW * 1000)} ms → λ·W = ${fmt(appL)}; Σ http_requests_in_flight (less each scrape) = ${fmt(apps)}`,
          `apps within ${fmt(TOLERANCE * 100)}%: ${result.apps.held ? 'yes' : 'NO'} (${fmt(result.apps.gap * 100, 2)}% apart)`,
        ]
      : ['nginx and apps: not sampled here (SAMPLE_MS=0: the caller samples them)']),
  ];
  return writeSummary(data, { scenario: 'in-flight', lines, result }, RESULTS_DIR);
}
