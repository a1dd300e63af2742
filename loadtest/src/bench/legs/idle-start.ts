import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { median } from '../../analysis/latency.ts';
import { checkThreads } from '../../observers/scrape.ts';
import type { IdleStartResult } from '../../report/bench.ts';
import type { Target } from '../../target/target.ts';
import type { BenchContext } from '../context.ts';

/** Times the first check after the worker retired this many times (each waits out the idle spell). */
const IDLE_START_SAMPLES = 3;

/** One creation right after the first app's worker retired, then one with it running. */
export async function idleStartLeg({ options, progress }: BenchContext, target: Target): Promise<IdleStartResult> {
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
  progress.log(
    `first check after the worker retired: ${cold.map((ms) => ms.toFixed(0)).join(', ')} ms; with it running: ${warm.map((ms) => ms.toFixed(0)).join(', ')} ms`,
  );
  return { coldMs: median(cold), warmMs: median(warm), samples: IDLE_START_SAMPLES };
}
