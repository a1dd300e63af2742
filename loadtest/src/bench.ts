import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { positive, UsageError } from './arguments.ts';
import { startSlowTarget } from './check-targets.ts';
import { startMapCeiling, startReturnCeiling } from './bench/ceilings.ts';
import { anonymousBytes, peakRssBytes, rssBytes } from './bench/peak-rss.ts';
import { sampleRunnableTasks } from './bench/run-queue.ts';
import { startSlowChecks } from './bench/slow-checks.ts';
import { combineSlices, wrk, type WrkRequest, type WrkResult } from './bench/wrk.ts';
import { Progress } from './progress.ts';
import { benchReport, type BenchResult, type Leg, type SlowChecksResult } from './report/bench.ts';
import { RESULTS_DIR, writeResults } from './report/write.ts';
import { runInfo } from './run-info.ts';
import { openTarget, shortNames, type Target } from './target.ts';

/**
 * `npm run bench`: where the time goes on the hot path, in one run on one machine. Redirect
 * throughput of (1) nginx alone, (2) nginx over minimal node:http processes, (3) one app process
 * alone, (4) the whole stack as shipped; the p99 of redirects with slow URI checks in flight, the
 * checks in the pool and on the main thread; bookmark creation throughput; peak RSS per app.
 * Targets are reported with a mark, never asserted: this is a measurement, not a test.
 */
export interface BenchOptions {
  connections: number;
  /** Seconds of each throughput leg, after a warm-up of a fifth of it (whole seconds: wrk counts no finer). */
  durationSeconds: number;
  instances: number;
  slowChecks: number;
  /** How long the slow target takes to answer: longer than a measurement with checks in flight. */
  slowTargetDelayMs: number;
}

export const BENCH_DEFAULTS: BenchOptions = {
  connections: 64,
  durationSeconds: 10,
  instances: 2,
  slowChecks: 200,
  slowTargetDelayMs: 25_000,
};

/** A leg is wrk runs of this long, back to back; combineSlices says why. */
const SLICE_SECONDS = 2;

export async function runBench(options: BenchOptions, progress: Progress): Promise<BenchResult> {
  const started = performance.now();
  const run = runInfo();
  const warmup = Math.max(1, Math.round(options.durationSeconds / 5));
  const shorter = Math.max(1, options.durationSeconds * 0.8);
  const names = Array.from({ length: 100 }, (_, i) => `bench-${i}`);
  const redirects: WrkRequest[] = names.map((name) => ({ method: 'GET', path: `/${name}` }));

  const measure = async (label: string, url: string, seconds: number, requests: WrkRequest[], warm = true): Promise<Leg> => {
    if (warm) await wrk({ url, connections: options.connections, durationSeconds: warmup, requests });
    const legStarted = performance.now();
    progress.every(() => `${label}: ${((performance.now() - legStarted) / 1000).toFixed(0)} of ${seconds} s`);
    try {
      const runnable = sampleRunnableTasks();
      const slices = Math.max(1, Math.round(seconds / SLICE_SECONDS));
      const results: WrkResult[] = [];
      for (let i = 0; i < slices; i++) {
        results.push(await wrk({ url, connections: options.connections, durationSeconds: seconds / slices, requests }));
      }
      const result = combineSlices(results);
      const runnableTasks = runnable.stop();
      progress.log(`${label}: ${Math.round(result.rps)} req/s, p99 ${result.latency.p99.toFixed(2)} ms`);
      return { name: label, ...result, ...(runnableTasks !== undefined && { runnableTasks }) };
    } finally {
      progress.stop();
    }
  };
  const rss: BenchResult['rss'] = [];
  const recordRss = (stack: string, target: Target) => {
    target.pids().forEach((pid, i) => {
      const peak = pid === undefined ? undefined : peakRssBytes(pid);
      const now = pid === undefined ? undefined : rssBytes(pid);
      const anonymous = pid === undefined ? undefined : anonymousBytes(pid);
      if (peak !== undefined && now !== undefined) rss.push({ stack, app: i + 1, peakBytes: peak, rssBytes: now, ...(anonymous !== undefined && { anonymousBytes: anonymous }) });
    });
  };
  /** The stack as shipped (nginx's access log on, the apps logging failures), with names to follow. */
  const stack = async (instances: number, env: Record<string, string>): Promise<Target> => {
    const target = await openTarget({ instances, logging: true, env: { CHECK_TIMEOUT_MS: String(options.slowTargetDelayMs + 10_000), ...env } });
    try {
      await shortNames(target, names.length, 'bench-');
      return target;
    } catch (error) {
      await target.stop();
      throw error;
    }
  };
  const using = async <S extends { stop(): Promise<void> }, T>(server: S, use: (server: S) => Promise<T>): Promise<T> => {
    try {
      return await use(server);
    } finally {
      await server.stop();
    }
  };
  /** Redirect latency without, then with, slow checks in flight on the same stack. */
  const slowChecks = async (target: Target, mode: 'pool' | 'inline'): Promise<SlowChecksResult> => {
    const without = await measure(`${mode}: redirects, no checks`, target.url, shorter, redirects);
    const slowTarget = await startSlowTarget(options.slowTargetDelayMs);
    try {
      const checks = await startSlowChecks({ appUrls: target.appUrls, metricsUrls: target.metricsUrls, slowTarget, count: options.slowChecks, tag: mode });
      progress.log(`${mode}: ${checks.reported} checks running or queued; the apps' in-flight gauges say ${checks.gauge}`);
      const withChecks = await measure(`${mode}: redirects, ${options.slowChecks} slow checks`, target.url, shorter, redirects, false);
      // Closing the slow site fails every waiting check at once, so the creations are answered.
      await slowTarget.close();
      const creationStatuses = await checks.settle();
      return { without, with: withChecks, checksReported: checks.reported, inFlightGauge: checks.gauge, creationStatuses };
    } finally {
      await slowTarget.close();
    }
  };

  progress.log(`(1) nginx alone, return 303 — ${options.connections} connections, ${options.durationSeconds} s a leg`);
  const returnCeiling = await using(await startReturnCeiling(), (server) => measure('(1) nginx: return 303', server.url, options.durationSeconds, redirects));
  const mapCeiling = await using(await startMapCeiling(options.instances), (server) =>
    measure(`(2) nginx → ${options.instances} × node:http Map`, server.url, options.durationSeconds, redirects));
  const oneApp = await using(await stack(1, {}), async (target) => {
    const leg = await measure('(3) one app process, no nginx', target.appUrls[0] ?? '', options.durationSeconds, redirects);
    recordRss('one app', target);
    return leg;
  });
  /** Every POST a new name, each checked against the fast local site. */
  const creations = async (target: Target, mode: 'pool' | 'inline'): Promise<Leg> => {
    const requests: WrkRequest[] = [{
      method: 'POST',
      path: '/api/bookmarks',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uri: `${target.checkTarget.url}/created/{n}`, name: 'created-{n}' }),
    }];
    return measure(`${mode}: POST /api/bookmarks`, target.url, shorter, requests);
  };
  // Both modes run the same legs (slow checks, then creations), so their peak RSS compares.
  const { fullStack, pool, poolCreate } = await using(await stack(options.instances, { CHECK_MODE: 'pool' }), async (target) => {
    const fullStack = await measure(`(4) nginx → ${options.instances} app processes`, target.url, options.durationSeconds, redirects);
    const pool = await slowChecks(target, 'pool');
    const poolCreate = await creations(target, 'pool');
    recordRss(`stack (${options.instances} apps, pool)`, target);
    return { fullStack, pool, poolCreate };
  });
  const { inline, inlineCreate } = await using(await stack(options.instances, { CHECK_MODE: 'inline' }), async (target) => {
    const inline = await slowChecks(target, 'inline');
    const inlineCreate = await creations(target, 'inline');
    recordRss(`stack (${options.instances} apps, inline)`, target);
    return { inline, inlineCreate };
  });

  return {
    scenario: 'bench',
    run,
    options,
    throughput: { returnCeiling, mapCeiling, oneApp, fullStack },
    ratios: { stackOverReturn: fullStack.rps / returnCeiling.rps, stackOverMap: fullStack.rps / mapCeiling.rps },
    slowChecks: { pool, inline },
    create: { pool: poolCreate, inline: inlineCreate },
    rss,
    elapsedSeconds: (performance.now() - started) / 1000,
  };
}

function parseBenchArgs(args: string[]) {
  const options = {
    duration: { type: 'string' },
    connections: { type: 'string' },
    instances: { type: 'string' },
    checks: { type: 'string' },
    out: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  } as const;
  try {
    return parseArgs({ args, options });
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\nnpm run bench -- [--duration S] [--connections N] [--instances N] [--checks N] [--out DIR] [--quiet]`);
  }
}

if (import.meta.filename === process.argv[1]) {
  try {
    const { values } = parseBenchArgs(process.argv.slice(2));
    const options: BenchOptions = {
      ...BENCH_DEFAULTS,
      durationSeconds: positive('duration', values.duration, BENCH_DEFAULTS.durationSeconds),
      connections: positive('connections', values.connections, BENCH_DEFAULTS.connections),
      instances: positive('instances', values.instances, BENCH_DEFAULTS.instances),
      slowChecks: positive('checks', values.checks, BENCH_DEFAULTS.slowChecks),
    };
    const progress = new Progress({ quiet: values.quiet });
    const result = await runBench(options, progress);
    const report = benchReport(result);
    const written = writeResults(values.out ?? RESULTS_DIR, 'bench', result, report);
    process.stdout.write(`\n${report.table}\n\nwritten: ${written.map((path) => relative(process.cwd(), path)).join(', ')}\n`);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(error.exitCode);
    }
    throw error;
  }
}
