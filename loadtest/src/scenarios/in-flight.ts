import type { LatencySummary } from '../analysis/latency.ts';
import { type Comparison, compare, type LittlesLaw, littlesLaw, seedInFlight } from '../analysis/littles-law.ts';
import { k6Scenario } from '../k6.ts';
import { inFlightAt, latencyOf, perSecond, requestWindow, statusCounts } from '../observers/request-log.ts';
import { InFlightSampler, meanOf } from '../observers/sampler.ts';
import { counterDelta, scrapeApps, totalCounters } from '../observers/scrape.ts';
import type { Progress } from '../progress.ts';
import { type RunInfo, runInfo } from '../report/run-info.ts';
import { shortNames, type Target } from '../target/target.ts';

export interface InFlightOptions {
  viewsPerSecond: number;
  durationSeconds: number;
  /** Allowed |observed − λ·W| / λ·W. */
  tolerance: number;
  warmupSeconds: number;
}

export const IN_FLIGHT_DEFAULTS: InFlightOptions = {
  viewsPerSecond: 200,
  // ~300 samples: below that, the sampling error of a mean under 1 in flight is tens of per cent.
  durationSeconds: 30,
  tolerance: 0.25,
  warmupSeconds: 1,
};

export type RequestKind = 'page' | 'stylesheet' | 'redirect';
/** k6/in-flight.ts names each of a page view's three requests with its `name` tag. */
const KINDS: Record<string, RequestKind> = { page: 'page', stylesheet: 'stylesheet', 'GET /:name': 'redirect' };

export interface InFlightSample {
  /** Seconds since the first request of the run was sent. */
  t: number;
  /** Requests k6 had sent and not yet seen answered at that instant (from its record of each one). */
  client: number;
  /** Σ http_requests_in_flight over the apps, less one per app for the scrape reading it. */
  apps: number | undefined;
  /** nginx Reading + Writing, less the status request. */
  nginx: number | undefined;
  nginxActive: number | undefined;
}

export interface InFlightResult {
  scenario: 'in-flight';
  run: RunInfo;
  target: { url: string; apps: number };
  options: InFlightOptions;
  /** k6 ran k6/in-flight.ts; its thresholds are the scenario's goal. */
  k6: { exitCode: number; thresholdsMet: boolean };
  client: {
    requests: number;
    failed: number;
    /** Arrivals k6 dropped for want of a VU. */
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
 * k6 sends page views at a constant arrival rate (k6/in-flight.ts) while this process samples the
 * in-flight counts of nginx and the apps beside it; then λ, W and L = λ·W from k6's record of
 * every request, and from the apps' own counters, each next to the mean of what was sampled at
 * the same boundary. The client's own in-flight count at each sample instant comes from k6's
 * record too: the requests sent before it and answered after it.
 */
export async function runInFlight(target: Target, options: InFlightOptions, progress: Progress, command: string): Promise<InFlightResult> {
  const run = runInfo(command);
  const names = await shortNames(target, 50);
  const env = {
    BASE_URL: target.url,
    NAMES: names.join(','),
    RATE: String(options.viewsPerSecond),
    TOLERANCE: String(options.tolerance),
    // This process samples nginx and the apps; k6's own sampler would be a second one.
    SAMPLE_MS: '0',
  };
  if (options.warmupSeconds > 0) {
    progress.log(`warming up for ${options.warmupSeconds} s (not measured)`);
    await k6Scenario(
      'in-flight',
      { ...env, DURATION: String(options.warmupSeconds) },
      options.warmupSeconds,
      progress,
      'in-flight',
      target.k6Client,
    );
  }

  const before = totalCounters(await scrapeApps(target.metricsUrls));
  const sampler = new InFlightSampler({ appMetricsUrls: target.metricsUrls, nginxStatusUrl: target.nginxStatusUrl });
  progress.log(
    `k6: ${options.viewsPerSecond} page views/s (×3 requests) for ${options.durationSeconds} s against ${target.url}; sampling nginx and ${target.metricsUrls.length} app(s) beside it`,
  );
  sampler.start();
  const k6Run = await k6Scenario(
    'in-flight',
    { ...env, DURATION: String(options.durationSeconds) },
    options.durationSeconds,
    progress,
    'in-flight',
    target.k6Client,
  ).finally(() => sampler.stop());
  const after = totalCounters(await scrapeApps(target.metricsUrls));
  const { answer } = k6Run;
  const load = k6Run.requests.filter((request) => request.scenario === 'page_views');
  const window = requestWindow(load);

  // Only the samples taken while the load ran: before k6's first request and after its last
  // answer, every count is 0, and they would pull the means down.
  const inWindow = sampler.samples.filter((sample) => sample.at >= window.start && sample.at <= window.end);
  const clientCounts = inFlightAt(
    load,
    inWindow.map((sample) => sample.at),
  );
  const samples: InFlightSample[] = inWindow.map((sample, i) => ({
    t: (sample.at - window.start) / 1000,
    client: clientCounts[i] ?? 0,
    apps: sample.apps,
    nginx: sample.nginx,
    nginxActive: sample.nginxActive,
  }));

  const all = latencyOf(load);
  const client = littlesLaw(load.length, window.seconds, all.mean / 1000);
  const delta = counterDelta(before, after);
  const apps = {
    // Over the load's window, the one the samples were taken in: the apps had no other traffic
    // but setup()'s one page view, read for its stylesheet link.
    ...littlesLaw(delta.requests, window.seconds, delta.durationCount === 0 ? 0 : delta.durationSum / delta.durationCount),
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
    holds:
      Number.isNaN(observed.nginx) ||
      (apps.inFlight <= observed.nginx * (1 + options.tolerance) && observed.nginx <= client.inFlight * (1 + options.tolerance)),
  };
  const ofKind = (kind: RequestKind) => latencyOf(load.filter((request) => KINDS[request.name] === kind));
  const statuses = statusCounts(load);

  return {
    scenario: 'in-flight',
    run,
    target: { url: target.url, apps: target.metricsUrls.length },
    options,
    k6: k6Run.k6,
    client: {
      requests: load.length,
      failed: load.filter((request) => request.status === 0 || request.status >= 400).length,
      dropped: answer.summary.metrics.dropped_iterations?.values.count ?? 0,
      windowSeconds: window.seconds,
      statuses,
      latencyMs: { all, page: ofKind('page'), stylesheet: ofKind('stylesheet'), redirect: ofKind('redirect') },
    },
    littlesLaw: { client, apps },
    observed,
    nginxDerivedW: observed.nginx / client.arrivalRate,
    comparisons,
    nesting,
    seed: seedInFlight(),
    samples,
    perSecond: perSecond(load, window.start).map(({ second, littleL }) => ({ second, littleL })),
  };
}
