// SLOW CHECKS: COUNT bookmark creations at once, each waiting on the URI check of a site that
// answers slowly (SLOW_URI), held open until answered: requests parked on I/O, which the apps'
// in-flight gauges do see. One creation per VU, every VU at once, round-robin over the app
// processes (APP_URLS: nginx's per-client burst limit would refuse most of 200 at once).
// `npm run bench` measures redirects meanwhile, then closes the slow site to settle them.
//
//   k6 run -e APP_URLS=http://127.0.0.1:PORT1,http://127.0.0.1:PORT2 -e SLOW_URI=http://127.0.0.1:PORT3 -e COUNT=200 k6/slow-checks.ts
import { check } from 'k6';
import http from 'k6/http';
import type { Options } from 'k6/options';
import { APP_URLS, announceLoadStarts, numberFromEnv, RESULTS_DIR, requireReady, stringFromEnv } from './lib/config.ts';
import { fmt, metricValue, type SummaryData, TREND_STATS, writeSummary } from './lib/summary.ts';

const COUNT = Math.max(1, Math.round(numberFromEnv('COUNT', 200)));
/** The slow site; each creation's URI is `<SLOW_URI>/slow/<TAG>/<i>`. */
const SLOW_URI = stringFromEnv('SLOW_URI', `${APP_URLS[0] ?? ''}/healthz`).replace(/\/+$/, '');
/** How long a creation may wait for its answer (the app's CHECK_TIMEOUT_MS must be shorter). */
const TIMEOUT_SECONDS = numberFromEnv('TIMEOUT', 60);
const TAG = stringFromEnv('TAG', Date.now().toString(36));
const SERIES = 'POST /api/bookmarks';

export const options: Options = {
  scenarios: {
    'slow-checks': {
      executor: 'per-vu-iterations',
      vus: COUNT,
      iterations: 1,
      maxDuration: `${TIMEOUT_SECONDS + 10}s`,
    },
  },
  summaryTrendStats: TREND_STATS,
  thresholds: {
    // The goal: every creation sent and answered (whatever its status: the bench settles them by
    // closing the slow site, which fails their checks).
    [`http_reqs{name:${SERIES}}`]: [`count==${COUNT}`],
    checks: ['rate==1'],
  },
};

export function setup(): void {
  for (const url of APP_URLS) requireReady(url);
  announceLoadStarts();
}

export default function slowCheck(): void {
  const i = __VU - 1;
  const appUrl = APP_URLS[i % APP_URLS.length] ?? '';
  const response = http.post(`${appUrl}/api/bookmarks`, JSON.stringify({ uri: `${SLOW_URI}/slow/${TAG}/${i}`, name: `slow-${TAG}-${i}` }), {
    headers: { 'content-type': 'application/json' },
    tags: { name: SERIES },
    timeout: `${TIMEOUT_SECONDS}s`,
    // 4xx is the answer when the slow site fails the check: an answer, not a failed request.
    responseCallback: http.expectedStatuses({ min: 200, max: 499 }),
  });
  check(response, { answered: (r) => r.status !== 0 });
}

export function handleSummary(data: SummaryData): Record<string, string> {
  const series = `http_req_duration{name:${SERIES}}`;
  const result = {
    count: COUNT,
    sent: metricValue(data, `http_reqs{name:${SERIES}}`, 'count'),
    answeredRate: metricValue(data, 'checks', 'rate'),
    heldMs: { min: metricValue(data, series, 'min'), p50: metricValue(data, series, 'med'), max: metricValue(data, series, 'max') },
  };
  const lines = [
    `${fmt(result.sent)} of ${COUNT} creations sent at once, ${fmt(result.answeredRate * 100)}% answered`,
    `held open: min ${fmt(result.heldMs.min)} ms, p50 ${fmt(result.heldMs.p50)} ms, max ${fmt(result.heldMs.max)} ms`,
  ];
  return writeSummary(data, { scenario: 'slow-checks', lines, result }, RESULTS_DIR);
}
