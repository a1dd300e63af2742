import type { HeavyChecksResult, Leg } from '../../report/bench.ts';
import type { BenchContext } from '../context.ts';
import { combineCreations, type SteadyCreationsResult, withSteadyCreations } from '../load/steady-creations.ts';
import { wrkSeconds } from '../load/wrk.ts';
import type { Around } from '../measure.ts';
import { CHECK_MODES, type CheckMode } from '../options.ts';
import type { HeavyTarget } from '../stacks.ts';

/**
 * Redirect latency while creations arrive at a steady rate (k6/creations.ts), each checking the
 * CPU-heavy site: the pool's stack and the main thread's in turns, a slice of one then of the
 * other, the creations sent only to the stack being measured (through its warm-up too, so the
 * check code is warm). Measured a minute apart, the machine's drift in between decided which came
 * out lower. `without` is each stack's redirects with no check running.
 */
export async function heavyChecksLeg(
  { options, measurer, redirects, checkLegSeconds, progress }: BenchContext,
  stacks: Record<CheckMode, HeavyTarget>,
  without: Record<CheckMode, Leg>,
): Promise<Record<CheckMode, HeavyChecksResult>> {
  const created: Record<CheckMode, SteadyCreationsResult[]> = { pool: [], inline: [] };
  let runs = 0;
  const withCreations =
    (mode: CheckMode): Around =>
    async (run, durationSeconds, warmingUp) => {
      const target = stacks[mode];
      const { result, creations } = await withSteadyCreations(
        {
          appUrls: target.appUrls,
          uri: `${target.heavySite.url}/page/{n}`,
          ratePerSecond: options.heavyRate,
          // As long as the wrk run it goes with.
          durationSeconds: wrkSeconds(durationSeconds),
          tag: `${mode}${runs++}`,
        },
        progress,
        run,
      );
      if (!warmingUp) created[mode].push(creations);
      return result;
    };
  const [pool, inline] = await measurer.measureTogether(
    CHECK_MODES.map((mode) => ({
      label: `${mode}: redirects, ${options.heavyRate} HTTPS checks/s`,
      url: stacks[mode].url,
      around: withCreations(mode),
    })),
    checkLegSeconds,
    redirects,
  );
  if (pool === undefined || inline === undefined) throw new Error('the two modes were not both measured');
  const result = (mode: CheckMode, leg: Leg): HeavyChecksResult => {
    const creations = combineCreations(created[mode]);
    progress.log(
      `${mode}: ${creations.sent} heavy creations at ${creations.ratePerSecond.toFixed(0)}/s, p50 ${creations.p50.toFixed(1)} ms, p99 ${creations.p99.toFixed(1)} ms`,
    );
    return { without: without[mode], with: leg, creations };
  };
  return { pool: result('pool', pool), inline: result('inline', inline) };
}
