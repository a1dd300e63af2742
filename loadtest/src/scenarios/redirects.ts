import type { LoadResult } from '../analysis/latency.ts';
import { type LittlesLaw, littlesLaw } from '../analysis/littles-law.ts';
import { k6Scenario } from '../k6.ts';
import { latencyOf, perSecond, requestWindow, statusCounts } from '../observers/request-log.ts';
import { scrapeApps, totalCounters } from '../observers/scrape.ts';
import type { Progress } from '../progress.ts';
import { type RunInfo, runInfo } from '../report/run-info.ts';
import { shortNames, type Target } from '../target/target.ts';

export interface RedirectsOptions {
  rate: number;
  durationSeconds: number;
  warmupSeconds: number;
}

export const REDIRECTS_DEFAULTS: RedirectsOptions = { rate: 1000, durationSeconds: 10, warmupSeconds: 1 };

export interface RedirectsResult {
  scenario: 'redirects';
  run: RunInfo;
  target: { url: string; apps: number };
  options: RedirectsOptions;
  /** k6 ran k6/redirects.ts; its thresholds (p99, failures, dropped arrivals) are the goal. */
  k6: { exitCode: number; thresholdsMet: boolean };
  load: LoadResult & {
    /** Arrivals k6 dropped for want of a VU. */
    dropped: number;
  };
  /** Open model: L = λ·W is how many redirects were in flight on average. */
  littlesLaw: LittlesLaw;
  names: number;
  appRequests: number;
  perSecond: Array<{ second: number; rps: number }>;
}

/** GET /<name> → 303 through nginx at a constant arrival rate, from k6 (k6/redirects.ts). */
export async function runRedirects(
  target: Target,
  options: RedirectsOptions,
  progress: Progress,
  command: string,
): Promise<RedirectsResult> {
  const run = runInfo(command);
  const names = await shortNames(target, 100);
  const env = { BASE_URL: target.url, NAMES: names.join(','), RATE: String(options.rate) };
  if (options.warmupSeconds > 0) {
    progress.log(`warming up for ${options.warmupSeconds} s (not measured)`);
    await k6Scenario(
      'redirects',
      { ...env, DURATION: String(options.warmupSeconds) },
      options.warmupSeconds,
      progress,
      'redirects',
      target.k6Client,
    );
  }
  const before = totalCounters(await scrapeApps(target.metricsUrls));
  progress.log(`k6: ${options.rate} GET /<name> a second for ${options.durationSeconds} s against ${target.url}`);
  const { k6, answer, requests } = await k6Scenario(
    'redirects',
    { ...env, DURATION: String(options.durationSeconds) },
    options.durationSeconds,
    progress,
    'redirects',
    target.k6Client,
  );
  const after = totalCounters(await scrapeApps(target.metricsUrls));
  const load = requests.filter((request) => request.scenario === 'redirects');
  const window = requestWindow(load);
  const latency = latencyOf(load);
  return {
    scenario: 'redirects',
    run,
    target: { url: target.url, apps: target.metricsUrls.length },
    options,
    k6,
    load: {
      requests: load.length,
      durationSeconds: window.seconds,
      rps: load.length / window.seconds,
      latency,
      statuses: statusCounts(load),
      errors: load.filter((request) => request.status === 0).length,
      dropped: answer.summary.metrics.dropped_iterations?.values.count ?? 0,
    },
    littlesLaw: littlesLaw(load.length, window.seconds, latency.mean / 1000),
    names: names.length,
    appRequests: after.requests - before.requests,
    perSecond: perSecond(load, window.start).map(({ second, requests: count }) => ({ second, rps: count })),
  };
}
