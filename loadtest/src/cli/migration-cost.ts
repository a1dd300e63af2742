import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { POSTGRES_SCHEMA_VERSION, PostgresStore } from '../../../app/src/store/postgres.ts';
import { SQLITE_SCHEMA_VERSION, SqliteStore } from '../../../app/src/store/sqlite.ts';
import type { BookmarkStore } from '../../../app/src/store/types.ts';
import { describeStore, type StoreSpec } from '../dataset/store-spec.ts';
import { ensureDatabase, sqliteFile } from '../dataset/writers.ts';
import { dropDatabase } from '../scale/probes.ts';
import { existingStore, positive, UsageError } from './arguments.ts';

const USAGE = `node loadtest/src/cli/migration-cost.ts --store sqlite:DATA_DIR|postgres:URL [--checks N]

What a schema migration costs a big store (issue 25): on a copy of the store (a file copy beside
it; PostgreSQL's CREATE DATABASE … TEMPLATE), the newest schema step is undone, then timed as the
app applies it on start-up (open and migrate), with the work it leaves for after start-up
(SQLite: enrolling the links for re-checks, as recheck-cost.ts does), then the migration check
every start-up makes on an up-to-date store, --checks times (default 21). The store itself is
only read; the copy is removed. Needs the store at this build's schema version (npm run dataset
makes it so) and, for PostgreSQL, no other session on its database while it is copied.
`;

/**
 * The newest step of each engine's MIGRATIONS, undone: what a store of the previous version
 * lacked. Tied to the version it undoes, so a new step makes this tool say so instead of timing
 * the wrong one.
 */
const UNDO_NEWEST = {
  sqlite: {
    version: 8,
    what: 'link_checks beside bookmarks, its index and insert trigger, recheck_backfill, leases (sqlite.ts, step 8)',
    sql: `DROP TRIGGER link_checks_insert; DROP TABLE link_checks; DROP TABLE recheck_backfill; DROP TABLE leases;
          PRAGMA user_version = 7`,
  },
  postgres: {
    version: 8,
    what: 'ALTER TABLE bookmarks SET (fillfactor = 90) (postgres.ts, step 8)',
    sql: `ALTER TABLE bookmarks RESET (fillfactor); DELETE FROM schema_migrations WHERE version = 8`,
  },
} as const;

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** A copy of the store at the previous schema version, and how to open and remove it. */
async function previousVersionCopy(
  spec: StoreSpec,
  out: (line: string) => void,
): Promise<{ open: () => BookmarkStore; remove: () => Promise<void> }> {
  if (spec.engine === 'sqlite') {
    const source = sqliteFile(spec.dataDir);
    const probe = new Database(source, { readonly: true });
    const version = probe.pragma('user_version', { simple: true });
    probe.close();
    checkVersion('sqlite', Number(version), SQLITE_SCHEMA_VERSION);
    const dir = mkdtempSync(join(dirname(spec.dataDir), 'migration-cost-'));
    const file = sqliteFile(dir);
    const copying = await timed(async () => copyFileSync(source, file));
    out(`copied to ${dir} in ${(copying.ms / 1000).toFixed(1)} s`);
    const db = new Database(file);
    db.exec(UNDO_NEWEST.sqlite.sql);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    return { open: () => new SqliteStore({ file }), remove: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const source = new URL(spec.url);
  const name = decodeURIComponent(source.pathname.slice(1));
  const probe = new pg.Client({ connectionString: spec.url });
  await probe.connect();
  try {
    const { rows } = await probe.query<{ version: number }>('SELECT max(version) AS version FROM schema_migrations');
    checkVersion('postgres', Number(rows[0]?.version), POSTGRES_SCHEMA_VERSION);
  } finally {
    await probe.end();
  }
  const copy = new URL(spec.url);
  copy.pathname = `/${name}_migration_cost`;
  await dropDatabase(copy.href);
  const admin = new URL(spec.url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.href });
  await client.connect();
  try {
    const copying = await timed(() =>
      client.query(`CREATE DATABASE ${pg.escapeIdentifier(`${name}_migration_cost`)} TEMPLATE ${pg.escapeIdentifier(name)}`),
    );
    out(`copied to ${copy.pathname.slice(1)} in ${(copying.ms / 1000).toFixed(1)} s`);
  } finally {
    await client.end();
  }
  await ensureDatabase(copy.href);
  const undo = new pg.Client({ connectionString: copy.href });
  await undo.connect();
  try {
    await undo.query(UNDO_NEWEST.postgres.sql);
  } finally {
    await undo.end();
  }
  return {
    open: () => new PostgresStore({ connectionString: copy.href, queryTimeoutMs: 600_000 }),
    remove: () => dropDatabase(copy.href),
  };
}

function checkVersion(engine: 'sqlite' | 'postgres', found: number, build: number): void {
  if (found !== build)
    throw new UsageError(`the store is at schema version ${found}, this build's is ${build}: start the app on it once first`);
  if (UNDO_NEWEST[engine].version !== build) {
    throw new UsageError(
      `this tool undoes ${engine}'s step ${UNDO_NEWEST[engine].version}, but the build's newest is ${build}: teach UNDO_NEWEST the new step`,
    );
  }
}

async function measure(spec: StoreSpec, checks: number): Promise<void> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(describeStore(spec));
  const copy = await previousVersionCopy(spec, out);
  try {
    out(`undone: ${UNDO_NEWEST[spec.engine].what}`);
    const store = copy.open();
    const step = await timed(() => store.migrate());
    out(`the newest step, applied on open: ${step.ms.toFixed(0)} ms; ${(await store.count()).toLocaleString('en-US')} links`);
    if (spec.engine === 'sqlite') {
      // The step's work left for after start-up: the links already there enrolled, batch by batch.
      let steps = 0;
      let longest = 0;
      const enrolled = await timed(async () => {
        for (;;) {
          const batch = await timed(() => store.recheckIndexStep());
          steps++;
          longest = Math.max(longest, batch.ms);
          if (batch.value) return;
        }
      });
      out(`after start-up: ${steps} batches, ${(enrolled.ms / 1000).toFixed(1)} s of work, the longest ${longest.toFixed(0)} ms`);
    }
    await store.close();
    const opens: number[] = [];
    for (let i = 0; i < checks; i++) {
      const again = copy.open();
      opens.push((await timed(() => again.migrate())).ms);
      await again.close();
    }
    out(
      `the migration check on an up-to-date store (open and migrate), ${checks} times: median ${median(opens).toFixed(1)} ms, slowest ${Math.max(...opens).toFixed(1)} ms`,
    );
  } finally {
    await copy.remove();
  }
}

if (import.meta.filename === process.argv[1]) {
  try {
    let values: { store?: string | undefined; checks?: string | undefined; help?: boolean | undefined };
    try {
      ({ values } = parseArgs({
        options: { store: { type: 'string' }, checks: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
      }));
    } catch (error) {
      throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    }
    if (values.help) throw new UsageError(USAGE, 0);
    const spec = existingStore(values.store, USAGE);
    await measure(spec, Math.round(positive('checks', values.checks, 21)));
  } catch (error) {
    if (error instanceof UsageError) {
      (error.exitCode === 0 ? process.stdout : process.stderr).write(`${error.message}\n`);
      process.exit(error.exitCode);
    }
    throw error;
  }
}
