// Reading the service's own counts from inside a k6 script: each app's /metrics (Prometheus text)
// and nginx's stub_status, parsed by the same modules the harness uses. The scrapes are tagged
// `name: scrape` so thresholds on the load leave them out.
import http from 'k6/http';
import { appCounters, parsePrometheusText } from './prometheus.ts';
import { parseStubStatus, type StubStatus } from './stub-status.ts';

const SCRAPE = { tags: { name: 'scrape' }, timeout: '2s' };

/** Load counts over every app (scrapes and health checks left out, see isLoad). */
export interface AppCounters {
  requests: number;
  durationSum: number;
  durationCount: number;
  /** The gauges less one each: the scrape reading a gauge is in flight too. */
  inFlight: number;
}

/** Totals over every app, or undefined when one did not answer (a restart, say). */
export function scrapeApps(urls: readonly string[]): AppCounters | undefined {
  if (urls.length === 0) return undefined;
  const responses = http.batch(urls.map((url) => ({ method: 'GET', url, params: SCRAPE })));
  const total: AppCounters = { requests: 0, durationSum: 0, durationCount: 0, inFlight: 0 };
  for (const response of responses) {
    if (response.status !== 200) return undefined;
    const counters = appCounters(parsePrometheusText(String(response.body)));
    total.requests += counters.requests;
    total.durationSum += counters.durationSum;
    total.durationCount += counters.durationCount;
    total.inFlight += Math.max(0, counters.inFlight - 1);
  }
  return total;
}

/** nginx's stub_status, or undefined when there is none to read or it did not answer. */
export function scrapeNginx(url: string | undefined): StubStatus | undefined {
  if (url === undefined) return undefined;
  const response = http.get(url, SCRAPE);
  return response.status === 200 ? parseStubStatus(String(response.body)) : undefined;
}
