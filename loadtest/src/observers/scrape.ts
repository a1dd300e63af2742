import { Agent, request } from 'undici';
import { type AppCounters, appCounters, parsePrometheusText, type Sample, sumOf } from '../../../k6/lib/prometheus.ts';
import { parseStubStatus, type StubStatus } from '../../../k6/lib/stub-status.ts';

/**
 * The harness's own connections for reading /metrics and stub_status, apart from the load
 * generator's: a scrape never waits behind load for a socket, and load never waits behind a scrape.
 */
export const scrapeAgent = new Agent({ connections: 4, keepAliveTimeout: 10_000, pipelining: 1 });

const SCRAPE_TIMEOUT_MS = 2000;

async function getText(url: string): Promise<string> {
  const response = await request(url, {
    dispatcher: scrapeAgent,
    headersTimeout: SCRAPE_TIMEOUT_MS,
    bodyTimeout: SCRAPE_TIMEOUT_MS,
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`GET ${url} answered ${response.statusCode}: ${text.slice(0, 200)}`);
  return text;
}

/** Every sample one app's /metrics holds now. */
export async function scrapeSamples(metricsUrl: string): Promise<Sample[]> {
  return parsePrometheusText(await getText(metricsUrl));
}

export async function scrapeApp(metricsUrl: string): Promise<AppCounters> {
  return appCounters(await scrapeSamples(metricsUrl));
}

export function scrapeApps(metricsUrls: readonly string[]): Promise<AppCounters[]> {
  return Promise.all(metricsUrls.map(scrapeApp));
}

export async function scrapeNginx(statusUrl: string): Promise<StubStatus> {
  return parseStubStatus(await getText(statusUrl));
}

/** Totals across every app process: each process keeps its own counters. */
export function totalCounters(each: readonly AppCounters[]): AppCounters {
  const total: AppCounters = { requests: 0, durationSum: 0, durationCount: 0, inFlight: 0, residentBytes: 0 };
  for (const counters of each) {
    total.requests += counters.requests;
    total.durationSum += counters.durationSum;
    total.durationCount += counters.durationCount;
    total.inFlight += counters.inFlight;
    total.residentBytes += counters.residentBytes;
  }
  return total;
}

export function counterDelta(before: AppCounters, after: AppCounters): AppCounters {
  return {
    requests: after.requests - before.requests,
    durationSum: after.durationSum - before.durationSum,
    durationCount: after.durationCount - before.durationCount,
    inFlight: after.inFlight,
    residentBytes: after.residentBytes,
  };
}

/**
 * Full (mark-compact) GCs the apps have run so far (prom-client's nodejs_gc_duration_seconds, kind
 * "major"): read before and after a leg, the difference says whether its garbage died young.
 */
export async function majorGcs(metricsUrls: readonly string[]): Promise<number> {
  let total = 0;
  for (const url of metricsUrls) {
    total += sumOf(await scrapeSamples(url), 'nodejs_gc_duration_seconds_count', (labels) => labels.kind === 'major');
  }
  return total;
}

/** URI checks the apps report running or queued, and their in-flight gauges (less the scrapes). */
export async function checksInFlight(metricsUrls: readonly string[]): Promise<{ checks: number; gauge: number }> {
  let checks = 0;
  let gauge = 0;
  for (const url of metricsUrls) {
    const samples = await scrapeSamples(url);
    checks += sumOf(samples, 'linkyard_checks_running') + sumOf(samples, 'linkyard_check_queue_depth');
    gauge += sumOf(samples, 'http_requests_in_flight') - 1;
  }
  return { checks, gauge };
}

/** Check worker threads an app reports alive (linkyard_check_threads). */
export async function checkThreads(metricsUrl: string): Promise<number> {
  return sumOf(await scrapeSamples(metricsUrl), 'linkyard_check_threads');
}
