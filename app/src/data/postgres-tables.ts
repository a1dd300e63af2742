import { Client } from 'pg';
import { rangeCondition, type TableAccess } from './table-access.ts';
import type { Column, Row, TableSpec, Value } from './tables.ts';

/** A column read in its canonical form (tables.ts): PostgreSQL does the conversion. */
function selected(column: Column): string {
  switch (column.type) {
    case 'int':
      return `${column.name}::text`;
    case 'time':
      return `floor(extract(epoch FROM ${column.name}) * 1000)::bigint::text`;
    case 'bool':
      return `${column.name}::int::text`;
    case 'text':
      return column.name;
  }
}

/** A canonical text value made back into the column's type, from an unnest() column `u`. */
function converted(column: Column, u: string): string {
  switch (column.type) {
    case 'int':
      return `${u}::bigint`;
    // Exact: no double between the milliseconds and the timestamp.
    case 'time':
      return `timestamptz 'epoch' + ${u}::bigint * interval '1 millisecond'`;
    case 'bool':
      return `${u}::int::boolean`;
    case 'text':
      return u;
  }
}

/** The table, or (postgresColumnsIn) the columns it keeps in another table, under the table's name. */
function source(table: TableSpec): string {
  if (table.postgresColumnsIn === undefined) return table.name;
  const [key, ...rest] = table.columns.map((column) => column.name);
  return `(SELECT id AS ${key}, ${rest.join(', ')} FROM ${table.postgresColumnsIn}) AS ${table.name}`;
}

/**
 * The progress columns for ORDER BY, qualified: a bare name would sort by the selected `name::text`
 * (an output column of the same name wins in PostgreSQL's ORDER BY), '10' before '9'.
 */
function ordered(table: TableSpec, direction = ''): string {
  return table.progress.map((name) => `${table.name}.${name}${direction}`).join(', ');
}

/** A URL fit to print: the password, if any, replaced. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.href;
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/** A PostgreSQL store's tables through one connection of its own, with no statement timeout. */
export class PostgresTables implements TableAccess {
  readonly engine = 'postgres';
  readonly label: string;
  readonly #client: Client;

  private constructor(client: Client, url: string) {
    this.#client = client;
    this.label = redactedUrl(url);
  }

  static async connect(url: string): Promise<PostgresTables> {
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    await client.connect();
    return new PostgresTables(client, url);
  }

  async #query(text: string, values: unknown[] = []): Promise<Value[][]> {
    const result = await this.#client.query<Value[]>({ text, values, rowMode: 'array' });
    return result.rows;
  }

  async tableColumns(): Promise<Map<string, string[]>> {
    const rows = await this.#query(
      `SELECT table_name::text, column_name::text FROM information_schema.columns
       WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`,
    );
    const tables = new Map<string, string[]>();
    for (const [table, column] of rows) {
      if (table === null || table === undefined || column === null || column === undefined) continue;
      tables.set(table, [...(tables.get(table) ?? []), column]);
    }
    return tables;
  }

  async schemaVersion(): Promise<number | undefined> {
    const [found] = await this.#query(`SELECT to_regclass('schema_migrations')::text`);
    if (found?.[0] === null || found?.[0] === undefined) return undefined;
    const [row] = await this.#query('SELECT max(version)::text FROM schema_migrations');
    return row?.[0] === null || row?.[0] === undefined ? undefined : Number(row[0]);
  }

  async count(table: TableSpec): Promise<number> {
    const where = table.where === undefined ? '' : `WHERE ${table.where}`;
    const [row] = await this.#query(`SELECT count(*)::text FROM ${source(table)} ${where}`);
    return Number(row?.[0] ?? 0);
  }

  async progressAt(table: TableSpec, after: Row | undefined, offset: number): Promise<Row | undefined> {
    const range = rangeCondition(table, after, undefined, (index) => `$${index}::bigint`);
    const [row] = await this.#query(
      `SELECT ${table.progress.map((name) => `${name}::text`).join(', ')} FROM ${source(table)} ${range.sql} ORDER BY ${ordered(table)} LIMIT 1 OFFSET ${offset}`,
      range.values,
    );
    return row;
  }

  async rows(table: TableSpec, after: Row | undefined, upTo: Row | undefined): Promise<Row[]> {
    const range = rangeCondition(table, after, upTo, (index) => `$${index}::bigint`);
    const order = table.progress.length === 0 ? '' : `ORDER BY ${ordered(table)}`;
    return this.#query(`SELECT ${table.columns.map(selected).join(', ')} FROM ${source(table)} ${range.sql} ${order}`, range.values);
  }

  async lastProgress(table: TableSpec): Promise<Row | undefined> {
    if (table.progress.length === 0) return undefined;
    const where = table.where === undefined ? '' : `WHERE ${table.where}`;
    const [row] = await this.#query(
      `SELECT ${table.progress.map((name) => `${name}::text`).join(', ')} FROM ${source(table)} ${where}
       ORDER BY ${ordered(table, ' DESC')} LIMIT 1`,
    );
    return row;
  }

  async insert(table: TableSpec, rows: readonly Row[]): Promise<void> {
    if (rows.length === 0) return;
    const names = table.columns.map((column) => column.name);
    // One statement per batch: a text[] per column, unnested together and converted in SQL.
    const columns = table.columns.map((_, index) => rows.map((row) => row[index] ?? null));
    const unnest = `unnest(${names.map((_, index) => `$${index + 1}::text[]`).join(', ')}) AS u(${names.map((_, index) => `c${index}`).join(', ')})`;
    if (table.postgresColumnsIn !== undefined) {
      // The rows are columns of another table's rows, which exist already: written over by id.
      const [, ...rest] = table.columns.map((column, index) => `${column.name} = ${converted(column, `u.c${index}`)}`);
      await this.#query(`UPDATE ${table.postgresColumnsIn} t SET ${rest.join(', ')} FROM ${unnest} WHERE t.id = u.c0::bigint`, columns);
      return;
    }
    const identity = table.sequence === undefined ? '' : 'OVERRIDING SYSTEM VALUE';
    await this.#query(
      `INSERT INTO ${table.name} (${names.join(', ')}) ${identity}
       SELECT ${table.columns.map((column, index) => converted(column, `c${index}`)).join(', ')} FROM ${unnest}`,
      columns,
    );
  }

  async idHighWater(table: TableSpec): Promise<bigint> {
    if (table.sequence === undefined) return 0n;
    const [row] = await this.#query(`SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence($1, $2)::regclass), 0)::text`, [
      table.name,
      table.sequence,
    ]);
    return BigInt(row?.[0] ?? '0');
  }

  async raiseIdHighWater(table: TableSpec, value: bigint): Promise<void> {
    if (table.sequence === undefined || value <= 0n) return;
    const sequence = `pg_get_serial_sequence('${table.name}', '${table.sequence}')`;
    await this.#query(`SELECT setval(${sequence}, greatest($1::bigint, coalesce(pg_sequence_last_value(${sequence}::regclass), 0)))`, [
      value.toString(),
    ]);
  }

  async close(): Promise<void> {
    await this.#client.end();
  }
}
