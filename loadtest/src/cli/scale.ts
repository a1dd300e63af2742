import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { DATASETS_DIR } from '../dataset/store-spec.ts';
import { Progress } from '../progress.ts';
import { npmCommand } from '../report/run-info.ts';
import { scaleReport } from '../report/scale.ts';
import { RESULTS_DIR, writeResults } from '../report/write.ts';
import { SCALE_DEFAULTS, SCALE_STORES, type ScaleOptions, type ScaleStore } from '../scale/options.ts';
import { runScale } from '../scale/run.ts';
import { positive, UsageError } from './arguments.ts';

const USAGE = `npm run bench:scale -- [--sizes 10000,1000000[,10000000]] [--stores sqlite,postgres] [--seed S]
  [--samples N] [--turns N] [--turn-seconds S] [--connection-levels 64,1000,10000|none] [--connection-seconds S]
  [--redirect-cache-ms MS] [--redirect-cache-names N] [--export-runs N] [--out DIR] [--quiet]

How each cost grows with the number of links (issue 25). For each size and store: make the
dataset (npm run dataset, ${SCALE_DEFAULTS.visitsPerLink} visits a link) or go on with the one kept in
${DATASETS_DIR} (LINKYARD_DATASETS_DIR) or the host's PostgreSQL (database linkyard_scale_<links>_<visits>_<seed>),
start the stack on it, and time: creating a link, the page / (first, and a cursor a million links
deep), the API read of the most visited and of a cold link, search for terms grouped by how many
links they hit, the stats API (7 days by the hour) and page (90 days) of the most visited and of
a cold link, an export of every link (--export-runs times, as its own process: links a second
and peak RSS), redirects under Zipf traffic over all
links against the hot set in turns (with the redirect cache's hit rate), start-up, bytes on disk
per link and per million visits (the stats rollups), peak RSS per app. --redirect-cache-ms and --redirect-cache-names set the apps'
REDIRECT_CACHE_MS and REDIRECT_CACHE_NAMES (default: theirs). On the smallest size, the connection leg: keep-alive clients through
nginx at each level. Writes scale.json, scale.md and its charts. Needs wrk and nginx.

Defaults: --sizes ${SCALE_DEFAULTS.sizes.join(',')}, --stores ${SCALE_DEFAULTS.stores.join(',')}, --samples ${SCALE_DEFAULTS.samples},
--turns ${SCALE_DEFAULTS.turns} of --turn-seconds ${SCALE_DEFAULTS.turnSeconds}, --connection-levels ${SCALE_DEFAULTS.connectionLevels.join(',')}, --out loadtest/results.
`;

function numbers(name: string, text: string | undefined, fallback: number[]): number[] {
  if (text === undefined) return fallback;
  if (text === 'none') return [];
  const values = text.split(',').map((part) => Number(part.trim()));
  if (values.length === 0 || values.some((value) => !Number.isSafeInteger(value) || value < 1)) {
    throw new UsageError(`--${name} takes whole numbers separated by commas, got '${text}'`);
  }
  return values;
}

function stores(text: string | undefined): ScaleStore[] {
  if (text === undefined) return [...SCALE_DEFAULTS.stores];
  const names = text.split(',').map((part) => part.trim());
  const unknown = names.filter((name) => !(SCALE_STORES as readonly string[]).includes(name));
  if (unknown.length > 0) throw new UsageError(`unknown store(s): ${unknown.join(', ')}; known: ${SCALE_STORES.join(', ')}`);
  return SCALE_STORES.filter((store) => names.includes(store));
}

export function parseScaleArgs(args: string[]): { options: ScaleOptions; out: string | undefined; quiet: boolean } {
  let values: ReturnType<typeof parse>['values'];
  const parse = (argv: string[]) =>
    parseArgs({
      args: argv,
      options: {
        sizes: { type: 'string' },
        stores: { type: 'string' },
        seed: { type: 'string' },
        samples: { type: 'string' },
        turns: { type: 'string' },
        'turn-seconds': { type: 'string' },
        'connection-levels': { type: 'string' },
        'connection-seconds': { type: 'string' },
        'redirect-cache-ms': { type: 'string' },
        'redirect-cache-names': { type: 'string' },
        'export-runs': { type: 'string' },
        out: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  try {
    values = parse(args).values;
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
  }
  if (values.help) throw new UsageError(USAGE, 0);
  const options: ScaleOptions = {
    ...SCALE_DEFAULTS,
    sizes: numbers('sizes', values.sizes, SCALE_DEFAULTS.sizes).sort((a, b) => a - b),
    stores: stores(values.stores),
    seed: Math.round(positive('seed', values.seed, SCALE_DEFAULTS.seed)),
    samples: Math.round(positive('samples', values.samples, SCALE_DEFAULTS.samples)),
    turns: Math.round(positive('turns', values.turns, SCALE_DEFAULTS.turns)),
    exportRuns: Math.round(positive('export-runs', values['export-runs'], SCALE_DEFAULTS.exportRuns)),
    turnSeconds: positive('turn-seconds', values['turn-seconds'], SCALE_DEFAULTS.turnSeconds),
    connectionLevels: numbers('connection-levels', values['connection-levels'], SCALE_DEFAULTS.connectionLevels),
    connectionSeconds: positive('connection-seconds', values['connection-seconds'], SCALE_DEFAULTS.connectionSeconds),
    redirectCacheMs:
      values['redirect-cache-ms'] === undefined ? undefined : Math.round(positive('redirect-cache-ms', values['redirect-cache-ms'], 0)),
    redirectCacheNames:
      values['redirect-cache-names'] === undefined
        ? undefined
        : Math.round(positive('redirect-cache-names', values['redirect-cache-names'], 0)),
  };
  return { options, out: values.out, quiet: values.quiet };
}

if (import.meta.filename === process.argv[1]) {
  try {
    const { options, out, quiet } = parseScaleArgs(process.argv.slice(2));
    const progress = new Progress({ quiet });
    const result = await runScale(options, progress, npmCommand('bench:scale', process.argv.slice(2)));
    const report = scaleReport(result);
    const written = writeResults(out ?? RESULTS_DIR, 'scale', result, report);
    process.stdout.write(`\n${report.table}\n\nwritten: ${written.map((path) => relative(process.cwd(), path)).join(', ')}\n`);
  } catch (error) {
    if (error instanceof UsageError) {
      (error.exitCode === 0 ? process.stdout : process.stderr).write(`${error.message}\n`);
      process.exit(error.exitCode);
    }
    throw error;
  }
}
