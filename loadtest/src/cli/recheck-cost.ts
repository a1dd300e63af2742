import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { DUE_FOR_RECHECK_SQL as POSTGRES_PICK, PostgresStore } from '../../../app/src/store/postgres.ts';
import { DUE_FOR_RECHECK_SQL as SQLITE_PICK, SqliteStore } from '../../../app/src/store/sqlite.ts';
import type { BookmarkStore } from '../../../app/src/store/types.ts';
import { describeStore, type StoreSpec } from '../dataset/store-spec.ts';
import { existingStore, UsageError } from './arguments.ts';

const USAGE = `node loadtest/src/cli/recheck-cost.ts --store sqlite:DATA_DIR|postgres:URL

What the re-checks cost on a store (docs/uri-checks.md#re-checks): its migration to this
version, the preparation after start-up (recheckIndexStep until done, with the app's 50 ms
between steps), the pick's plan, and the pick of 20 links timed 51 times, with every link due and
with none. Reads only, but for the migration and the preparation, which the app would make on its
first start anyway. A store made by a previous version (npm run dataset) measures the migration.
`;

const PAUSE_BETWEEN_STEPS_MS = 50;
const PICK = 20;
const SAMPLES = 51;

function open(spec: StoreSpec): { store: BookmarkStore; explain: (cutoff: Date) => Promise<string>; close: () => Promise<void> } {
  if (spec.engine === 'sqlite') {
    const file = join(spec.dataDir, 'linkyard.sqlite');
    const store = new SqliteStore({ file });
    const reader = new Database(file, { readonly: true });
    return {
      store,
      explain: async (cutoff) =>
        reader
          .prepare<[number, number], { detail: string }>(`EXPLAIN QUERY PLAN ${SQLITE_PICK}`)
          .all(cutoff.getTime(), PICK)
          .map((row) => row.detail)
          .join('\n'),
      close: async () => {
        reader.close();
        await store.close();
      },
    };
  }
  const store = new PostgresStore({ connectionString: spec.url, queryTimeoutMs: 600_000 });
  const reader = new pg.Pool({ connectionString: spec.url, max: 1 });
  return {
    store,
    explain: async (cutoff) =>
      (await reader.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${POSTGRES_PICK}`, [cutoff, PICK])).rows
        .map((row) => row['QUERY PLAN'])
        .join('\n'),
    close: async () => {
      await reader.end();
      await store.close();
    },
  };
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

async function pickTimes(store: BookmarkStore, cutoff: Date): Promise<string> {
  const samples: number[] = [];
  let found = 0;
  for (let i = 0; i < SAMPLES; i++) {
    const { value, ms } = await timed(() => store.dueForRecheck(cutoff, PICK));
    found = value.length;
    samples.push(ms);
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(SAMPLES / 2)] ?? Number.NaN;
  const most = samples.at(-1) ?? Number.NaN;
  return `${found} links, median ${median.toFixed(3)} ms, slowest ${most.toFixed(3)} ms`;
}

async function measure(spec: StoreSpec): Promise<void> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(describeStore(spec));
  const { store, explain, close } = open(spec);
  try {
    const migration = await timed(() => store.migrate());
    out(`migration: ${migration.ms.toFixed(0)} ms; ${(await store.count()).toLocaleString('en-US')} links`);
    let steps = 0;
    let working = 0;
    let longest = 0;
    const preparing = await timed(async () => {
      for (;;) {
        const step = await timed(() => store.recheckIndexStep());
        steps++;
        working += step.ms;
        longest = Math.max(longest, step.ms);
        if (step.value) return;
        await new Promise((resolve) => setTimeout(resolve, PAUSE_BETWEEN_STEPS_MS));
      }
    });
    out(
      `preparation: ${steps} steps, ${working.toFixed(0)} ms of work, the longest ${longest.toFixed(1)} ms; ${preparing.ms.toFixed(0)} ms with the pauses`,
    );
    const now = new Date();
    // Nothing is checked before the epoch: none due, without changing a row.
    const never = new Date(0);
    out(`plan, every link due:\n${await explain(now)}`);
    out(`pick ${PICK}, every link due: ${await pickTimes(store, now)}`);
    out(`plan, none due:\n${await explain(never)}`);
    out(`pick ${PICK}, none due: ${await pickTimes(store, never)}`);
  } finally {
    await close();
  }
}

if (import.meta.filename === process.argv[1]) {
  try {
    let values: { store?: string | undefined; help?: boolean | undefined };
    try {
      ({ values } = parseArgs({ options: { store: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } } }));
    } catch (error) {
      throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    }
    if (values.help) throw new UsageError(USAGE, 0);
    const spec = existingStore(values.store, USAGE);
    await measure(spec);
  } catch (error) {
    if (error instanceof UsageError) {
      (error.exitCode === 0 ? process.stdout : process.stderr).write(`${error.message}\n`);
      process.exit(error.exitCode);
    }
    throw error;
  }
}
