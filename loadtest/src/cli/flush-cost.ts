import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { PostgresStore } from '../../../app/src/store/postgres.ts';
import { SqliteStore } from '../../../app/src/store/sqlite.ts';
import type { BookmarkStore } from '../../../app/src/store/types.ts';
import { describeStore } from '../dataset/store-spec.ts';
import { existingStore, positive, UsageError } from './arguments.ts';

const USAGE = `node loadtest/src/cli/flush-cost.ts --store sqlite:DATA_DIR|postgres:URL [--draws N] [--batches N]

Where a visit flush's time goes on a store made by npm run dataset (issue 25, decision 0021):
each batch is --draws visits (default 5000, about a second of one app's Zipf traffic) drawn
over every link by a Zipf law (s = 1), so some thousands of distinct names, written as the app
writes them (store.addVisits, a new batch id each) and then in parts: SQLite with and without
the fsync (synchronous FULL / OFF), with the pages already in SQLite's cache (CPU of the
statements alone), the reads alone, names in order; PostgreSQL with and without waiting for the
WAL flush (synchronous_commit), and the statement's buffers and WAL (EXPLAIN ANALYZE, rolled
back). Median and slowest of --batches batches (default 7), each of new names; for the store's own
call, also how long it held the event loop. Adds visits to
the store's links (a dataset's counts change; its links do not).
`;

type Out = (line: string) => void;

/** `draws` Zipf-drawn ranks (s = 1, continuous approximation: rank = N^u) over `links`, as a set of ids. */
function zipfIds(links: number, draws: number): number[] {
  const ids = new Set<number>();
  for (let i = 0; i < draws; i++) ids.add(Math.min(links, Math.floor(links ** Math.random())));
  return [...ids];
}

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  return `median ${median.toFixed(1)} ms, slowest ${(sorted.at(-1) ?? Number.NaN).toFixed(1)} ms`;
}

async function time(work: () => unknown): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

function counts(names: readonly string[]): Map<string, number> {
  return new Map(names.map((name) => [name, 1]));
}

/** Each batch's whole time, and the part of it the call held the event loop (until it returned its promise). */
async function viaStore(out: Out, label: string, store: BookmarkStore, batches: string[][]): Promise<void> {
  const samples: number[] = [];
  const held: number[] = [];
  for (const names of batches) {
    const batch = counts(names);
    const started = performance.now();
    const written = store.addVisits(batch, randomUUID());
    held.push(performance.now() - started);
    await written;
    samples.push(performance.now() - started);
  }
  out(`${label}: ${summary(samples)}; the event loop held ${summary(held)}`);
}

async function sqlite(out: Out, dataDir: string, draws: number, batchCount: number): Promise<void> {
  const file = join(dataDir, 'linkyard.sqlite');
  const reader = new Database(file, { readonly: true });
  const links = reader.prepare<[], number>('SELECT max(id) FROM bookmarks').pluck().get() ?? 0;
  const nameOf = reader.prepare<[number], string>('SELECT name FROM bookmarks WHERE id = ?').pluck();
  const batch = () => zipfIds(links, draws).flatMap((id) => nameOf.get(id) ?? []);
  const fresh = (n: number) => Array.from({ length: n }, batch);
  const sample = batch();
  out(`${links.toLocaleString('en-US')} links; ${draws} draws make ${sample.length} distinct names a batch`);

  const store = new SqliteStore({ file });
  await store.migrate();
  await viaStore(out, 'store.addVisits as the app flushes (FULL)', store, fresh(batchCount));
  await viaStore(
    out,
    'store.addVisits, names sorted',
    store,
    fresh(batchCount).map((names) => names.sort()),
  );
  await store.close();

  // The same statement on a connection of our own, one part taken away at a time.
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  const add = db.prepare<[number, string]>('UPDATE bookmarks SET visits = visits + ? WHERE name = ?');
  const resolve = db.prepare<[string], string>('SELECT uri FROM bookmarks WHERE name = ?').pluck();
  const write = db.transaction((names: readonly string[]) => {
    for (const name of names) add.run(1, name);
  });
  const run = async (label: string, sets: string[][], work: (names: string[]) => unknown) => {
    const samples: number[] = [];
    for (const names of sets) samples.push(await time(() => work(names)));
    out(`${label}: ${summary(samples)}`);
  };
  db.pragma('synchronous = FULL');
  await run('UPDATEs, FULL (as the store)', fresh(batchCount), (names) => write.immediate(names));
  db.pragma('synchronous = OFF');
  await run('UPDATEs, no fsync (OFF)', fresh(batchCount), (names) => write.immediate(names));
  await run('reads alone (SELECT of each name)', fresh(batchCount), (names) => {
    for (const name of names) resolve.get(name);
  });
  // Pages in SQLite's own cache: the same names written twice, the second timed.
  db.pragma('cache_size = -262144');
  const warm = fresh(batchCount);
  for (const names of warm) write.immediate(names);
  await run('UPDATEs, no fsync, pages already in the cache (CPU)', warm, (names) => write.immediate(names));
  db.pragma('synchronous = FULL');
  await run('UPDATEs, FULL, pages already in the cache', warm, (names) => write.immediate(names));
  db.close();
  reader.close();
}

async function postgres(out: Out, url: string, draws: number, batchCount: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const links = Number((await client.query<{ max: string }>('SELECT max(id) AS max FROM bookmarks')).rows[0]?.max ?? 0);
  const batch = async () => {
    const ids = zipfIds(links, draws);
    const { rows } = await client.query<{ name: string }>('SELECT name FROM bookmarks WHERE id = ANY ($1::bigint[])', [ids]);
    return rows.map((row) => row.name);
  };
  const fresh = async (n: number) => {
    const sets: string[][] = [];
    for (let i = 0; i < n; i++) sets.push(await batch());
    return sets;
  };
  const sample = await batch();
  out(`${links.toLocaleString('en-US')} links; ${draws} draws make ${sample.length} distinct names a batch`);

  const store = new PostgresStore({ connectionString: url, queryTimeoutMs: 600_000 });
  await store.migrate();
  await viaStore(out, 'store.addVisits as the app flushes', store, await fresh(batchCount));
  await store.close();
  const separator = url.includes('?') ? '&' : '?';
  const lazy = new PostgresStore({
    connectionString: `${url}${separator}options=${encodeURIComponent('-c synchronous_commit=off')}`,
    queryTimeoutMs: 600_000,
  });
  await viaStore(out, 'store.addVisits, synchronous_commit off', lazy, await fresh(batchCount));
  await lazy.close();

  // The plan of one batch, with buffers and WAL; rolled back.
  const names = await batch();
  await client.query('BEGIN');
  const { rows } = await client.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (ANALYZE, BUFFERS, WAL, COSTS OFF)
     UPDATE bookmarks SET visits = bookmarks.visits + v.visits
     FROM unnest($1::text[], $2::bigint[]) AS v (name, visits) WHERE bookmarks.name = v.name`,
    [names, names.map(() => 1)],
  );
  await client.query('ROLLBACK');
  out(`plan of one batch (${names.length} names), rolled back:\n${rows.map((row) => row['QUERY PLAN']).join('\n')}`);
  await client.end();
}

if (import.meta.filename === process.argv[1]) {
  try {
    let values: { store?: string | undefined; draws?: string | undefined; batches?: string | undefined; help?: boolean | undefined };
    try {
      ({ values } = parseArgs({
        options: {
          store: { type: 'string' },
          draws: { type: 'string' },
          batches: { type: 'string' },
          help: { type: 'boolean', short: 'h', default: false },
        },
      }));
    } catch (error) {
      throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    }
    if (values.help) throw new UsageError(USAGE, 0);
    const draws = positive('draws', values.draws, 5000);
    const batches = positive('batches', values.batches, 7);
    const spec = existingStore(values.store, USAGE);
    const out: Out = (line) => process.stdout.write(`${line}\n`);
    out(describeStore(spec));
    if (spec.engine === 'sqlite') await sqlite(out, spec.dataDir, draws, batches);
    else await postgres(out, spec.url, draws, batches);
  } catch (error) {
    if (error instanceof UsageError) {
      (error.exitCode === 0 ? process.stdout : process.stderr).write(`${error.message}\n`);
      process.exit(error.exitCode);
    }
    throw error;
  }
}
