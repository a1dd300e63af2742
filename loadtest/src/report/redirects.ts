import type { RedirectsResult } from '../scenarios/redirects.ts';
import { mark, markdownTable, type Row, textTable } from './markdown.ts';
import { describeRun } from './run-info.ts';
import { barChart, lineChart, PALETTE } from './svg.ts';
import type { Report } from './write.ts';

/** The target the bench states for the hot path; reported, never asserted. */
export const REDIRECT_P99_TARGET_MS = 10;

export function redirectsReport(result: RedirectsResult): Report {
  const { load, options, littlesLaw } = result;
  const header: Row = [
    'requests',
    'req/s',
    'mean ms',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'max ms',
    `p99 < ${REDIRECT_P99_TARGET_MS} ms`,
    'statuses',
    'errors',
    'dropped by k6',
  ];
  const rows: Row[] = [
    [
      load.requests,
      load.rps,
      load.latency.mean,
      load.latency.p50,
      load.latency.p90,
      load.latency.p99,
      load.latency.max,
      mark(load.latency.p99 < REDIRECT_P99_TARGET_MS),
      Object.entries(load.statuses)
        .map(([status, count]) => `${status}: ${count}`)
        .join(', '),
      load.errors,
      load.dropped,
    ],
  ];
  const little = `Open model: ${options.rate} arrivals a second whatever the answers, so L = λ·W = ${load.rps.toFixed(0)} req/s × ${load.latency.mean.toFixed(3)} ms = ${littlesLaw.inFlight.toFixed(2)} redirects in flight on average. k6's thresholds: ${result.k6.thresholdsMet ? 'met ✅' : 'missed ❌'}.`;
  const charts = {
    'redirects-throughput.svg': lineChart({
      title: 'Redirects per second',
      xLabel: 'seconds',
      yLabel: 'requests per second',
      series: [{ name: 'GET /:name', points: result.perSecond.map((p) => [p.second, p.rps] as const), color: PALETTE[0] }],
    }),
    'redirects-latency.svg': barChart({
      title: 'Redirect latency (ms)',
      yLabel: 'milliseconds',
      groups: [
        {
          label: 'GET /:name',
          bars: [
            { name: 'p50', value: load.latency.p50 },
            { name: 'p90', value: load.latency.p90 },
            { name: 'p99', value: load.latency.p99 },
          ],
        },
      ],
      colors: { p50: PALETTE[0], p90: PALETTE[3], p99: PALETTE[1] },
    }),
  };
  const markdown = `# Redirects: the hot path under load

${describeRun(result.run)}.

GET /<name> → 303 through nginx from k6 (\`k6/redirects.ts\`), ${options.rate} a second at a constant arrival rate for ${options.durationSeconds} s after a ${options.warmupSeconds} s warm-up, each to one of ${result.names} short names at random; redirects are not followed. ${result.target.apps} app process(es); the apps answered ${result.appRequests} requests. A stack the harness starts runs with nginx's access log off and LOG_LEVEL=warn, so this is the app without its logging; \`npm run bench\` leg (4) is the stack with logging as shipped.

${markdownTable(header, rows)}

${little}

![Throughput](redirects-throughput.svg)

![Latency](redirects-latency.svg)

Each request is timed by k6 (\`http_req_duration\`: sending, waiting and receiving, fractions of a millisecond kept), every status counted from its per-request record. How fast the stack can go at all is \`npm run bench\`'s question, with wrk: k6 (like any Node generator) needs more CPU per request than nginx does to answer it, so on two cores it cannot find the ceiling.
`;
  return { table: `${textTable(header, rows)}\n${little}`, markdown, charts };
}
