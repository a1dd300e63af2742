import { hammer, type HammerResult } from '../hammer.ts';
import { littlesLaw, type LittlesLaw } from '../littles-law.ts';
import type { Progress } from '../progress.ts';
import { runInfo, type RunInfo } from '../run-info.ts';
import { scrapeApps, totalCounters } from '../scrape.ts';
import { shortNames, type Target } from '../target.ts';

export interface RedirectsOptions {
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
}

export const REDIRECTS_DEFAULTS: RedirectsOptions = { connections: 64, durationSeconds: 10, warmupSeconds: 1 };

export interface RedirectsResult {
  scenario: 'redirects';
  run: RunInfo;
  target: { url: string; apps: number };
  options: RedirectsOptions;
  load: HammerResult;
  /** A closed loop keeps `connections` requests in flight, so λ·W must come out at that number. */
  littlesLaw: LittlesLaw;
  names: number;
  appRequests: number;
  perSecond: Array<{ second: number; rps: number }>;
}

/** GET /<name> → 303 through nginx as fast as `connections` keep-alive connections can go. */
export async function runRedirects(target: Target, options: RedirectsOptions, progress: Progress): Promise<RedirectsResult> {
  const run = runInfo();
  const names = await shortNames(target, 100);
  const requests = names.map((name) => ({ method: 'GET' as const, path: `/${name}` }));
  if (options.warmupSeconds > 0) {
    progress.log(`warming up for ${options.warmupSeconds} s (not measured)`);
    await hammer({ url: target.url, connections: options.connections, durationSeconds: options.warmupSeconds, requests });
  }
  const before = totalCounters(await scrapeApps(target.metricsUrls));
  progress.log(`${options.connections} connections for ${options.durationSeconds} s of GET /<name> against ${target.url}`);
  const perSecond: RedirectsResult['perSecond'] = [];
  const load = await hammer({
    url: target.url,
    connections: options.connections,
    durationSeconds: options.durationSeconds,
    requests,
    onTick: ({ elapsed, requests: count, rps }) => {
      perSecond.push({ second: Math.round(elapsed), rps });
      progress.log(`${count} requests, ${Math.round(rps)} req/s, in flight: ${options.connections} (closed loop)`);
    },
  });
  const after = totalCounters(await scrapeApps(target.metricsUrls));
  return {
    scenario: 'redirects',
    run,
    target: { url: target.url, apps: target.metricsUrls.length },
    options,
    load,
    littlesLaw: littlesLaw(load.requests, load.durationSeconds, load.latency.mean / 1000),
    names: names.length,
    appRequests: after.requests - before.requests,
    perSecond,
  };
}
