import Database from 'better-sqlite3';
import { rangeCondition, type TableAccess } from './table-access.ts';
import type { Row, TableSpec, Value } from './tables.ts';

/** How long a statement waits for another process's write lock before failing. */
const BUSY_TIMEOUT_MS = 5000;

/** Integers go in as BigInt: a 64-bit value must not pass through a double. */
function bound(value: Value, type: string): bigint | string | null {
  if (value === null) return null;
  return type === 'text' ? value : BigInt(value);
}

function canonical(value: unknown): Value {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? value : String(value);
}

/** The table, or the subquery its rows are read from, under the table's name. */
function source(table: TableSpec): string {
  return table.sqliteFrom === undefined ? table.name : `(${table.sqliteFrom}) AS ${table.name}`;
}

/** A SQLite store's tables through its own better-sqlite3 connection (the store class keeps its own). */
export class SqliteTables implements TableAccess {
  readonly engine = 'sqlite';
  readonly label: string;
  readonly #db: Database.Database;

  constructor(file: string) {
    this.label = file;
    this.#db = new Database(file, { timeout: BUSY_TIMEOUT_MS, fileMustExist: true });
    this.#db.defaultSafeIntegers(true);
  }

  async tableColumns(): Promise<Map<string, string[]>> {
    const tables = this.#db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table'`).pluck().all() as string[];
    return new Map(
      tables.map((table) => [table, this.#db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[]]),
    );
  }

  async schemaVersion(): Promise<number | undefined> {
    const version = Number(this.#db.pragma('user_version', { simple: true }));
    return version === 0 ? undefined : version;
  }

  async count(table: TableSpec): Promise<number> {
    const where = table.where === undefined ? '' : `WHERE ${table.where}`;
    return Number(
      this.#db
        .prepare(`SELECT count(*) FROM ${source(table)} ${where}`)
        .pluck()
        .get(),
    );
  }

  async progressAt(table: TableSpec, after: Row | undefined, offset: number): Promise<Row | undefined> {
    const range = rangeCondition(table, after, undefined, () => '?');
    const order = table.progress.join(', ');
    const row = this.#db
      .prepare(`SELECT ${order} FROM ${source(table)} ${range.sql} ORDER BY ${order} LIMIT 1 OFFSET ${offset}`)
      .raw(true)
      .get(...range.values.map((value) => bound(value, 'int'))) as unknown[] | undefined;
    return row?.map(canonical);
  }

  async rows(table: TableSpec, after: Row | undefined, upTo: Row | undefined): Promise<Row[]> {
    const range = rangeCondition(table, after, upTo, () => '?');
    const order = table.progress.length === 0 ? '' : `ORDER BY ${table.progress.join(', ')}`;
    const rows = this.#db
      .prepare(`SELECT ${table.columns.map((column) => column.name).join(', ')} FROM ${source(table)} ${range.sql} ${order}`)
      .raw(true)
      .all(...range.values.map((value) => bound(value, 'int'))) as unknown[][];
    return rows.map((row) => row.map(canonical));
  }

  async lastProgress(table: TableSpec): Promise<Row | undefined> {
    if (table.progress.length === 0) return undefined;
    const where = table.where === undefined ? '' : `WHERE ${table.where}`;
    const row = this.#db
      .prepare(
        `SELECT ${table.progress.join(', ')} FROM ${source(table)} ${where} ORDER BY ${table.progress.map((name) => `${name} DESC`).join(', ')} LIMIT 1`,
      )
      .raw(true)
      .get() as unknown[] | undefined;
    return row?.map(canonical);
  }

  async insert(table: TableSpec, rows: readonly Row[]): Promise<void> {
    const names = table.columns.map((column) => column.name);
    const overwrite =
      table.overwrites === true
        ? ` ON CONFLICT (${table.progress.join(', ')}) DO UPDATE SET ${names.map((name) => `${name} = excluded.${name}`).join(', ')}`
        : '';
    const statement = this.#db.prepare(
      `INSERT INTO ${table.name} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})${overwrite}`,
    );
    this.#db
      .transaction(() => {
        for (const row of rows) statement.run(...row.map((value, index) => bound(value, table.columns[index]?.type ?? 'text')));
      })
      .immediate();
  }

  async idHighWater(table: TableSpec): Promise<bigint> {
    const seq = this.#db.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').pluck().get(table.name);
    return typeof seq === 'bigint' ? seq : 0n;
  }

  async raiseIdHighWater(table: TableSpec, value: bigint): Promise<void> {
    this.#db
      .transaction(() => {
        const raised = this.#db.prepare('UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?').run(value, table.name);
        if (raised.changes === 0 && value > 0n)
          this.#db.prepare('INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)').run(table.name, value);
      })
      .immediate();
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
