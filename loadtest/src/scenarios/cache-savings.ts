import { type CacheArithmetic, cacheArithmetic, SEED_CACHE } from '../analysis/littles-law.ts';
import { k6Scenario } from '../k6.ts';
import { requestWindow, statusCounts } from '../observers/request-log.ts';
import type { Progress } from '../progress.ts';
import { type RunInfo, runInfo } from '../report/run-info.ts';
import { shortNames, type Target } from '../target/target.ts';

export interface CacheSavingsOptions {
  visitors: number;
  visitsPerVisitor: number;
}

export const CACHE_SAVINGS_DEFAULTS: CacheSavingsOptions = { visitors: 40, visitsPerVisitor: 100 };

/** k6/cache-savings.ts's CACHE: what each simulated browser does with the stylesheet. */
export type CachePolicy = 'none' | 'validate' | 'browser';

export const CACHE_POLICIES: Readonly<Record<CachePolicy, string>> = {
  none: 'nothing kept: every visit fetches everything (the seed\'s "before")',
  validate: 'copies kept but always revalidated: If-None-Match → 304 (what an ETag alone buys)',
  browser: 'Cache-Control honoured: nothing sent while fresh, revalidated when stale (the seed\'s "after")',
};

/** What k6/cache-savings.ts answers (its handleSummary `result`; the tests read it too). */
export interface K6CacheSavings {
  visits: number;
  resourcesNeeded: number;
  clientRequests: number;
  stylesheetRequests: number;
  servedFromCache: number;
  notModified: number;
  bytesReceived: number;
  nginxRequests: number | null;
  appRequests: number | null;
  protocol: string;
  connectionsOpened: number;
  nginxConnections: number | null;
  /** The seed's arithmetic on this run's numbers: the requests a browser cache should leave. */
  seed: { scaledAfter: number };
}

export interface CachePhase {
  policy: CachePolicy;
  description: string;
  seconds: number;
  visits: number;
  resourcesNeeded: number;
  /** Requests the browsers sent (a stylesheet served from cache sends none). */
  clientRequests: number;
  stylesheetRequests: number;
  /** Stylesheet bodies actually transferred (200, not 304). */
  stylesheetDownloads: number;
  fromCache: number;
  notModified: number;
  bytesReceived: number;
  failed: number;
  statuses: Record<string, number>;
  /** Requests nginx counted (stub_status `requests` delta over the load, less the status request). */
  nginxRequests: number | undefined;
  /** Requests the apps answered (Σ http_requests_total deltas, scrapes and health checks left out). */
  appRequests: number;
  /** k6's thresholds for this kind of browser (with `browser`: the stylesheet about once per visitor). */
  thresholdsMet: boolean;
  /** What k6 spoke: HTTP/1.1, or HTTP/2 over HTTPS (ALPN). */
  protocol: string;
  /** Connections the browsers opened (requests that had to connect). */
  connectionsOpened: number;
  /** Connections nginx accepted meanwhile (stub_status `accepts` delta, k6's own scrape left out). */
  nginxConnections: number | undefined;
}

export interface Saving {
  clientRequests: number;
  nginxRequests: number | undefined;
  appRequests: number;
  bytes: number;
}

export interface CacheSavingsResult {
  scenario: 'cache-savings';
  run: RunInfo;
  target: { url: string; apps: number };
  options: CacheSavingsOptions;
  phases: CachePhase[];
  /** 1 − browser / none, for each count: what honouring Cache-Control saved. */
  saving: Saving;
  seed: CacheArithmetic;
  /** The seed's arithmetic on this run's "before": CSS share as measured, 1 / visits fetch it. */
  seedScaled: CacheArithmetic;
}

const PHASES: readonly CachePolicy[] = ['none', 'validate', 'browser'];

/**
 * k6/cache-savings.ts three times over, each time with fresh browsers of one kind (no cache,
 * always revalidate, honour Cache-Control). k6 counts what the browsers needed and sent, and
 * reads nginx's and the apps' counters in setup() and teardown(), with nothing else talking to
 * them in between, so every count is exact.
 */
export async function runCacheSavings(
  target: Target,
  options: CacheSavingsOptions,
  progress: Progress,
  command: string,
): Promise<CacheSavingsResult> {
  const run = runInfo(command);
  const names = await shortNames(target, 50);
  const phases: CachePhase[] = [];
  for (const policy of PHASES) {
    progress.log(`k6, CACHE=${policy}: ${options.visitors} visitors × ${options.visitsPerVisitor} visits — ${CACHE_POLICIES[policy]}`);
    const env = {
      BASE_URL: target.url,
      NAMES: names.join(','),
      METRICS_URLS: target.metricsUrls.join(','),
      NGINX_STATUS_URL: target.nginxStatusUrl ?? 'none',
      CACHE: policy,
      VISITORS: String(options.visitors),
      VISITS: String(options.visitsPerVisitor),
    };
    const { k6, answer, requests } = await k6Scenario<K6CacheSavings>(
      'cache-savings',
      env,
      300,
      progress,
      `cache-savings-${policy}`,
      target.k6Client,
    );
    const load = requests.filter((request) => request.scenario === 'visitors');
    const { result } = answer;
    if (result.appRequests === null) throw new Error("k6 did not count the apps' requests: did it get METRICS_URLS?");
    phases.push({
      policy,
      description: CACHE_POLICIES[policy],
      seconds: requestWindow(load).seconds,
      visits: result.visits,
      resourcesNeeded: result.resourcesNeeded,
      clientRequests: result.clientRequests,
      stylesheetRequests: result.stylesheetRequests,
      stylesheetDownloads: load.filter((request) => request.name === 'stylesheet' && request.status === 200).length,
      fromCache: result.servedFromCache,
      notModified: result.notModified,
      bytesReceived: result.bytesReceived,
      failed: load.filter((request) => request.status === 0 || request.status >= 400).length,
      statuses: statusCounts(load),
      nginxRequests: result.nginxRequests ?? undefined,
      appRequests: result.appRequests,
      thresholdsMet: k6.thresholdsMet,
      protocol: result.protocol,
      connectionsOpened: result.connectionsOpened,
      nginxConnections: result.nginxConnections ?? undefined,
    });
  }

  const none = phases.find((phase) => phase.policy === 'none');
  const browser = phases.find((phase) => phase.policy === 'browser');
  if (none === undefined || browser === undefined) throw new Error('the none and browser phases must both run');
  const fraction = (before: number, after: number) => (before === 0 ? 0 : 1 - after / before);
  const visits = options.visitors * options.visitsPerVisitor;
  return {
    scenario: 'cache-savings',
    run,
    target: { url: target.url, apps: target.metricsUrls.length },
    options,
    phases,
    saving: {
      clientRequests: fraction(none.clientRequests, browser.clientRequests),
      nginxRequests:
        none.nginxRequests === undefined || browser.nginxRequests === undefined
          ? undefined
          : fraction(none.nginxRequests, browser.nginxRequests),
      appRequests: fraction(none.appRequests, browser.appRequests),
      bytes: fraction(none.bytesReceived, browser.bytesReceived),
    },
    seed: SEED_CACHE,
    seedScaled: cacheArithmetic(
      none.clientRequests,
      none.stylesheetRequests / Math.max(1, none.clientRequests),
      options.visitors / Math.max(1, visits),
    ),
  };
}
