import type { InFlightResult } from '../scenarios/in-flight.ts';
import { mark, markdownTable, percent, type Row, textTable } from './markdown.ts';
import { describeRun } from './run-info.ts';
import { barChart, lineChart, PALETTE } from './svg.ts';
import type { Report } from './write.ts';

const ms = (seconds: number) => seconds * 1000;

/** Samples averaged per second of the run, plotted at the middle of the second: raw samples of a count near 1 are all spikes. */
function perSecondMean(
  samples: InFlightResult['samples'],
  pick: (sample: InFlightResult['samples'][number]) => number | undefined,
): Array<readonly [number, number]> {
  const buckets: Array<{ sum: number; count: number }> = [];
  for (const sample of samples) {
    const value = pick(sample);
    if (value === undefined) continue;
    const second = Math.floor(sample.t);
    let bucket = buckets[second];
    if (bucket === undefined) {
      bucket = { sum: 0, count: 0 };
      buckets[second] = bucket;
    }
    bucket.sum += value;
    bucket.count++;
  }
  return buckets.flatMap((bucket, second) => (bucket === undefined ? [] : [[second + 0.5, bucket.sum / bucket.count] as const]));
}

function boundaryRows(result: InFlightResult): Row[] {
  const { client, apps } = result.littlesLaw;
  const [clientCheck, appsCheck] = [
    result.comparisons.find((c) => c.where === 'client'),
    result.comparisons.find((c) => c.where === 'apps'),
  ];
  const verdict = (check: typeof clientCheck) => (check === undefined ? 'n/a' : `${percent(check.gap)} ${mark(check.held)}`);
  return [
    ['client (k6)', client.arrivalRate, ms(client.meanTimeInSystem), client.inFlight, result.observed.client, verdict(clientCheck)],
    ['nginx', client.arrivalRate, `${ms(result.nginxDerivedW).toFixed(3)} (L/λ)`, '–', result.observed.nginx, 'n/a'],
    ['apps (Σ over processes)', apps.arrivalRate, ms(apps.meanTimeInSystem), apps.inFlight, result.observed.apps, verdict(appsCheck)],
  ];
}

const HEADER: Row = ['boundary', 'λ (req/s)', 'W (ms)', 'L = λ·W', 'observed L (mean of samples)'];

function latencyRows(result: InFlightResult): Row[] {
  return (['page', 'stylesheet', 'redirect', 'all'] as const).map((kind) => {
    const latency = result.client.latencyMs[kind];
    return [kind, latency.count, latency.mean, latency.p50, latency.p90, latency.p99, latency.max];
  });
}
const LATENCY_HEADER: Row = ['request', 'count', 'mean ms', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'];

export function inFlightReport(result: InFlightResult): Report {
  const header = [...HEADER, `gap (tolerance ${percent(result.options.tolerance)})`];
  const boundaries = boundaryRows(result);
  const { seed } = result;
  const seedLine = `Seed: λ = 250e6 / 86 400 × 3 = ${seed.arrivalRate.toFixed(1)} req/s, W = 0.1 s → L = λ·W ≈ ${seed.inFlight.toFixed(0)} requests in flight (the course's "2894 × 3 × 0.1").`;
  const nesting = `Nesting (apps λ·W ≤ nginx observed ≤ client λ·W, within the tolerance): ${result.nesting.holds ? 'holds ✅' : 'does not hold ❌'}`;

  const samples = result.samples;
  const inFlightChart = lineChart({
    title: "In flight per second: sampled (mean) vs Little's L = λ·W",
    xLabel: 'seconds',
    yLabel: 'requests in flight',
    series: [
      { name: 'client, sampled', points: perSecondMean(samples, (s) => s.client), color: PALETTE[0] },
      { name: 'client λ·W', points: result.perSecond.map((b) => [b.second + 0.5, b.littleL] as const), color: PALETTE[0], dashed: true },
      { name: 'nginx, sampled', points: perSecondMean(samples, (s) => s.nginx), color: PALETTE[2] },
      { name: 'apps, sampled', points: perSecondMean(samples, (s) => s.apps), color: PALETTE[1] },
      {
        name: 'apps λ·W (run)',
        points:
          samples.length === 0
            ? []
            : [
                [0, result.littlesLaw.apps.inFlight],
                [samples.at(-1)?.t ?? 0, result.littlesLaw.apps.inFlight],
              ],
        color: PALETTE[1],
        dashed: true,
      },
    ],
  });
  const latencyChart = barChart({
    title: 'Latency at the client by request (ms)',
    yLabel: 'milliseconds',
    groups: (['page', 'stylesheet', 'redirect'] as const).map((kind) => ({
      label: kind,
      bars: [
        { name: 'p50', value: result.client.latencyMs[kind].p50 },
        { name: 'p90', value: result.client.latencyMs[kind].p90 },
        { name: 'p99', value: result.client.latencyMs[kind].p99 },
      ],
    })),
    colors: { p50: PALETTE[0], p90: PALETTE[3], p99: PALETTE[1] },
  });

  const { options, client } = result;
  const markdown = `# In flight: Little's law against what was counted

${describeRun(result.run)}.

${seedLine}

This run: k6 (\`k6/in-flight.ts\`) sent ${options.viewsPerSecond} page views/s at a constant arrival rate (open model) for ${options.durationSeconds} s, each view the page, its stylesheet and one short link (303, not followed): ${client.requests} requests, ${client.failed} failed, ${client.dropped} views dropped by k6 for want of a VU; k6's thresholds ${result.k6.thresholdsMet ? 'met ✅' : 'missed ❌'}. ${result.target.apps} app process(es) behind nginx (access log off, LOG_LEVEL=warn when the harness starts the stack); ${result.observed.samples} samples while the load ran (${result.observed.failedScrapes} with a failed scrape), about every 100 ms.

${markdownTable(header, boundaries)}

${nesting}. nginx's Active connections averaged ${result.observed.nginxActiveConnections.toFixed(1)}: most of them idle keep-alive connections (Waiting), not requests.

![In flight over time](in-flight-timeline.svg)

${markdownTable(LATENCY_HEADER, latencyRows(result))}

![Latency percentiles](in-flight-latency.svg)

## How to read it

- **λ** is requests completed over the window they were measured in (from k6's first request sent to its last answered); **W** is their mean time in system at that boundary: from sent to answered at the client (k6's \`http_req_duration\` of each request, from its \`--out json\` record), from \`onRequest\` to response finished at the apps (\`http_request_duration_seconds\` sum / count deltas). **L = λ·W** is then the time-average number in flight, whatever the distributions.
- **Client**: k6 records each request's answer time and duration, so the client's count in flight at each sample instant is the number of requests sent before it and answered after it. The sample instants are the harness's (a worker thread of its own, jittered 50–150 ms), independent of k6, so this is the check that Little's law and sampling agree. What is left of a bias reads low: the sampler needs a CPU to take a sample, and on a machine whose CPUs the load keeps busy it gets one soonest when little is in flight.
- **nginx** sees every client request, so its λ is the client's; stub_status gives L (Reading + Writing, less the status request itself; Waiting connections are idle). Its W is not measured, so the table derives it as L/λ: the part of the client's time spent inside nginx and behind it. The rest is the client's own time (k6's HTTP client, the loopback).
- **Apps**: the gauge is \`http_requests_in_flight\` of each process, less one per scrape (the scrape is in flight while it reads the gauge). It reads **near zero even when λ·W is not**, and this is a bias of where it is read, not a broken gauge: the scrape is served by the same single-threaded event loop as the requests, so it can only run between them. A redirect or page read from SQLite (synchronous) never yields the thread, so no scrape ever finds one half done; only requests parked on I/O (a URI check, PostgreSQL, a slow client) are ever seen. The unbiased in-flight figure for a Node process is the one on the left: \`rate(http_request_duration_seconds_sum[1m])\` in Prometheus **is** λ·W.
- Other biases: sampling every ~100 ms (jittered) over ${options.durationSeconds} s gives ~${Math.round(options.durationSeconds * 10)} samples, so a mean in flight below 1 carries a sampling error of tens of per cent; k6, nginx and the apps share ${result.run.cpus} CPU(s), so W at the client includes waiting for a CPU; a warm-up run of ${options.warmupSeconds} s before is not measured.
`;
  return {
    table: `${seedLine}\n\n${textTable(header, boundaries)}\n${nesting}\n\n${textTable(LATENCY_HEADER, latencyRows(result))}`,
    markdown,
    charts: { 'in-flight-timeline.svg': inFlightChart, 'in-flight-latency.svg': latencyChart },
  };
}
