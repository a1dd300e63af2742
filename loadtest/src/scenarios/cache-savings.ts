import { CACHE_POLICIES, type CachePolicy } from '../browser-cache.ts';
import { SEED_CACHE, cacheArithmetic, type CacheArithmetic } from '../littles-law.ts';
import type { Progress } from '../progress.ts';
import { runInfo, type RunInfo } from '../run-info.ts';
import { scrapeApps, scrapeNginx, totalCounters } from '../scrape.ts';
import { shortNames, type Target } from '../target.ts';
import { VisitorLoad, type VisitTotals } from '../visitors.ts';

export interface CacheSavingsOptions {
  visitors: number;
  visitsPerVisitor: number;
}

export const CACHE_SAVINGS_DEFAULTS: CacheSavingsOptions = { visitors: 40, visitsPerVisitor: 100 };

export interface CachePhase {
  policy: CachePolicy;
  description: string;
  seconds: number;
  totals: VisitTotals;
  /** Requests nginx counted (stub_status `requests` delta, less the status request itself). */
  nginxRequests: number | undefined;
  /** Requests the apps answered (Σ http_requests_total deltas, scrapes and health checks left out). */
  appRequests: number;
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
 * The same visitors three times over, each time with fresh browsers of one kind (no cache, always
 * revalidate, honour Cache-Control), counting what the browsers sent, what reached nginx and what
 * reached the apps. The nginx and app counters are read before and after each phase with no other
 * traffic in between, so the deltas are exact.
 */
export async function runCacheSavings(target: Target, options: CacheSavingsOptions, progress: Progress): Promise<CacheSavingsResult> {
  const run = runInfo();
  const names = await shortNames(target, 50);
  const phases: CachePhase[] = [];
  for (const policy of PHASES) {
    const nginxBefore = target.nginxStatusUrl === undefined ? undefined : await scrapeNginx(target.nginxStatusUrl);
    const appsBefore = totalCounters(await scrapeApps(target.metricsUrls));
    const load = new VisitorLoad({ baseUrl: target.url, visitors: options.visitors, visitsPerVisitor: options.visitsPerVisitor, policy, names });
    progress.log(`${policy}: ${options.visitors} visitors × ${options.visitsPerVisitor} visits — ${CACHE_POLICIES[policy]}`);
    let last = 0;
    progress.every(() => {
      const sent = load.totals.clientRequests;
      const line = `${policy}: ${load.totals.visits} visits, ${sent} requests sent, ${sent - last} req/s, ${load.totals.fromCache} from cache, in flight ${load.inFlight}`;
      last = sent;
      return line;
    });
    const started = performance.now();
    const totals = await load.run();
    const seconds = (performance.now() - started) / 1000;
    progress.stop();
    const appsAfter = totalCounters(await scrapeApps(target.metricsUrls));
    const nginxAfter = target.nginxStatusUrl === undefined ? undefined : await scrapeNginx(target.nginxStatusUrl);
    phases.push({
      policy,
      description: CACHE_POLICIES[policy],
      seconds,
      totals,
      // stub_status counts the request that asks for it: the after-scrape is in the delta.
      nginxRequests: nginxBefore === undefined || nginxAfter === undefined ? undefined : nginxAfter.requests - nginxBefore.requests - 1,
      appRequests: appsAfter.requests - appsBefore.requests,
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
      clientRequests: fraction(none.totals.clientRequests, browser.totals.clientRequests),
      nginxRequests: none.nginxRequests === undefined || browser.nginxRequests === undefined ? undefined : fraction(none.nginxRequests, browser.nginxRequests),
      appRequests: fraction(none.appRequests, browser.appRequests),
      bytes: fraction(none.totals.bytesReceived, browser.totals.bytesReceived),
    },
    seed: SEED_CACHE,
    seedScaled: cacheArithmetic(
      none.totals.clientRequests,
      none.totals.sent.stylesheet / Math.max(1, none.totals.clientRequests),
      options.visitors / Math.max(1, visits),
    ),
  };
}
