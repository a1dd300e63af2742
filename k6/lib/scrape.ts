// Reading the service's own counts from inside a k6 script: each app's /metrics (Prometheus text)
// and nginx's stub_status. The scrapes are tagged `name: scrape` so thresholds on the load leave
// them out, and the counts leave out the scrapes (route="/metrics") and health checks.
import http from 'k6/http';

const SCRAPE = { tags: { name: 'scrape' }, timeout: '2s' };
const OPERATIONAL_ROUTES = ['/metrics', '/healthz', '/readyz'];
const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const ROUTE_LABEL = /(?:^|,)route="((?:[^"\\]|\\.)*)"/;

export interface AppCounters {
  requests: number;
  durationSum: number;
  durationCount: number;
  /** The gauge less one: the scrape reading it is in flight too. */
  inFlight: number;
}

export function parseAppCounters(text: string): AppCounters {
  const counters: AppCounters = { requests: 0, durationSum: 0, durationCount: 0, inFlight: 0 };
  for (const line of text.split('\n')) {
    const match = SAMPLE_LINE.exec(line);
    if (match === null) continue;
    const [, name, labels = '', rawValue = ''] = match;
    const value = Number(rawValue);
    if (name === 'http_requests_in_flight') {
      counters.inFlight += Math.max(0, value - 1);
      continue;
    }
    const route = ROUTE_LABEL.exec(labels)?.[1] ?? '';
    if (OPERATIONAL_ROUTES.indexOf(route) >= 0) continue;
    if (name === 'http_requests_total') counters.requests += value;
    else if (name === 'http_request_duration_seconds_sum') counters.durationSum += value;
    else if (name === 'http_request_duration_seconds_count') counters.durationCount += value;
  }
  return counters;
}

/** Totals over every app, or undefined when one did not answer (a restart, say). */
export function scrapeApps(urls: readonly string[]): AppCounters | undefined {
  if (urls.length === 0) return undefined;
  const responses = http.batch(urls.map((url) => ({ method: 'GET', url, params: SCRAPE })));
  const total: AppCounters = { requests: 0, durationSum: 0, durationCount: 0, inFlight: 0 };
  for (const response of responses) {
    if (response.status !== 200) return undefined;
    const counters = parseAppCounters(String(response.body));
    total.requests += counters.requests;
    total.durationSum += counters.durationSum;
    total.durationCount += counters.durationCount;
    total.inFlight += counters.inFlight;
  }
  return total;
}

export interface StubStatus {
  active: number;
  requests: number;
  reading: number;
  writing: number;
  waiting: number;
}

const STUB_STATUS =
  /Active connections:\s*(\d+)\s+server accepts handled requests\s+\d+\s+\d+\s+(\d+)\s+Reading:\s*(\d+)\s+Writing:\s*(\d+)\s+Waiting:\s*(\d+)/;

export function scrapeNginx(url: string | undefined): StubStatus | undefined {
  if (url === undefined) return undefined;
  const response = http.get(url, SCRAPE);
  const match = response.status === 200 ? STUB_STATUS.exec(String(response.body)) : null;
  if (match === null) return undefined;
  const [active, requests, reading, writing, waiting] = match.slice(1).map(Number) as [number, number, number, number, number];
  return { active, requests, reading, writing, waiting };
}

/** Requests in flight at nginx: Reading + Writing, less the status request itself (Waiting are idle). */
export function nginxInFlight(status: StubStatus): number {
  return Math.max(0, status.reading + status.writing - 1);
}
