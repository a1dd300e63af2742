import { addCounts, median } from '../../analysis/latency.ts';
import { startK6Scenario } from '../../k6.ts';
import { latencyOf, statusCounts } from '../../observers/request-log.ts';
import type { Progress } from '../../progress.ts';

export interface SteadyCreationsResult {
  sent: number;
  ratePerSecond: number;
  statuses: Record<string, number>;
  /** Creation latency (the check included), ms. */
  p50: number;
  p99: number;
}

/**
 * Runs `during` (a wrk run of `durationSeconds`) while k6/creations.ts sends bookmark creations at
 * a fixed rate for as long, each a new name whose check fetches `uri`, round-robin over the app
 * processes. k6 starts first; `during` begins when k6's load does. A creation never answered
 * within k6's timeout counts as status 0.
 */
export async function withSteadyCreations<T>(
  options: {
    appUrls: readonly string[];
    /** `{n}` becomes a number unique within the run. */
    uri: string;
    ratePerSecond: number;
    durationSeconds: number;
    /** Makes the names unique across runs against one store. */
    tag: string;
  },
  progress: Progress,
  during: () => Promise<T>,
): Promise<{ result: T; creations: SteadyCreationsResult }> {
  const k6 = startK6Scenario(
    'creations',
    {
      APP_URLS: options.appUrls.join(','),
      URI: options.uri,
      RATE: String(options.ratePerSecond),
      DURATION: String(options.durationSeconds),
      TAG: options.tag,
    },
    options.durationSeconds,
    progress,
  );
  k6.finished.catch(() => {});
  await k6.loadStarts;
  const result = await during();
  const { requests } = await k6.finished;
  const creations = requests.filter((request) => request.scenario === 'creations');
  const answered = creations.filter((request) => request.status !== 0);
  const latency = latencyOf(answered);
  return {
    result,
    creations: {
      sent: creations.length,
      ratePerSecond: creations.length / options.durationSeconds,
      statuses: statusCounts(creations),
      p50: answered.length === 0 ? Number.NaN : latency.p50,
      p99: answered.length === 0 ? Number.NaN : latency.p99,
    },
  };
}

/**
 * Runs of creations as one: counts and statuses summed, the rate over their time together, p50 and
 * p99 the median run's (as the bench does with its slices: one stall in one run does not decide).
 */
export function combineCreations(runs: readonly SteadyCreationsResult[]): SteadyCreationsResult {
  if (runs.length === 0) throw new Error('no runs to combine');
  const sent = runs.reduce((total, run) => total + run.sent, 0);
  const seconds = runs.reduce((total, run) => total + (run.ratePerSecond > 0 ? run.sent / run.ratePerSecond : 0), 0);
  const statuses = addCounts(runs.map((run) => run.statuses));
  return {
    sent,
    ratePerSecond: seconds > 0 ? sent / seconds : 0,
    statuses,
    p50: median(runs.map((run) => run.p50)),
    p99: median(runs.map((run) => run.p99)),
  };
}
