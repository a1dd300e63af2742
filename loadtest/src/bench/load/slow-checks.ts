import { setTimeout as sleep } from 'node:timers/promises';
import { startK6Scenario } from '../../k6.ts';
import { statusCounts } from '../../observers/request-log.ts';
import { checksInFlight } from '../../observers/scrape.ts';
import type { Progress } from '../../progress.ts';
import type { CheckTarget } from '../../target/check-targets.ts';

/**
 * `count` bookmark creations in flight (k6/slow-checks.ts), each waiting on a URI check of a site
 * that answers only after many seconds, and the apps reporting them running or queued.
 * `settle()` waits for every creation to be answered — close the slow site first, and they are.
 */
export interface ChecksInFlight {
  /** Checks the apps reported running or queued once they were all sent. */
  reported: number;
  /** Requests the apps' http_requests_in_flight gauges reported meanwhile (less the scrapes). */
  gauge: number;
  settle(): Promise<Record<string, number>>;
}

/** How long the apps may take to report every check once k6 has sent them. */
const REPORT_WITHIN_MS = 5000;

export async function startSlowChecks(
  options: {
    /** The app processes, straight: round-robin, so nginx's per-client burst limit is no factor. */
    appUrls: readonly string[];
    metricsUrls: readonly string[];
    slowTarget: CheckTarget;
    count: number;
    /** Longer than the slow site's delay: settle() closes it before. */
    timeoutSeconds: number;
    tag: string;
  },
  progress: Progress,
): Promise<ChecksInFlight> {
  const k6 = startK6Scenario(
    'slow-checks',
    {
      APP_URLS: options.appUrls.join(','),
      SLOW_URI: options.slowTarget.url,
      COUNT: String(options.count),
      TIMEOUT: String(options.timeoutSeconds),
      TAG: options.tag,
    },
    options.timeoutSeconds,
    progress,
  );
  k6.finished.catch(() => {});
  await k6.loadStarts;
  // Wait (bounded) until the apps say the checks are running or queued.
  let reported = 0;
  let gauge = 0;
  const deadline = Date.now() + REPORT_WITHIN_MS;
  while (Date.now() < deadline) {
    ({ checks: reported, gauge } = await checksInFlight(options.metricsUrls));
    if (reported >= options.count) break;
    await sleep(50);
  }
  return {
    reported,
    gauge,
    async settle() {
      const { requests } = await k6.finished;
      return statusCounts(requests.filter((request) => request.scenario === 'slow-checks'));
    },
  };
}
