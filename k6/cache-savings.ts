// CACHE SAVINGS: what browser caching of the stylesheet saves, counted where it matters.
//
// The seed's question: 6000 requests/s, a third of them for CSS; once browsers cache the CSS only
// 1% of visitors fetch it: 4000 + 2000 · 0.01 = 4020 requests/s.
//
// k6 has no HTTP cache, so each VU is one visitor with a small browser cache of its own: every
// visit needs the page, its stylesheet and one short link; the stylesheet is fetched on the first
// visit and then, per CACHE:
//   browser  (default) Cache-Control honoured: no request while fresh (nginx sends max-age=1 year,
//            immutable, for the hashed name), If-None-Match once stale
//   validate the copy is always revalidated with If-None-Match (what an ETag alone buys: 304s)
//   none     nothing kept (the seed's "before")
// The counts: resources the visits needed, requests the clients sent, requests nginx counted
// (stub_status `requests`) and requests the apps answered (Σ http_requests_total, all processes);
// and the connections it took: opened by the browsers (a request that had to connect) and accepted
// by nginx (stub_status `accepts`). Over HTTPS k6 speaks HTTP/2 (ALPN), or HTTP/1.1 with
// GODEBUG=http2client=0 in its environment; SSL_CERT_FILE names the CA it trusts (k6/README.md).
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e VISITORS=40 -e VISITS=100 \
//          -e METRICS_URLS=http://127.0.0.1:8001/metrics,http://127.0.0.1:8002/metrics k6/cache-savings.ts
import { check } from 'k6';
import http from 'k6/http';
import { Counter, Gauge } from 'k6/metrics';
import type { Options } from 'k6/options';
import {
  BASE_URL,
  METRICS_URLS,
  NGINX_STATUS_URL,
  numberFromEnv,
  RESULTS_DIR,
  requireReady,
  shortNames,
  stringFromEnv,
} from './lib/config.ts';
import { scrapeApps, scrapeNginx } from './lib/scrape.ts';
import { counterValue, fmt, metricValue, type SummaryData, TREND_STATS, writeSummary } from './lib/summary.ts';

const VISITORS = numberFromEnv('VISITORS', 40);
const VISITS = numberFromEnv('VISITS', 100);
const CACHE = stringFromEnv('CACHE', 'browser');
if (!['browser', 'validate', 'none'].includes(CACHE)) throw new Error(`CACHE must be browser, validate or none, got '${CACHE}'`);

const needed = new Counter('resources_needed');
const sent = new Counter('client_requests');
const sentStylesheet = new Counter('client_requests_stylesheet');
const fromCache = new Counter('served_from_cache');
const notModified = new Counter('not_modified_304');
const nginxRequests = new Gauge('nginx_requests');
const appRequests = new Gauge('app_requests');
const connectionsOpened = new Counter('connections_opened');
const http2Requests = new Counter('client_requests_http2');
const nginxConnections = new Gauge('nginx_connections');

export const options: Options = {
  scenarios: {
    visitors: {
      executor: 'per-vu-iterations',
      vus: VISITORS,
      iterations: VISITS,
      maxDuration: '5m',
    },
  },
  summaryTrendStats: TREND_STATS,
  thresholds: {
    'http_req_failed{scenario:visitors}': ['rate<0.01'],
    checks: ['rate>0.99'],
    // With the browser cache, the stylesheet must be fetched about once per visitor, no more.
    client_requests_stylesheet: CACHE === 'browser' ? [`count<=${VISITORS * 2}`] : ['count>=0'],
    // Listed so the summary carries them (a metric with a threshold always appears).
    'data_received{scenario:visitors}': ['count>=0'],
    nginx_requests: ['value>=0'],
    app_requests: ['value>=0'],
    connections_opened: ['count>=0'],
    client_requests_http2: ['count>=0'],
    nginx_connections: ['value>=0'],
  },
};

interface Stored {
  freshUntil: number;
  etag: string | undefined;
}

// Module state is per VU: this is one visitor's cache, kept across its visits.
const cache = new Map<string, Stored>();

function cacheControl(header: string | undefined): { maxAge: number; noStore: boolean; noCache: boolean } {
  const value = (header ?? '').toLowerCase();
  const maxAge = /max-age=(\d+)/.exec(value)?.[1];
  return { maxAge: maxAge === undefined ? 0 : Number(maxAge), noStore: value.includes('no-store'), noCache: value.includes('no-cache') };
}

function fetchThroughCache(path: string, expected: number, tags: Record<string, string>): string {
  needed.add(1);
  const stored = CACHE === 'none' ? undefined : cache.get(path);
  if (stored !== undefined && CACHE === 'browser' && Date.now() < stored.freshUntil) {
    fromCache.add(1);
    return '';
  }
  const headers: Record<string, string> = {};
  if (stored?.etag !== undefined) headers['If-None-Match'] = stored.etag;
  const response = http.get(`${BASE_URL}${path}`, { headers, redirects: 0, tags });
  sent.add(1);
  // A request that had to connect opened a connection (a reused one reports 0 ms).
  if (response.timings.connecting > 0) connectionsOpened.add(1);
  if (response.proto === 'HTTP/2.0') http2Requests.add(1);
  if (tags.name === 'stylesheet') sentStylesheet.add(1);
  if (response.status === 304) notModified.add(1);
  check(response, { [`${tags.name ?? path} answered`]: (r) => r.status === expected || (r.status === 304 && stored !== undefined) });
  const directives = cacheControl(response.headers['Cache-Control']);
  const etag = response.headers.Etag ?? response.headers.ETag;
  if (CACHE !== 'none' && !directives.noStore && (response.status === 200 || response.status === 304)) {
    const freshUntil = directives.noCache ? 0 : Date.now() + directives.maxAge * 1000;
    if (directives.maxAge > 0 || etag !== undefined || stored !== undefined) cache.set(path, { freshUntil, etag: etag ?? stored?.etag });
  }
  return String(response.body ?? '');
}

interface SetupData {
  names: string[];
  nginxBefore: number | undefined;
  acceptsBefore: number | undefined;
  appsBefore: number | undefined;
}

export function setup(): SetupData {
  requireReady();
  const names = shortNames(50);
  // Last, so nothing setup sends is counted as load.
  const nginx = scrapeNginx(NGINX_STATUS_URL);
  return { names, nginxBefore: nginx?.requests, acceptsBefore: nginx?.accepts, appsBefore: scrapeApps(METRICS_URLS)?.requests };
}

export default function visit(data: SetupData): void {
  const page = fetchThroughCache('/', 200, { name: 'page' });
  const stylesheet = /<link\s+rel="stylesheet"\s+href="([^"]+)"/.exec(page)?.[1];
  if (stylesheet !== undefined) fetchThroughCache(stylesheet, 200, { name: 'stylesheet' });
  const name = data.names[(__VU * VISITS + __ITER) % data.names.length] ?? '';
  fetchThroughCache(`/${name}`, 303, { name: 'GET /:name' });
}

export function teardown(data: SetupData): void {
  const status = scrapeNginx(NGINX_STATUS_URL);
  const nginx = status?.requests;
  const apps = scrapeApps(METRICS_URLS)?.requests;
  // stub_status counts the request asking for it: the after-scrape is one of the delta. And
  // teardown() runs in a VU of its own, whose scrape opened one of the connections.
  if (nginx !== undefined && data.nginxBefore !== undefined) nginxRequests.add(nginx - data.nginxBefore - 1);
  if (status !== undefined && data.acceptsBefore !== undefined) nginxConnections.add(status.accepts - data.acceptsBefore - 1);
  if (apps !== undefined && data.appsBefore !== undefined) appRequests.add(apps - data.appsBefore);
}

export function handleSummary(data: SummaryData): Record<string, string> {
  const resources = counterValue(data, 'resources_needed');
  const clientRequests = counterValue(data, 'client_requests');
  const nginx = metricValue(data, 'nginx_requests', 'value');
  const apps = metricValue(data, 'app_requests', 'value');
  const visits = resources / 3;
  const http2 = counterValue(data, 'client_requests_http2');
  const nginxAccepted = metricValue(data, 'nginx_connections', 'value');
  // The seed's arithmetic on this run's numbers: a third of the needed requests are CSS, and the
  // share of visits that fetch it is the share of first visits, 1 / VISITS.
  const seedAfter = resources * (2 / 3) + (resources / 3) * (1 / VISITS);
  const result = {
    cache: CACHE,
    visitors: VISITORS,
    visitsPerVisitor: VISITS,
    visits,
    resourcesNeeded: resources,
    clientRequests,
    stylesheetRequests: counterValue(data, 'client_requests_stylesheet'),
    servedFromCache: counterValue(data, 'served_from_cache'),
    notModified: counterValue(data, 'not_modified_304'),
    bytesReceived: counterValue(data, 'data_received{scenario:visitors}'),
    failedRate: metricValue(data, 'http_req_failed{scenario:visitors}', 'rate'),
    nginxRequests: nginx,
    appRequests: apps,
    protocol: clientRequests === 0 ? 'none' : http2 === 0 ? 'HTTP/1.1' : http2 === clientRequests ? 'HTTP/2' : 'mixed',
    connectionsOpened: counterValue(data, 'connections_opened'),
    nginxConnections: nginxAccepted,
    saving: 1 - clientRequests / resources,
    seed: { before: 6000, after: 4020, saving: 0.33, scaledAfter: seedAfter, scaledSaving: 1 - seedAfter / resources },
  };
  const lines = [
    `seed: 6000 req/s, 1/3 CSS, 1% fetch it after caching → 4000 + 2000 · 0.01 = 4020 (33% saved)`,
    `same arithmetic here: ${fmt(resources)} needed → ${fmt(seedAfter, 6)} (${fmt(result.seed.scaledSaving * 100)}% saved)`,
    `cache=${CACHE}: ${fmt(visits)} visits needed ${fmt(resources)} resources; clients sent ${fmt(clientRequests)} (${fmt(result.saving * 100)}% saved), ${fmt(result.servedFromCache)} from cache, ${fmt(result.notModified)} answered 304`,
    `${result.protocol}: the browsers opened ${fmt(result.connectionsOpened)} connections; nginx accepted ${Number.isNaN(nginxAccepted) ? 'n/a' : fmt(nginxAccepted)}`,
    `nginx counted ${Number.isNaN(nginx) ? 'n/a (no NGINX_STATUS_URL)' : fmt(nginx)} requests; the apps answered ${Number.isNaN(apps) ? 'n/a (no METRICS_URLS)' : fmt(apps)} (the stylesheet never reaches them: nginx serves /static)`,
  ];
  return writeSummary(data, { scenario: `cache-savings-${CACHE}`, lines, result }, RESULTS_DIR);
}
