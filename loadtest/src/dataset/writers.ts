import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { PostgresStore } from '../../../app/src/store/postgres.ts';
import { SqliteStore } from '../../../app/src/store/sqlite.ts';
import type { DatasetPlan } from './plan.ts';
import type { StoreSpec } from './store-spec.ts';
import type { TableGenerator, Value } from './tables.ts';

/**
 * Where the generator records what it wrote: the plan (a resumed run must be of the same plan)
 * and, per table, how many rows of its sequence are in, updated in the same transaction as the
 * rows, so the count is never ahead of or behind them.
 */
const PROGRESS_TABLE = 'linkyard_dataset';

export interface TableProgress {
  rowsDone: number;
}

/** One store being filled: rows go in chunk by chunk, each chunk committed with its progress. */
export interface DatasetWriter {
  /** The plan recorded in the store, if any, and each table's rows already in. */
  recorded(): Promise<{ plan: DatasetPlan | undefined; rowsDone: Map<string, number> }>;
  recordPlan(plan: DatasetPlan): Promise<void>;
  /** Writes rows [from, to) of `table` and its new progress, in one transaction. */
  writeChunk(table: TableGenerator, from: number, to: number): Promise<void>;
  finish(table: TableGenerator): Promise<void>;
  close(): Promise<void>;
}

export async function openWriter(spec: StoreSpec): Promise<DatasetWriter> {
  return spec.engine === 'sqlite' ? openSqliteWriter(spec.dataDir) : openPostgresWriter(spec.url);
}

/** The app's own file name in DATA_DIR (store/open.ts). */
export function sqliteFile(dataDir: string): string {
  return join(dataDir, 'linkyard.sqlite');
}

async function openSqliteWriter(dataDir: string): Promise<DatasetWriter> {
  mkdirSync(dataDir, { recursive: true });
  const file = sqliteFile(dataDir);
  // The app's migrations make the schema, so the store is the one the app would make.
  const store = new SqliteStore({ file });
  await store.migrate();
  await store.close();
  const db = new Database(file);
  // Durability per commit is not what a generated store needs (an interrupted chunk is rolled
  // back whatever this says; a crash of the machine means --resume from the last chunk at worst,
  // and SQLite keeps the file whole with synchronous OFF only if the OS does not crash, which is
  // what --resume's check of the plan is for). The cache keeps the name index's pages in memory.
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144');
  db.exec(
    `CREATE TABLE IF NOT EXISTS ${PROGRESS_TABLE} (table_name TEXT PRIMARY KEY, rows_done INTEGER NOT NULL, plan TEXT NOT NULL) STRICT`,
  );
  const inserts = new Map<string, Database.Statement<Value[]>>();
  const saveProgress = db.prepare<[string, number, string]>(
    `INSERT INTO ${PROGRESS_TABLE} (table_name, rows_done, plan) VALUES (?, ?, ?)
     ON CONFLICT (table_name) DO UPDATE SET rows_done = excluded.rows_done`,
  );
  let planText = '';
  return {
    async recorded() {
      const rows = db.prepare<[], { table_name: string; rows_done: number; plan: string }>(`SELECT * FROM ${PROGRESS_TABLE}`).all();
      return progressOf(rows);
    },
    async recordPlan(plan) {
      planText = JSON.stringify(plan);
      db.prepare(`INSERT INTO ${PROGRESS_TABLE} (table_name, rows_done, plan) VALUES ('', 0, ?) ON CONFLICT (table_name) DO NOTHING`).run(
        planText,
      );
    },
    async writeChunk(table, from, to) {
      let insert = inserts.get(table.table);
      if (insert === undefined) {
        const columns = table.columns.map((column) => column.name);
        insert = db.prepare<Value[]>(`INSERT INTO ${table.table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
        inserts.set(table.table, insert);
      }
      const statement = insert;
      db.transaction(() => {
        const triggers = insertTriggers(db, table.table);
        const lastRowid =
          triggers.length === 0 ? 0 : (db.prepare(`SELECT coalesce(max(rowid), 0) AS id FROM ${table.table}`).get() as { id: number }).id;
        for (const trigger of triggers) db.exec(`DROP TRIGGER ${trigger.name}`);
        for (let index = from; index < to; index++) for (const row of table.rowsOf(index)) statement.run(...row);
        for (const trigger of triggers) {
          db.prepare(trigger.fill).run(lastRowid);
          db.exec(trigger.sql);
        }
        saveProgress.run(table.table, to, planText);
      })();
    },
    async finish(table) {
      for (const statement of table.finish.sqlite) db.exec(statement);
    },
    async close() {
      // The WAL folded into the file: bytes on disk are then the file's own.
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
    },
  };
}

/**
 * The app's AFTER INSERT triggers on `table` (the search index's, link_checks'), each with the
 * INSERT … SELECT that writes what it would have for every row above a rowid. Fired row by row
 * they cost a chunk of bookmarks four times its own writing (200 000 links: 94 s against 26 s
 * with the fill, 2-core VM, 2026-12-07), so a chunk drops them, fills their rows in one statement
 * and puts them back as the app's migrations made them, all in its transaction: a committed store
 * always has them. A trigger of another shape is refused, not skipped.
 */
function insertTriggers(db: Database.Database, table: string): Array<{ name: string; sql: string; fill: string }> {
  const rows = db
    .prepare<[string], { name: string; sql: string }>(
      `SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND sql LIKE '%AFTER INSERT ON%' ORDER BY name`,
    )
    .all(table);
  return rows.map(({ name, sql }) => {
    const body = /\bAFTER INSERT ON \w+ BEGIN\s+INSERT INTO (\w+) \(([^)]*)\) VALUES \((.*)\);\s*END$/s.exec(sql);
    if (body === null) throw new Error(`the dataset writer cannot fill what trigger ${name} writes: ${sql}`);
    const [, target, columns, values] = body;
    // The trigger's own expressions, with the table aliased as `new`.
    return { name, sql, fill: `INSERT INTO ${target} (${columns}) SELECT ${values} FROM ${table} AS new WHERE new.rowid > ?` };
  });
}

function progressOf(rows: ReadonlyArray<{ table_name: string; rows_done: number | string; plan: string }>): {
  plan: DatasetPlan | undefined;
  rowsDone: Map<string, number>;
} {
  const planRow = rows.find((row) => row.table_name === '');
  return {
    plan: planRow === undefined ? undefined : (JSON.parse(planRow.plan) as DatasetPlan),
    rowsDone: new Map(rows.filter((row) => row.table_name !== '').map((row) => [row.table_name, Number(row.rows_done)])),
  };
}

/** Creates the URL's database when it does not exist (SQLSTATE 3D000), through the server's `postgres` database. */
export async function ensureDatabase(url: string): Promise<void> {
  const probe = new pg.Client({ connectionString: url });
  try {
    await probe.connect();
    return;
  } catch (error) {
    if ((error as { code?: unknown }).code !== '3D000') throw error;
  } finally {
    await probe.end().catch(() => {});
  }
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  target.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: target.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
}

/** COPY's text format: tab-separated, \N for null, backslash escapes for the few characters that need them. */
function copyField(value: Value, kind: string): string {
  if (value === null) return '\\N';
  if (kind === 'timestamp') return new Date(value).toISOString();
  return typeof value === 'number'
    ? String(value)
    : value.replace(/[\\\t\n\r]/g, (char) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[char] ?? char);
}

/** Rows sent to COPY in strings of this many lines: few enough writes, small enough to stream. */
const LINES_PER_WRITE = 2000;

async function openPostgresWriter(url: string): Promise<DatasetWriter> {
  await ensureDatabase(url);
  const store = new PostgresStore({ connectionString: url, queryTimeoutMs: 600_000 });
  await store.migrate();
  await store.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  // The rollups' foreign keys hold by construction (bookmark_id is a generated link's id): a
  // superuser's session skips their per-row check, which costs COPY more than the rows do.
  await client.query(`SET session_replication_role = replica`).catch(() => {});
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${PROGRESS_TABLE} (table_name text PRIMARY KEY, rows_done bigint NOT NULL, plan text NOT NULL)`,
  );
  let planText = '';
  return {
    async recorded() {
      const { rows } = await client.query<{ table_name: string; rows_done: string; plan: string }>(`SELECT * FROM ${PROGRESS_TABLE}`);
      return progressOf(rows);
    },
    async recordPlan(plan) {
      planText = JSON.stringify(plan);
      await client.query(
        `INSERT INTO ${PROGRESS_TABLE} (table_name, rows_done, plan) VALUES ('', 0, $1) ON CONFLICT (table_name) DO NOTHING`,
        [planText],
      );
    },
    async writeChunk(table, from, to) {
      const kinds = table.columns.map((column) => column.kind);
      function* lines(): Generator<string> {
        let text = '';
        let count = 0;
        for (let index = from; index < to; index++) {
          for (const values of table.rowsOf(index)) {
            text += `${values.map((value, i) => copyField(value, kinds[i] ?? 'text')).join('\t')}\n`;
            if (++count % LINES_PER_WRITE === 0) {
              yield text;
              text = '';
            }
          }
        }
        if (text !== '') yield text;
      }
      await client.query('BEGIN');
      try {
        const columns = table.columns.map((column) => column.name).join(', ');
        await pipeline(Readable.from(lines()), client.query(copyFrom(`COPY ${table.table} (${columns}) FROM STDIN`)));
        await client.query(
          `INSERT INTO ${PROGRESS_TABLE} (table_name, rows_done, plan) VALUES ($1, $2, $3)
           ON CONFLICT (table_name) DO UPDATE SET rows_done = excluded.rows_done`,
          [table.table, to, planText],
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    },
    async finish(table) {
      for (const statement of table.finish.postgres) await client.query(statement);
    },
    async close() {
      await client.end();
    },
  };
}
