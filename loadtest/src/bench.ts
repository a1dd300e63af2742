import { relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { compileApp } from '../../app/src/stack/build.ts';
import { positive, UsageError } from './arguments.ts';
import { startHeavyTarget, startSlowTarget, type CheckTarget } from './check-targets.ts';
import { startMapCeiling, startReturnCeiling } from './bench/ceilings.ts';
import { peakRssBytes, rssBytes, trackRssSplit } from './bench/peak-rss.ts';
import { sampleRunnableTasks } from './bench/run-queue.ts';
import { combineCreations, startSteadyCreations, type SteadyCreationsResult } from './bench/steady-creations.ts';
import { majorGcs, startSlowChecks } from './bench/slow-checks.ts';
import { combineSlices, wrk, type WrkRequest, type WrkResult } from './bench/wrk.ts';
import { median } from './latency.ts';
import { Progress } from './progress.ts';
import { sumOf } from './prometheus.ts';
import { benchReport, checkLegSeconds, type BenchResult, type HeavyChecksResult, type IdleStartResult, type Leg, type SlowChecksResult } from './report/bench.ts';
import { RESULTS_DIR, writeResults } from './report/write.ts';
import { runInfo } from './run-info.ts';
import { scrapeSamples } from './scrape.ts';
import { openTarget, shortNames, type Target } from './target.ts';
import { makeTestCa } from './test-ca.ts';

/**
 * `npm run bench`: where the time goes on the hot path, in one run on one machine. Redirect
 * throughput of (1) nginx alone, (2) nginx over minimal node:http processes, (3) one app process
 * alone, (4) the whole stack as shipped; the p99 of redirects with slow URI checks in flight and
 * with CPU-heavy checks (HTTPS, gzip) arriving at a steady rate, the checks in the pool and on the
 * main thread; bookmark creation throughput; what the first check after the pool's worker retired
 * costs; peak RSS per app, split. The apps run the build (app/dist), as production does.
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
  /** Creations a second, over all apps, each checking the CPU-heavy HTTPS site. */
  heavyRate: number;
  /**
   * CHECK_WORKER_IDLE_MS of the bench's stacks: short, so a retired worker can be waited for, but
   * longer than the other stack's turn in the heavy-check leg (a slice, ~2 s), or the pool's worker
   * retires between its own slices and starts each one cold (at 2 s: p99 30.5 against 8.7 ms).
   */
  workerIdleMs: number;
}

export const BENCH_DEFAULTS: BenchOptions = {
  connections: 64,
  durationSeconds: 10,
  instances: 2,
  slowChecks: 200,
  slowTargetDelayMs: 25_000,
  heavyRate: 100,
  workerIdleMs: 5000,
};

/** Runs one of a leg's wrk runs (`warmingUp`: its warm-up) inside whatever the leg needs around it. */
type Around = <T>(run: () => Promise<T>, warmingUp: boolean) => Promise<T>;
const alone: Around = (run) => run();

type CheckMode = 'pool' | 'inline';
const CHECK_MODES: readonly CheckMode[] = ['pool', 'inline'];

/** A stack the bench started, with the CPU-heavy HTTPS site its checks trust for the run. */
type HeavyTarget = Target & { heavySite: CheckTarget };

/** One of legs measured in turns. */
interface TurnLeg {
  label: string;
  url: string;
  around?: Around;
}

/** Times the first check after the worker retired this many times (each waits out the idle spell). */
const IDLE_START_SAMPLES = 3;

/** A leg is wrk runs of this long, back to back; combineSlices says why. */
const SLICE_SECONDS = 2;

/**
 * The ceiling (2) and the stack (4) run this many legs' worth of slices each: two targets are
 * their ratios, and on a shared host one slice's p99 moves by half from the next. Two runs of the
 * same code back to back read a tail of 1.27 and 1.73 × with five slices each.
 */
const PAIRED_LEGS = 3;

export async function runBench(options: BenchOptions, progress: Progress): Promise<BenchResult> {
  const started = performance.now();
  const run = runInfo();
  const warmup = Math.max(1, Math.round(options.durationSeconds / 5));
  const shorter = checkLegSeconds(options.durationSeconds);
  const names = Array.from({ length: 100 }, (_, i) => `bench-${i}`);
  const redirects: WrkRequest[] = names.map((name) => ({ method: 'GET', path: `/${name}` }));

  const measure = async (label: string, url: string, seconds: number, requests: WrkRequest[]): Promise<Leg> => {
    const [leg] = await measureTogether([{ label, url }], seconds, requests);
    if (leg === undefined) throw new Error(`no result for ${label}`);
    return leg;
  };
  /**
   * Legs measured in turns, a slice of each then the next (in reverse order every other round), so
   * that a machine that speeds up or slows down meanwhile moves them all alike. Measured a minute
   * apart, the stack (4) read 0.66, 0.73 and 0.70 of the ceiling (2) in three runs of the same code
   * on a shared host.
   */
  const measureTogether = async (legs: ReadonlyArray<TurnLeg>, seconds: number, requests: WrkRequest[]): Promise<Leg[]> => {
    const run = (leg: TurnLeg, durationSeconds: number, warmingUp: boolean) => (leg.around ?? alone)(async () => {
      const runnable = sampleRunnableTasks();
      // Stopped whatever wrk did: a sampler left running keeps the process alive (a failed bench test hung).
      try {
        const load = await wrk({ url: leg.url, connections: options.connections, durationSeconds, requests });
        return { load, runnableTasks: runnable.stop() };
      } finally {
        runnable.stop();
      }
    }, warmingUp);
    for (const leg of legs) await run(leg, warmup, true);
    const labels = legs.map(({ label }) => label).join(' and ');
    const started = performance.now();
    progress.every(() => `${labels}: ${((performance.now() - started) / 1000).toFixed(0)} of ${seconds * legs.length} s`);
    try {
      // An odd count, so the median is one slice's figure: of four, two stalled slices of the
      // shorter legs decided the mean of the middle two.
      const slices = Math.max(1, Math.round(seconds / SLICE_SECONDS)) | 1;
      const results = legs.map(() => ({ slices: [] as WrkResult[], runnable: [] as number[] }));
      for (let i = 0; i < slices; i++) {
        const order = legs.map((_, index) => index);
        if (i % 2 === 1) order.reverse();
        for (const index of order) {
          const leg = legs[index];
          const result = results[index];
          if (leg === undefined || result === undefined) continue;
          const { load, runnableTasks } = await run(leg, seconds / slices, false);
          result.slices.push(load);
          if (runnableTasks !== undefined) result.runnable.push(runnableTasks);
        }
      }
      return legs.map(({ label }, index) => {
        const { slices: measured, runnable } = results[index] ?? { slices: [], runnable: [] };
        const result = combineSlices(measured);
        progress.log(`${label}: ${Math.round(result.rps)} req/s, p99 ${result.latency.p99.toFixed(2)} ms`);
        const runnableTasks = runnable.length === 0 ? undefined : runnable.reduce((a, b) => a + b, 0) / runnable.length;
        return { name: label, ...result, ...(runnableTasks !== undefined && { runnableTasks }) };
      });
    } finally {
      progress.stop();
    }
  };
  /** Each stack's peaks, in the order the stacks started (the main thread's ends before the pool's). */
  const rss = new Map<string, BenchResult['rss']>();
  /** Runs `legs` on a stack while sampling its apps' memory, then records each app's peaks. */
  const trackingRss = async <T>(label: string, target: Target, legs: () => Promise<T>): Promise<T> => {
    const rows: BenchResult['rss'] = [];
    rss.set(label, rows);
    const split = trackRssSplit(() => target.pids());
    let result: T;
    try {
      result = await legs();
    } catch (error) {
      split.stop(); // its timer would keep the process alive
      throw error;
    }
    const peaks = split.stop();
    target.pids().forEach((pid, i) => {
      const peak = pid === undefined ? undefined : peakRssBytes(pid);
      const now = pid === undefined ? undefined : rssBytes(pid);
      const parts = pid === undefined ? undefined : peaks.get(pid);
      if (peak !== undefined && now !== undefined && parts !== undefined) {
        rows.push({ stack: label, app: i + 1, peakBytes: peak, rssBytes: now, peakAnonymousBytes: parts.anonymousBytes, peakFileBytes: parts.fileBytes });
      }
    });
    return result;
  };
  progress.log('building app/dist (npm run build): the apps run compiled JavaScript, as in production');
  const serverEntry = await compileApp();
  /**
   * The stack as shipped (nginx's access log on, the apps logging failures), with names to follow,
   * and the CPU-heavy HTTPS site its checks trust for this run only (a CA made now, gone on stop).
   */
  const stack = async (instances: number, env: Record<string, string>): Promise<HeavyTarget> => {
    const ca = await makeTestCa();
    const heavySite = await startHeavyTarget(ca);
    const removeSite = async (): Promise<void> => {
      await heavySite.close();
      ca.remove();
    };
    let target: Target | undefined;
    try {
      target = await openTarget({
        instances,
        logging: true,
        serverEntry,
        env: {
          CHECK_TIMEOUT_MS: String(options.slowTargetDelayMs + 10_000),
          CHECK_WORKER_IDLE_MS: String(options.workerIdleMs),
          CHECK_EXTRA_CA_FILE: ca.caFile,
          ...env,
        },
      });
      await shortNames(target, names.length, 'bench-');
    } catch (error) {
      await target?.stop();
      await removeSite();
      throw error;
    }
    const started = target;
    return { ...started, heavySite, stop: async () => {
      await started.stop();
      await removeSite();
    } };
  };
  const using = async <S extends { stop(): Promise<void> }, T>(server: S, use: (server: S) => Promise<T>): Promise<T> => {
    try {
      return await use(server);
    } finally {
      await server.stop();
    }
  };
  /** Redirect latency without, then with, slow checks in flight on the same stack. */
  const slowChecks = async (target: Target, mode: CheckMode): Promise<SlowChecksResult> => {
    const gcsAtStart = await majorGcs(target.metricsUrls);
    const without = await measure(`${mode}: redirects, no checks`, target.url, shorter, redirects);
    const majorGcsWithout = (await majorGcs(target.metricsUrls)) - gcsAtStart;
    const slowTarget = await startSlowTarget(options.slowTargetDelayMs);
    try {
      const checks = await startSlowChecks({ appUrls: target.appUrls, metricsUrls: target.metricsUrls, slowTarget, count: options.slowChecks, tag: mode });
      progress.log(`${mode}: ${checks.reported} checks running or queued; the apps' in-flight gauges say ${checks.gauge}`);
      const gcsBefore = await majorGcs(target.metricsUrls);
      // Warmed up as every leg is: the check thread has just started for these checks (its start
      // is measured on its own, below), and the question is the tail while they wait.
      const withChecks = await measure(`${mode}: redirects, ${options.slowChecks} slow checks`, target.url, shorter, redirects);
      const majorGcsWith = (await majorGcs(target.metricsUrls)) - gcsBefore;
      // Closing the slow site fails every waiting check at once, so the creations are answered.
      await slowTarget.close();
      const creationStatuses = await checks.settle();
      return { without, with: withChecks, checksReported: checks.reported, inFlightGauge: checks.gauge, creationStatuses, majorGcs: { without: majorGcsWithout, with: majorGcsWith } };
    } finally {
      await slowTarget.close();
    }
  };

  /**
   * Redirect latency while creations arrive at a steady rate, each checking the CPU-heavy site: the
   * pool's stack and the main thread's in turns, a slice of one then of the other, the creations
   * sent only to the stack being measured (through its warm-up too, so the check code is warm).
   * Measured a minute apart, the machine's drift in between decided which came out lower.
   */
  const heavyChecks = async (stacks: Record<CheckMode, HeavyTarget>, without: Record<CheckMode, Leg>): Promise<Record<CheckMode, HeavyChecksResult>> => {
    const created: Record<CheckMode, SteadyCreationsResult[]> = { pool: [], inline: [] };
    let runs = 0;
    const withCreations = (mode: CheckMode): Around => async (run, warmingUp) => {
      const target = stacks[mode];
      const creations = startSteadyCreations({ appUrls: target.appUrls, uri: `${target.heavySite.url}/page/{n}`, ratePerSecond: options.heavyRate, tag: `${mode}${runs++}` });
      try {
        return await run();
      } finally {
        const result = await creations.stop();
        if (!warmingUp) created[mode].push(result);
      }
    };
    const [pool, inline] = await measureTogether(CHECK_MODES.map((mode) => ({
      label: `${mode}: redirects, ${options.heavyRate} HTTPS checks/s`,
      url: stacks[mode].url,
      around: withCreations(mode),
    })), shorter, redirects);
    if (pool === undefined || inline === undefined) throw new Error('the two modes were not both measured');
    const result = (mode: CheckMode, leg: Leg): HeavyChecksResult => {
      const creations = combineCreations(created[mode]);
      progress.log(`${mode}: ${creations.sent} heavy creations at ${creations.ratePerSecond.toFixed(0)}/s, p50 ${creations.p50.toFixed(1)} ms, p99 ${creations.p99.toFixed(1)} ms`);
      return { without: without[mode], with: leg, creations };
    };
    return { pool: result('pool', pool), inline: result('inline', inline) };
  };
  /** One creation right after the first app's worker retired, then one with it running. */
  const idleStart = async (target: Target): Promise<IdleStartResult> => {
    const appUrl = target.appUrls[0];
    const metricsUrl = target.metricsUrls[0];
    if (appUrl === undefined || metricsUrl === undefined) throw new Error('no app process to time a first check on');
    const cold: number[] = [];
    const warm: number[] = [];
    const create = async (name: string): Promise<number> => {
      const started = performance.now();
      const response = await request(`${appUrl}/api/bookmarks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ uri: `${target.checkTarget.url}/idle/${name}`, name }),
      });
      const text = await response.body.text();
      if (response.statusCode !== 201) throw new Error(`creating ${name} answered ${response.statusCode}: ${text.slice(0, 200)}`);
      return performance.now() - started;
    };
    for (let i = 0; i < IDLE_START_SAMPLES; i++) {
      const deadline = Date.now() + options.workerIdleMs + 15_000;
      while ((await checkThreads(metricsUrl)) > 0) {
        if (Date.now() > deadline) throw new Error(`the check worker did not retire within ${options.workerIdleMs} ms of idling`);
        await sleep(100);
      }
      cold.push(await create(`idle-cold-${i}`));
      warm.push(await create(`idle-warm-${i}`));
    }
    progress.log(`first check after the worker retired: ${cold.map((ms) => ms.toFixed(0)).join(', ')} ms; with it running: ${warm.map((ms) => ms.toFixed(0)).join(', ')} ms`);
    return { coldMs: median(cold), warmMs: median(warm), samples: IDLE_START_SAMPLES };
  };

  progress.log(`(1) nginx alone, return 303 — ${options.connections} connections, ${options.durationSeconds} s a leg`);
  const returnCeiling = await using(await startReturnCeiling(), (server) => measure('(1) nginx: return 303', server.url, options.durationSeconds, redirects));
  const oneApp = await using(await stack(1, {}), (target) =>
    trackingRss('one app', target, () => measure('(3) one app process, no nginx', target.appUrls[0] ?? '', options.durationSeconds, redirects)));
  /** Every POST a new name, each checked against the fast local site. */
  const creations = async (target: Target, mode: CheckMode): Promise<Leg> => {
    const requests: WrkRequest[] = [{
      method: 'POST',
      path: '/api/bookmarks',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uri: `${target.checkTarget.url}/created/{n}`, name: 'created-{n}' }),
    }];
    return measure(`${mode}: POST /api/bookmarks`, target.url, shorter, requests);
  };
  // Both modes run the same legs (slow checks, heavy checks, then creations), so their peak RSS
  // compares; the main thread's stack starts when the pool's has done its own legs, and the two
  // are up together for the heavy checks, measured in turns.
  const results = await using(await stack(options.instances, { CHECK_MODE: 'pool' }), (poolTarget) =>
    trackingRss(`stack (${options.instances} apps, pool)`, poolTarget, async () => {
      // The ceiling (2) in turns with the stack (4): the tail's ratio is of these two.
      const [mapCeiling, fullStack] = await using(await startMapCeiling(options.instances), (server) => measureTogether([
        { label: `(2) nginx → ${options.instances} × node:http Map`, url: server.url },
        { label: `(4) nginx → ${options.instances} app processes`, url: poolTarget.url },
      ], options.durationSeconds * PAIRED_LEGS, redirects));
      if (mapCeiling === undefined || fullStack === undefined) throw new Error('the ceiling and the stack were not both measured');
      // After a spell of redirects only, as in production: the worker has retired meanwhile.
      const idle = await idleStart(poolTarget);
      const pool = await slowChecks(poolTarget, 'pool');
      return using(await stack(options.instances, { CHECK_MODE: 'inline' }), (inlineTarget) =>
        trackingRss(`stack (${options.instances} apps, inline)`, inlineTarget, async () => {
          const inline = await slowChecks(inlineTarget, 'inline');
          const heavy = await heavyChecks({ pool: poolTarget, inline: inlineTarget }, { pool: pool.without, inline: inline.without });
          const create = { pool: await creations(poolTarget, 'pool'), inline: await creations(inlineTarget, 'inline') };
          return { mapCeiling, fullStack, idle, slow: { pool, inline }, heavy, create };
        }));
    }));
  const { mapCeiling, fullStack } = results;

  return {
    scenario: 'bench',
    run,
    options,
    throughput: { returnCeiling, mapCeiling, oneApp, fullStack },
    ratios: { stackOverReturn: fullStack.rps / returnCeiling.rps, stackOverMap: fullStack.rps / mapCeiling.rps },
    slowChecks: results.slow,
    heavyChecks: results.heavy,
    create: results.create,
    idleStart: results.idle,
    rss: [...rss.values()].flat(),
    elapsedSeconds: (performance.now() - started) / 1000,
  };
}

/** Check worker threads an app reports alive (linkyard_check_threads). */
async function checkThreads(metricsUrl: string): Promise<number> {
  return sumOf(await scrapeSamples(metricsUrl), 'linkyard_check_threads');
}

function parseBenchArgs(args: string[]) {
  const options = {
    duration: { type: 'string' },
    connections: { type: 'string' },
    instances: { type: 'string' },
    checks: { type: 'string' },
    'heavy-rate': { type: 'string' },
    out: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  } as const;
  try {
    return parseArgs({ args, options });
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\nnpm run bench -- [--duration S] [--connections N] [--instances N] [--checks N] [--heavy-rate N] [--out DIR] [--quiet]`);
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
      heavyRate: positive('heavy-rate', values['heavy-rate'], BENCH_DEFAULTS.heavyRate),
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
