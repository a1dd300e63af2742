import { compare, littlesLaw, seedInFlight, type Comparison, type LittlesLaw } from '../littles-law.ts';
import type { LatencySummary } from '../latency.ts';
import { PageViewLoad, type RequestKind } from '../page-views.ts';
import type { Progress } from '../progress.ts';
import { runInfo, type RunInfo } from '../run-info.ts';
import { InFlightSampler, meanOf, type InFlightSample } from '../sampler.ts';
import { counterDelta, scrapeApps, totalCounters } from '../scrape.ts';
import { shortNames, stylesheetPath, type Target } from '../target.ts';

export interface InFlightOptions {
  viewsPerSecond: number;
  durationSeconds: number;
  maxConcurrentViews: number;
  /** Allowed |observed − λ·W| / λ·W. */
  tolerance: number;
  warmupSeconds: number;
}

export const IN_FLIGHT_DEFAULTS: InFlightOptions = {
  viewsPerSecond: 200,
  // ~300 samples: below that, the sampling error of a mean under 1 in flight is tens of per cent.
  durationSeconds: 30,
  maxConcurrentViews: 256,
  tolerance: 0.25,
  warmupSeconds: 1,
};

export interface InFlightResult {
  scenario: 'in-flight';
  run: RunInfo;
  target: { url: string; apps: number };
  options: InFlightOptions;
  client: {
    requests: number;
    failed: number;
    dropped: number;
    windowSeconds: number;
    statuses: Record<string, number>;
    latencyMs: Record<RequestKind | 'all', LatencySummary>;
  };
  /** λ, W and L = λ·W at the client (all three requests) and at the apps (page and redirect). */
  littlesLaw: { client: LittlesLaw; apps: LittlesLaw & { requests: number } };
  observed: { samples: number; failedScrapes: number; client: number; apps: number; nginx: number; nginxActiveConnections: number };
  /** Every client request passes nginx, so λ is the client's and W at nginx follows: L / λ. */
  nginxDerivedW: number;
  comparisons: Comparison[];
  /** The boundaries nest (apps inside nginx inside the client), so must their in-flight counts. */
  nesting: { holds: boolean; apps: number; nginx: number; client: number };
  seed: LittlesLaw;
  samples: InFlightSample[];
  /** λ·W per second of the run, from the requests answered in that second. */
  perSecond: Array<{ second: number; littleL: number }>;
}

/**
 * Page views at a constant arrival rate while the sampler reads the in-flight counts; then λ, W
 * and L = λ·W from the load generator's own timings, and from the apps' own counters, each next
 * to the mean of what was sampled at the same boundary.
 */
export async function runInFlight(target: Target, options: InFlightOptions, progress: Progress): Promise<InFlightResult> {
  const run = runInfo();
  const names = await shortNames(target, 50);
  const stylesheet = await stylesheetPath(target.url);
  const base = { baseUrl: target.url, stylesheetPath: stylesheet, names, maxConcurrentViews: options.maxConcurrentViews };

  if (options.warmupSeconds > 0) {
    progress.log(`warming up for ${options.warmupSeconds} s (not measured)`);
    await new PageViewLoad({ ...base, viewsPerSecond: options.viewsPerSecond, durationSeconds: options.warmupSeconds, origin: performance.now() }).run();
  }

  const before = totalCounters(await scrapeApps(target.metricsUrls));
  const origin = performance.now();
  const load = new PageViewLoad({ ...base, viewsPerSecond: options.viewsPerSecond, durationSeconds: options.durationSeconds, origin });
  const sampler = new InFlightSampler({
    appMetricsUrls: target.metricsUrls,
    nginxStatusUrl: target.nginxStatusUrl,
    clientCounter: load.inFlight,
    originEpochMs: performance.timeOrigin + origin,
  });
  progress.log(`${options.viewsPerSecond} page views/s (×3 requests) for ${options.durationSeconds} s against ${target.url}`);
  let lastCount = 0;
  progress.every(() => {
    const rps = load.completed - lastCount;
    lastCount = load.completed;
    const last = sampler.samples.at(-1);
    return `${load.completed} requests, ${rps} req/s, in flight now: client ${load.inFlight.value}, nginx ${last?.nginx ?? '–'}, apps ${last?.apps ?? '–'}`;
  });
  sampler.start();
  await load.run();
  const samples = await sampler.stop();
  progress.stop();
  const after = totalCounters(await scrapeApps(target.metricsUrls));

  const client = littlesLaw(load.completed, load.windowSeconds, load.latency.all.mean / 1000);
  const delta = counterDelta(before, after);
  const apps = {
    // Over the load's window, the one the samples were taken in: the apps had no other traffic.
    ...littlesLaw(delta.requests, load.windowSeconds, delta.durationCount === 0 ? 0 : delta.durationSum / delta.durationCount),
    requests: delta.requests,
  };
  const observed = {
    samples: samples.length,
    failedScrapes: sampler.failures,
    client: meanOf(samples.map((sample) => sample.client)),
    apps: meanOf(samples.map((sample) => sample.apps)),
    nginx: meanOf(samples.map((sample) => sample.nginx)),
    nginxActiveConnections: meanOf(samples.map((sample) => sample.nginxActive)),
  };
  const comparisons = [
    compare('client', client.inFlight, observed.client, options.tolerance),
    compare('apps', apps.inFlight, observed.apps, options.tolerance),
  ].filter((comparison) => !Number.isNaN(comparison.observed));
  const nesting = {
    apps: apps.inFlight,
    nginx: observed.nginx,
    client: client.inFlight,
    holds: Number.isNaN(observed.nginx) || apps.inFlight <= observed.nginx * (1 + options.tolerance) && observed.nginx <= client.inFlight * (1 + options.tolerance),
  };

  return {
    scenario: 'in-flight',
    run,
    target: { url: target.url, apps: target.metricsUrls.length },
    options,
    client: {
      requests: load.completed,
      failed: load.failed,
      dropped: load.dropped,
      windowSeconds: load.windowSeconds,
      statuses: load.statuses,
      latencyMs: {
        all: load.latency.all.summary(),
        page: load.latency.page.summary(),
        stylesheet: load.latency.stylesheet.summary(),
        redirect: load.latency.redirect.summary(),
      },
    },
    littlesLaw: { client, apps },
    observed,
    nginxDerivedW: observed.nginx / client.arrivalRate,
    comparisons,
    nesting,
    seed: seedInFlight(),
    samples,
    perSecond: load.perSecond.map((bucket, second) => ({ second, littleL: bucket.sumMs / 1000 })),
  };
}
