import { totalCpuSeconds } from '../../observers/process-cpu.ts';
import type { Leg, StatsCostResult } from '../../report/bench.ts';
import type { BenchContext } from '../context.ts';
import { visitorMix } from '../load/visitor-mix.ts';
import type { Around } from '../measure.ts';
import { BENCH_NAMES, startBenchStack, using } from '../stacks.ts';

/** As the stack leg: the two stacks run this many legs' worth of slices each, in turns. */
const PAIRED_LEGS = 3;
/** Distinct user agents in the mix (decision 0019): several hundred, as a busy link sees. */
const DISTINCT_AGENTS = 600;

/**
 * What stats cost a redirect: two stacks alike but for STATS, redirects with a mix of several
 * hundred user agents and referrers measured in turns, and the apps' CPU (user + system, from
 * /proc/<pid>/stat) over the measured slices divided by the redirects answered.
 */
export async function statsLeg({ options, measurer, progress }: BenchContext, serverEntry: string): Promise<StatsCostResult> {
  progress.log(`stats on vs off: ${DISTINCT_AGENTS} distinct user agents and referrers, ${options.instances} apps each, in turns`);
  const requests = visitorMix(BENCH_NAMES, DISTINCT_AGENTS);
  const stackOf = (stats: boolean) => startBenchStack(options, serverEntry, options.instances, { STATS: String(stats) });
  return using(await stackOf(true), async (on) =>
    using(await stackOf(false), async (off) => {
      const cpu = { on: 0, off: 0 };
      const counting =
        (which: 'on' | 'off', pids: () => readonly (number | undefined)[]): Around =>
        async (run, _seconds, warmingUp) => {
          const before = totalCpuSeconds(pids());
          const result = await run();
          if (!warmingUp) cpu[which] += totalCpuSeconds(pids()) - before;
          return result;
        };
      const [withStats, without] = await measurer.measureTogether(
        [
          { label: `stats on (${options.instances} apps)`, url: on.url, around: counting('on', () => on.pids()) },
          { label: `stats off (${options.instances} apps)`, url: off.url, around: counting('off', () => off.pids()) },
        ],
        options.durationSeconds * PAIRED_LEGS,
        requests,
      );
      if (withStats === undefined || without === undefined) throw new Error('both stacks were not measured');
      const perRedirect = (leg: Leg, seconds: number) => (seconds / Math.max(1, leg.statuses['303'] ?? 0)) * 1e6;
      const on_ = perRedirect(withStats, cpu.on);
      const off_ = perRedirect(without, cpu.off);
      return {
        distinctAgents: DISTINCT_AGENTS,
        on: { leg: withStats, cpuUsPerRedirect: on_ },
        off: { leg: without, cpuUsPerRedirect: off_ },
        cpuRatio: on_ / off_,
        rpsRatio: withStats.rps / without.rps,
      };
    }),
  );
}
