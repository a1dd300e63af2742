import { compileApp } from '../../../stack/src/build.ts';
import type { Progress } from '../progress.ts';
import { type BenchResult, checkLegSeconds, type Leg, type RssEntry } from '../report/bench.ts';
import { runInfo } from '../report/run-info.ts';
import type { BenchContext } from './context.ts';
import { creationsLeg } from './legs/creations.ts';
import { heavyChecksLeg } from './legs/heavy-checks.ts';
import { idleStartLeg } from './legs/idle-start.ts';
import { slowChecksLeg, withoutChecks } from './legs/slow-checks.ts';
import { statsLeg } from './legs/stats.ts';
import { oneAppLeg, returnCeilingLeg, stackLeg } from './legs/throughput.ts';
import { tlsLeg } from './legs/tls.ts';
import { Measurer } from './measure.ts';
import { type BenchOptions, CHECK_MODES, type CheckMode, LEG_NAMES, type LegName } from './options.ts';
import { BENCH_NAMES, type HeavyTarget, startBenchStack, trackingRss, using } from './stacks.ts';

/**
 * `npm run bench`: where the time goes on the hot path, in one run on one machine: the selected
 * legs (all by default, in LEG_NAMES' order), each starting only the servers it needs. Both check
 * modes run the same legs on stacks of their own (the main thread's starts when the pool's has done
 * its own legs, and the two are up together for the heavy checks), so their peak RSS compares.
 * Peak RSS is sampled on every stack that starts. The apps run the build (app/dist), as production
 * does. Targets are reported with a mark, never asserted: a measurement, not a test.
 */
export async function runBench(
  options: BenchOptions,
  progress: Progress,
  command: string,
  legs: readonly LegName[] = LEG_NAMES,
): Promise<BenchResult> {
  const started = performance.now();
  const run = runInfo(command);
  const selected = new Set(legs);
  const context: BenchContext = {
    options,
    progress,
    measurer: new Measurer(options, progress),
    redirects: BENCH_NAMES.map((name) => ({ method: 'GET', path: `/${name}` })),
    checkLegSeconds: checkLegSeconds(options.durationSeconds),
  };
  const result: BenchResult = {
    scenario: 'bench',
    run,
    options,
    legs: LEG_NAMES.filter((leg) => selected.has(leg)),
    throughput: {},
    rss: [],
    elapsedSeconds: 0,
  };
  const rss: RssEntry[][] = [];
  const needs = (...names: LegName[]) => names.some((name) => selected.has(name));

  if (selected.has('return-ceiling')) result.throughput.returnCeiling = await returnCeilingLeg(context);
  const serverEntry = needs('one-app', 'stack', 'idle-start', 'slow-checks', 'heavy-checks', 'creations', 'stats', 'tls')
    ? await build(progress)
    : undefined;
  if (serverEntry !== undefined && selected.has('one-app')) {
    result.throughput.oneApp = await using(await startBenchStack(options, serverEntry, 1, {}), (target) =>
      trackingRss('one app', target, rss, () => oneAppLeg(context, target)),
    );
  }
  if (serverEntry !== undefined && needs('stack', 'idle-start', 'slow-checks', 'heavy-checks', 'creations')) {
    const stackOf = (mode: CheckMode) => startBenchStack(options, serverEntry, options.instances, { CHECK_MODE: mode });
    await using(await stackOf('pool'), (pool) =>
      trackingRss(`stack (${options.instances} apps, pool)`, pool, rss, async () => {
        if (selected.has('stack')) Object.assign(result.throughput, await stackLeg(context, pool));
        // After a spell of redirects only, as in production: the worker has retired meanwhile.
        if (selected.has('idle-start')) result.idleStart = await idleStartLeg(context, pool);
        const poolSlow = selected.has('slow-checks') ? await slowChecksLeg(context, pool, 'pool') : undefined;
        if (!needs('slow-checks', 'heavy-checks', 'creations')) return;
        await using(await stackOf('inline'), (inline) =>
          trackingRss(`stack (${options.instances} apps, inline)`, inline, rss, async () => {
            const stacks: Record<CheckMode, HeavyTarget> = { pool, inline };
            if (poolSlow !== undefined) result.slowChecks = { pool: poolSlow, inline: await slowChecksLeg(context, inline, 'inline') };
            if (selected.has('heavy-checks')) {
              const without =
                result.slowChecks === undefined
                  ? await withoutChecksOfEach(context, stacks)
                  : { pool: result.slowChecks.pool.without, inline: result.slowChecks.inline.without };
              result.heavyChecks = await heavyChecksLeg(context, stacks, without);
            }
            if (selected.has('creations'))
              result.create = { pool: await creationsLeg(context, pool, 'pool'), inline: await creationsLeg(context, inline, 'inline') };
          }),
        );
      }),
    );
  }
  if (serverEntry !== undefined && selected.has('stats')) result.stats = await statsLeg(context, serverEntry);
  if (serverEntry !== undefined && selected.has('tls')) result.tls = await tlsLeg(context, serverEntry);
  const { returnCeiling, mapCeiling, fullStack } = result.throughput;
  if (fullStack !== undefined) {
    result.ratios = {
      ...(returnCeiling !== undefined && { stackOverReturn: fullStack.rps / returnCeiling.rps }),
      ...(mapCeiling !== undefined && { stackOverMap: fullStack.rps / mapCeiling.rps }),
    };
  }
  result.rss = rss.flat();
  result.elapsedSeconds = (performance.now() - started) / 1000;
  return result;
}

async function build(progress: Progress): Promise<string> {
  progress.log('building app/dist (npm run build): the apps run compiled JavaScript, as in production');
  return compileApp();
}

/** The heavy-check leg's baseline when the slow-check leg, which measures it, did not run. */
async function withoutChecksOfEach(context: BenchContext, stacks: Record<CheckMode, HeavyTarget>): Promise<Record<CheckMode, Leg>> {
  const without: Partial<Record<CheckMode, Leg>> = {};
  for (const mode of CHECK_MODES) without[mode] = await withoutChecks(context, stacks[mode], mode);
  if (without.pool === undefined || without.inline === undefined) throw new Error('no baseline for both modes');
  return { pool: without.pool, inline: without.inline };
}
