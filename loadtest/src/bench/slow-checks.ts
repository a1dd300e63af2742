import { Agent, request } from 'undici';
import { setTimeout as sleep } from 'node:timers/promises';
import { sumOf } from '../../../k6/lib/prometheus.ts';
import { scrapeSamples } from '../observers/scrape.ts';
import type { CheckTarget } from '../target/check-targets.ts';

/**
 * Puts `count` bookmark creations in flight, each waiting on a URI check of a target that answers
 * only after several seconds, and resolves once the apps report them running (or queued).
 * `settle()` waits for every creation to be answered — close the slow target first, and they are.
 */
export interface ChecksInFlight {
  /** Checks the apps reported running or queued once they were all sent. */
  reported: number;
  /** Requests the apps' http_requests_in_flight gauges reported meanwhile (less the scrapes). */
  gauge: number;
  settle(): Promise<Record<string, number>>;
}

export async function startSlowChecks(options: {
  /** The app processes, straight: round-robin, so nginx's per-client burst limit is no factor. */
  appUrls: readonly string[];
  metricsUrls: readonly string[];
  slowTarget: CheckTarget;
  count: number;
  tag: string;
}): Promise<ChecksInFlight> {
  const agent = new Agent({ connections: options.count });
  const statuses: Record<string, number> = {};
  const creations = Array.from({ length: options.count }, async (_, i) => {
    try {
      const appUrl = options.appUrls[i % options.appUrls.length];
      if (appUrl === undefined) throw new Error('no app process to send checks to');
      const response = await request(`${appUrl}/api/bookmarks`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ uri: `${options.slowTarget.url}/slow/${options.tag}/${i}`, name: `slow-${options.tag}-${i}` }),
        headersTimeout: 60_000,
        bodyTimeout: 60_000,
      });
      await response.body.dump();
      statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
    } catch {
      statuses['0'] = (statuses['0'] ?? 0) + 1;
    }
  });

  // Wait (bounded) until the apps say the checks are running or queued.
  let reported = 0;
  let gauge = 0;
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    ({ reported, gauge } = await checksReported(options.metricsUrls));
    if (reported >= options.count) break;
    await sleep(50);
  }
  return {
    reported,
    gauge,
    async settle() {
      await Promise.all(creations);
      await agent.close();
      return statuses;
    },
  };
}

async function checksReported(metricsUrls: readonly string[]): Promise<{ reported: number; gauge: number }> {
  let reported = 0;
  let gauge = 0;
  for (const url of metricsUrls) {
    const samples = await scrapeSamples(url);
    reported += sumOf(samples, 'linkyard_checks_running') + sumOf(samples, 'linkyard_check_queue_depth');
    gauge += sumOf(samples, 'http_requests_in_flight') - 1;
  }
  return { reported, gauge };
}

/**
 * Full (mark-compact) GCs the apps have run so far (prom-client's nodejs_gc_duration_seconds, kind
 * "major"): read before and after a leg, the difference says whether its garbage died young.
 */
export async function majorGcs(metricsUrls: readonly string[]): Promise<number> {
  let total = 0;
  for (const url of metricsUrls) {
    total += sumOf(await scrapeSamples(url), 'nodejs_gc_duration_seconds_count', (labels) => labels.kind === 'major');
  }
  return total;
}
