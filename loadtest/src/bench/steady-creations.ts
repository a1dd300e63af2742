import { Agent, request } from 'undici';
import { addCounts, LatencyRecorder, median } from '../analysis/latency.ts';

export interface SteadyCreationsResult {
  sent: number;
  ratePerSecond: number;
  statuses: Record<string, number>;
  /** Creation latency (the check included), ms. */
  p50: number;
  p99: number;
}

/**
 * Bookmark creations at a fixed rate (open loop: one every 1/rate s whether or not the last was
 * answered, as independent users would), each a new name whose check fetches `uri`. Sent to the
 * app processes directly, round-robin: nginx's per-client burst limit is no factor. A creation
 * never answered within its deadline counts as status 0.
 */
export function startSteadyCreations(options: {
  appUrls: readonly string[];
  /** `{n}` becomes a number unique within the run. */
  uri: string;
  ratePerSecond: number;
  tag: string;
}): { stop(): Promise<SteadyCreationsResult> } {
  const agent = new Agent({ connections: 64 });
  const statuses: Record<string, number> = {};
  const latency = new LatencyRecorder();
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();
  let sent = 0;

  const send = (n: number): void => {
    const appUrl = options.appUrls[n % options.appUrls.length];
    const begun = performance.now();
    const done = (async () => {
      try {
        if (appUrl === undefined) throw new Error('no app process to send creations to');
        const response = await request(`${appUrl}/api/bookmarks`, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ uri: options.uri.replaceAll('{n}', String(n)), name: `steady-${options.tag}-${n}` }),
          headersTimeout: 30_000,
          bodyTimeout: 30_000,
        });
        await response.body.dump();
        statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
        latency.record(performance.now() - begun);
      } catch {
        statuses['0'] = (statuses['0'] ?? 0) + 1;
      }
    })();
    inFlight.add(done);
    void done.finally(() => inFlight.delete(done));
  };
  // A 10 ms tick sends whatever the schedule says is due, so the rate holds however late a tick runs.
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) / 1000) * options.ratePerSecond);
    while (sent < due) send(sent++);
  }, 10);

  return {
    async stop() {
      clearInterval(timer);
      const seconds = (performance.now() - started) / 1000;
      await Promise.all(inFlight);
      await agent.close();
      return { sent, ratePerSecond: sent / seconds, statuses, p50: latency.percentile(50), p99: latency.percentile(99) };
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
  return { sent, ratePerSecond: seconds > 0 ? sent / seconds : 0, statuses, p50: median(runs.map((run) => run.p50)), p99: median(runs.map((run) => run.p99)) };
}
