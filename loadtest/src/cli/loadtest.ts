import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { findK6, K6MissingError } from '../k6.ts';
import { Progress } from '../progress.ts';
import { cacheSavingsReport } from '../report/cache-savings.ts';
import { inFlightReport } from '../report/in-flight.ts';
import { redirectsReport } from '../report/redirects.ts';
import { npmCommand } from '../report/run-info.ts';
import { RESULTS_DIR, type Report, writeResults } from '../report/write.ts';
import { CACHE_SAVINGS_DEFAULTS, runCacheSavings } from '../scenarios/cache-savings.ts';
import { IN_FLIGHT_DEFAULTS, runInFlight } from '../scenarios/in-flight.ts';
import { REDIRECTS_DEFAULTS, runRedirects } from '../scenarios/redirects.ts';
import { openTarget, type Target } from '../target/target.ts';
import { positive, UsageError } from './arguments.ts';
import { renewalResetsCommand } from './renewal-resets.ts';
import { restartResetsCommand } from './restart-resets.ts';

const USAGE = `npm run loadtest -- <scenario> [options]

Runs the k6 scenario k6/<scenario>.ts (k6 from K6_BIN or the PATH) against the stack, samples
nginx and the apps beside it, and writes the report.

Scenarios:
  in-flight      page views at a constant rate; Little's L = λ·W next to the in-flight counts
                 sampled from the apps (http_requests_in_flight) and nginx (stub_status)
  cache-savings  browsers without a cache, always revalidating, and honouring Cache-Control:
                 requests sent, reaching nginx, reaching the apps; next to the seed's arithmetic
  redirects      GET /<name> → 303 at a constant rate: req/s and latency percentiles

  restart-resets what rolling restarts cost a client that never resends (wrk, not k6: its own
                 options --rounds N (3), --duration S, --connections N (16), --quiet; ~1 min)
  renewal-resets what taking up a new certificate costs over HTTPS: nginx reloads against
                 certificate files read per handshake (wrk); --rounds N (3), --slices N (3), --quiet

Target (default: start the native stack in temp folders, and stop it at the end):
  --url URL                 an already running stack (nginx's URL) instead
  --metrics-urls A,B        with --url: each app process's /metrics
  --nginx-status-url URL    with --url: stub_status (default <url>/nginx_status)
  --instances N             app processes of the started stack (default 2)
  --https                   the started stack serves HTTPS, its certificate from a CA made for
                            the run, which k6 alone trusts (its SSL_CERT_FILE)
  --ca-file FILE            with an https:// --url: the CA certificate (PEM) k6 is to trust
                            (give --nginx-status-url on nginx's plain port: this process reads it)
  --http1                   over HTTPS, k6 offers HTTP/1.1 only (default: HTTP/2 by ALPN)

Load:
  --rate N          in-flight: page views per second (default ${IN_FLIGHT_DEFAULTS.viewsPerSecond});
                    redirects: requests per second (default ${REDIRECTS_DEFAULTS.rate})
  --duration S      in-flight, redirects: seconds (default ${IN_FLIGHT_DEFAULTS.durationSeconds}, ${REDIRECTS_DEFAULTS.durationSeconds})
  --tolerance F     in-flight: allowed |observed − λ·W| / λ·W (default ${IN_FLIGHT_DEFAULTS.tolerance})
  --visitors N      cache-savings: browsers (default ${CACHE_SAVINGS_DEFAULTS.visitors})
  --visits N        cache-savings: visits per browser (default ${CACHE_SAVINGS_DEFAULTS.visitsPerVisitor})
  --warmup S        in-flight, redirects: unmeasured load first (default 1)

Output:
  --out DIR         where <scenario>.json, .md and the charts go (default loadtest/results)
  --quiet           no progress lines

Exit status: 0 when k6's thresholds (the scenario's goal) were met, 1 when they were missed
(the report is written either way), 2 for a usage error.
`;

type Scenario = 'in-flight' | 'cache-savings' | 'redirects';
const SCENARIOS: readonly Scenario[] = ['in-flight', 'cache-savings', 'redirects'];

export interface CliRun {
  scenario: Scenario;
  result: unknown;
  report: Report;
  written: string[];
  /** k6's thresholds, the scenario's goal, were met (in every run of it). */
  goalMet: boolean;
}

function parseCommandLine(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        'metrics-urls': { type: 'string' },
        'nginx-status-url': { type: 'string' },
        instances: { type: 'string' },
        https: { type: 'boolean', default: false },
        'ca-file': { type: 'string' },
        http1: { type: 'boolean', default: false },
        rate: { type: 'string' },
        duration: { type: 'string' },
        tolerance: { type: 'string' },
        visitors: { type: 'string' },
        visits: { type: 'string' },
        warmup: { type: 'string' },
        out: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
  }
}

/** Runs one scenario from command-line arguments; the tests call this too, with small numbers. */
export async function main(argv: readonly string[]): Promise<CliRun> {
  const { values, positionals } = parseCommandLine(argv);
  const scenario = SCENARIOS.find((candidate) => candidate === positionals[0]);
  if (values.help) throw new UsageError(USAGE, 0);
  if (scenario === undefined) {
    throw new UsageError(positionals[0] === undefined ? USAGE : `unknown scenario '${positionals[0]}'\n\n${USAGE}`);
  }
  // Every number is checked before anything starts.
  const warmup = values.warmup === undefined ? undefined : Number(values.warmup);
  if (warmup !== undefined && !(warmup >= 0)) throw new UsageError(`--warmup must be 0 or more seconds, got '${values.warmup}'`);
  const inFlight = {
    ...IN_FLIGHT_DEFAULTS,
    viewsPerSecond: positive('rate', values.rate, IN_FLIGHT_DEFAULTS.viewsPerSecond),
    durationSeconds: positive('duration', values.duration, IN_FLIGHT_DEFAULTS.durationSeconds),
    tolerance: positive('tolerance', values.tolerance, IN_FLIGHT_DEFAULTS.tolerance),
    warmupSeconds: warmup ?? IN_FLIGHT_DEFAULTS.warmupSeconds,
  };
  const cacheSavings = {
    visitors: positive('visitors', values.visitors, CACHE_SAVINGS_DEFAULTS.visitors),
    visitsPerVisitor: positive('visits', values.visits, CACHE_SAVINGS_DEFAULTS.visitsPerVisitor),
  };
  const redirects = {
    rate: positive('rate', values.rate, REDIRECTS_DEFAULTS.rate),
    durationSeconds: positive('duration', values.duration, REDIRECTS_DEFAULTS.durationSeconds),
    warmupSeconds: warmup ?? REDIRECTS_DEFAULTS.warmupSeconds,
  };
  const instances = positive('instances', values.instances, 2);
  const https = values.https || values.url?.startsWith('https:') === true;
  if (values.https && values.url !== undefined)
    throw new UsageError('--https starts a stack of its own: with --url, give an https:// URL (and --ca-file)');
  if (values['ca-file'] !== undefined) {
    if (values.url?.startsWith('https:') !== true) throw new UsageError('--ca-file is for an https:// --url (--https makes its own CA)');
    if (!existsSync(values['ca-file'])) throw new UsageError(`--ca-file: ${values['ca-file']} does not exist`);
  }
  if (values.http1 && !https)
    throw new UsageError('--http1 needs HTTPS (--https or an https:// --url): over plain HTTP k6 speaks HTTP/1.1 anyway');
  const command = npmCommand('loadtest', argv);
  const progress = new Progress({ quiet: values.quiet });
  const outDir = values.out ?? RESULTS_DIR;

  // Before anything starts: without k6 there is no load to generate.
  if (findK6() === undefined) throw new K6MissingError();
  const protocol = https ? ` over HTTPS, ${values.http1 ? 'HTTP/1.1' : 'HTTP/2'}` : '';
  progress.log(
    values.url === undefined
      ? `starting the native stack (${instances} app processes)${protocol}`
      : `using the stack at ${values.url}${protocol}`,
  );
  const target: Target = await openTarget({
    url: values.url,
    metricsUrls: values['metrics-urls']
      ?.split(',')
      .map((url) => url.trim())
      .filter(Boolean),
    nginxStatusUrl: values['nginx-status-url'],
    instances,
    https: values.https,
    caFile: values['ca-file'],
    http1: values.http1,
  });
  const stopOnSignal = () => {
    progress.log('interrupted: stopping the stack');
    void target.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  try {
    let result: unknown;
    let report: Report;
    let goalMet: boolean;
    if (scenario === 'in-flight') {
      const run = await runInFlight(target, inFlight, progress, command);
      result = run;
      report = inFlightReport(run);
      goalMet = run.k6.thresholdsMet;
    } else if (scenario === 'cache-savings') {
      const run = await runCacheSavings(target, cacheSavings, progress, command);
      result = run;
      report = cacheSavingsReport(run);
      goalMet = run.phases.every((phase) => phase.thresholdsMet);
    } else {
      const run = await runRedirects(target, redirects, progress, command);
      result = run;
      report = redirectsReport(run);
      goalMet = run.k6.thresholdsMet;
    }
    // Over HTTPS the files are named for it, so a run does not replace the plain run's.
    const name = https ? `${scenario}-https-${values.http1 ? 'http1' : 'h2'}` : scenario;
    const written = writeResults(outDir, name, result, name === scenario ? report : renamedCharts(report, scenario, name));
    return { scenario, result, report, written, goalMet };
  } finally {
    process.off('SIGINT', stopOnSignal);
    progress.log('stopping');
    await target.stop();
  }
}

/** The report with its charts' files (`<scenario>-….svg`) named `<name>-….svg`, links included. */
function renamedCharts(report: Report, scenario: string, name: string): Report {
  let markdown = report.markdown;
  const charts: Record<string, string> = {};
  for (const [file, svg] of Object.entries(report.charts)) {
    const renamed = file.startsWith(scenario) ? `${name}${file.slice(scenario.length)}` : file;
    charts[renamed] = svg;
    markdown = markdown.replaceAll(`](${file})`, `](${renamed})`);
  }
  return { ...report, markdown, charts };
}

if (import.meta.filename === process.argv[1]) {
  try {
    if (process.argv[2] === 'restart-resets') process.exit(await restartResetsCommand(process.argv.slice(3)));
    if (process.argv[2] === 'renewal-resets') process.exit(await renewalResetsCommand(process.argv.slice(3)));
    const run = await main(process.argv.slice(2));
    process.stdout.write(`\n${run.report.table}\n\nwritten: ${run.written.map((path) => relative(process.cwd(), path)).join(', ')}\n`);
    if (!run.goalMet) {
      process.stderr.write(`${run.scenario}: k6's thresholds were missed: the service did not meet the scenario's goal (see the report)\n`);
      process.exitCode = 1;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      (error.exitCode === 0 ? process.stdout : process.stderr).write(`${error.message}\n`);
      process.exit(error.exitCode);
    }
    if (error instanceof K6MissingError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
