import type { Leg } from '../../report/bench.ts';
import type { Target } from '../../target/target.ts';
import type { BenchContext } from '../context.ts';
import type { WrkRequest } from '../load/wrk.ts';
import type { CheckMode } from '../options.ts';

/** POST /api/bookmarks through nginx, every POST a new name checked against the fast local site. */
export function creationsLeg({ measurer, checkLegSeconds }: BenchContext, target: Target, mode: CheckMode): Promise<Leg> {
  const requests: WrkRequest[] = [
    {
      method: 'POST',
      path: '/api/bookmarks',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uri: `${target.checkTarget.url}/created/{n}`, name: 'created-{n}' }),
    },
  ];
  return measurer.measure(`${mode}: POST /api/bookmarks`, target.url, checkLegSeconds, requests);
}
