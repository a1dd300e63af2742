import { parseArgs } from 'node:util';
import { DatasetMismatchError, generateDataset } from '../dataset/generate.ts';
import { type DatasetPlan, DEFAULT_END_MS } from '../dataset/plan.ts';
import { DATASETS_DIR, describeStore, parseStoreSpec } from '../dataset/store-spec.ts';
import { Progress } from '../progress.ts';
import { positive, UsageError } from './arguments.ts';

const USAGE = `npm run dataset -- --links N --visits M --store sqlite[:DATA_DIR]|postgres[:URL] [--seed S] [--resume] [--quiet]

Fills a store with N links (names of 6–12 characters, https targets of 40–200, titles) and M
visits over them by a Zipf law (s = 1), created over 90 days, and each link's visits spread over
its stats rollups (visit_hours for the last 35 days, visit_days before, visit_dimensions) from its
creation to the end: SQLite in transactions of 100 000 links after the app's own migrations,
PostgreSQL through COPY. The same seed makes the same store.
Interrupted, it goes on with --resume from the last chunk it committed.

A bare 'sqlite' is the folder ${DATASETS_DIR}/linkyard_scale_<N>_<M>_<S>/ (LINKYARD_DATASETS_DIR
moves it; keep datasets out of the checkout), a bare 'postgres' the database of that name on
127.0.0.1:5432, created when missing. DATA_DIR is the folder the app is given: the file is
linkyard.sqlite in it.
`;

function parseDatasetArgs(args: string[]) {
  try {
    return parseArgs({
      args,
      options: {
        links: { type: 'string' },
        visits: { type: 'string' },
        store: { type: 'string' },
        seed: { type: 'string' },
        resume: { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
  }
}

if (import.meta.filename === process.argv[1]) {
  try {
    const { values } = parseDatasetArgs(process.argv.slice(2));
    if (values.help) throw new UsageError(USAGE, 0);
    if (values.links === undefined || values.store === undefined) throw new UsageError(`--links and --store are needed\n\n${USAGE}`);
    const plan: DatasetPlan = {
      links: Math.round(positive('links', values.links, 0)),
      visits: Math.round(Number(values.visits ?? 0)),
      seed: Math.round(Number(values.seed ?? 1)),
      endMs: DEFAULT_END_MS,
    };
    if (!Number.isSafeInteger(plan.visits) || plan.visits < 0)
      throw new UsageError(`--visits must be a whole number ≥ 0, got '${values.visits}'`);
    if (!Number.isSafeInteger(plan.seed) || plan.seed < 0 || plan.seed > 0xffff_ffff)
      throw new UsageError(`--seed must be a whole number from 0 to 2^32 − 1`);
    let store: ReturnType<typeof parseStoreSpec>;
    try {
      store = parseStoreSpec(values.store, plan);
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
    const progress = new Progress({ quiet: values.quiet });
    progress.log(
      `${plan.links.toLocaleString('en-US')} links, ${plan.visits.toLocaleString('en-US')} visits, seed ${plan.seed} → ${describeStore(store)}`,
    );
    const result = await generateDataset({ plan, store, resume: values.resume, progress });
    for (const table of result.tables) {
      process.stdout.write(
        `${table.table}: ${table.rows.toLocaleString('en-US')} links (${table.written.toLocaleString('en-US')} written now)\n`,
      );
    }
    process.stdout.write(`done in ${result.seconds.toFixed(1)} s: ${describeStore(store)}\n`);
  } catch (error) {
    if (error instanceof UsageError) {
      (error.exitCode === 0 ? process.stdout : process.stderr).write(`${error.message}\n`);
      process.exit(error.exitCode);
    }
    if (error instanceof DatasetMismatchError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
