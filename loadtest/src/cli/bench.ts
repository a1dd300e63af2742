import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DEFAULTS, type BenchOptions, isLegName, LEG_HELP, LEG_NAMES, type LegName } from '../bench/options.ts';
import { runBench } from '../bench/run.ts';
import { Progress } from '../progress.ts';
import { benchReport } from '../report/bench.ts';
import { npmCommand } from '../report/run-info.ts';
import { RESULTS_DIR, writeResults } from '../report/write.ts';
import { positive, UsageError } from './arguments.ts';

const USAGE = `npm run bench -- [--legs a,b] [--duration S] [--connections N] [--instances N] [--checks N] [--heavy-rate N] [--out DIR] [--quiet]

Where the time goes on the hot path: wrk against nginx and the apps (the build, app/dist), with
k6 sending the bench's creations and slow checks. Writes bench.json, bench.md and its charts.

Legs (--legs, comma-separated; default all, run in this order; peak RSS is sampled on every
stack a leg starts):
${LEG_NAMES.map((leg) => `  ${leg.padEnd(16)}${LEG_HELP[leg]}`).join('\n')}

Options (defaults): --duration ${BENCH_DEFAULTS.durationSeconds} s a leg, --connections ${BENCH_DEFAULTS.connections}, --instances ${BENCH_DEFAULTS.instances},
--checks ${BENCH_DEFAULTS.slowChecks} slow checks, --heavy-rate ${BENCH_DEFAULTS.heavyRate} HTTPS checks/s, --out loadtest/results.
`;

/** `--legs a,b`: known names only, in the bench's own order. */
export function parseLegs(text: string | undefined): LegName[] {
  if (text === undefined) return [...LEG_NAMES];
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const unknown = names.filter((name) => !isLegName(name));
  if (unknown.length > 0 || names.length === 0) {
    throw new UsageError(`${unknown.length > 0 ? `unknown leg(s): ${unknown.join(', ')}` : '--legs names none'}\n\n${USAGE}`);
  }
  return LEG_NAMES.filter((leg) => names.includes(leg));
}

function parseBenchArgs(args: string[]) {
  const options = {
    legs: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    instances: { type: 'string' },
    checks: { type: 'string' },
    'heavy-rate': { type: 'string' },
    out: { type: 'string' },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  } as const;
  try {
    return parseArgs({ args, options });
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
  }
}

if (import.meta.filename === process.argv[1]) {
  try {
    const { values } = parseBenchArgs(process.argv.slice(2));
    if (values.help) throw new UsageError(USAGE, 0);
    const legs = parseLegs(values.legs);
    const options: BenchOptions = {
      ...BENCH_DEFAULTS,
      durationSeconds: positive('duration', values.duration, BENCH_DEFAULTS.durationSeconds),
      connections: positive('connections', values.connections, BENCH_DEFAULTS.connections),
      instances: positive('instances', values.instances, BENCH_DEFAULTS.instances),
      slowChecks: positive('checks', values.checks, BENCH_DEFAULTS.slowChecks),
      heavyRate: positive('heavy-rate', values['heavy-rate'], BENCH_DEFAULTS.heavyRate),
    };
    const progress = new Progress({ quiet: values.quiet });
    const result = await runBench(options, progress, npmCommand('bench', process.argv.slice(2)), legs);
    const report = benchReport(result);
    const written = writeResults(values.out ?? RESULTS_DIR, 'bench', result, report);
    process.stdout.write(`\n${report.table}\n\nwritten: ${written.map((path) => relative(process.cwd(), path)).join(', ')}\n`);
  } catch (error) {
    if (error instanceof UsageError) {
      (error.exitCode === 0 ? process.stdout : process.stderr).write(`${error.message}\n`);
      process.exit(error.exitCode);
    }
    throw error;
  }
}
