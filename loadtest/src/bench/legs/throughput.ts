import type { Leg } from '../../report/bench.ts';
import type { Target } from '../../target/target.ts';
import { startMapCeiling, startReturnCeiling } from '../ceilings.ts';
import type { BenchContext } from '../context.ts';
import { using } from '../stacks.ts';

/**
 * The ceiling (2) and the stack (4) run this many legs' worth of slices each: two targets are
 * their ratios, and on a shared host one slice's p99 moves by half from the next. Two runs of the
 * same code back to back read a tail of 1.27 and 1.73 × with five slices each.
 */
const PAIRED_LEGS = 3;

/** (1) nginx alone, answering `return 303` itself. */
export async function returnCeilingLeg({ options, measurer, redirects, progress }: BenchContext): Promise<Leg> {
  progress.log(`(1) nginx alone, return 303 — ${options.connections} connections, ${options.durationSeconds} s a leg`);
  return using(await startReturnCeiling(), (server) =>
    measurer.measure('(1) nginx: return 303', server.url, options.durationSeconds, redirects),
  );
}

/** (3) one app process as the stack runs it, straight to its port. */
export function oneAppLeg({ options, measurer, redirects }: BenchContext, target: Target): Promise<Leg> {
  return measurer.measure('(3) one app process, no nginx', target.appUrls[0] ?? '', options.durationSeconds, redirects);
}

/** (2) nginx → node:http Map, the architecture's ceiling, in turns with (4) the stack as shipped. */
export async function stackLeg(
  { options, measurer, redirects }: BenchContext,
  target: Target,
): Promise<{ mapCeiling: Leg; fullStack: Leg }> {
  const [mapCeiling, fullStack] = await using(await startMapCeiling(options.instances), (server) =>
    measurer.measureTogether(
      [
        { label: `(2) nginx → ${options.instances} × node:http Map`, url: server.url },
        { label: `(4) nginx → ${options.instances} app processes`, url: target.url },
      ],
      options.durationSeconds * PAIRED_LEGS,
      redirects,
    ),
  );
  if (mapCeiling === undefined || fullStack === undefined) throw new Error('the ceiling and the stack were not both measured');
  return { mapCeiling, fullStack };
}
