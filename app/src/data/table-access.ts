import type { Row, TableSpec } from './tables.ts';

/**
 * Raw access to one store's tables, below the BookmarkStore: what a move reads and writes. Every
 * row is in its canonical form (tables.ts); each engine converts at its edge.
 */
export interface TableAccess {
  readonly engine: 'sqlite' | 'postgres';
  /** Where it is, for messages (a PostgreSQL URL without its password). */
  readonly label: string;
  /** Every table of the store's schema and its columns, for checking nothing would be left behind. */
  tableColumns(): Promise<Map<string, string[]>>;
  /** The schema version this store is at; undefined when it holds no linkyard schema. */
  schemaVersion(): Promise<number | undefined>;
  count(table: TableSpec): Promise<number>;
  /**
   * The progress key `offset` rows past `after` (in progress order): the end of the next batch.
   * Undefined when fewer rows than that remain.
   */
  progressAt(table: TableSpec, after: Row | undefined, offset: number): Promise<Row | undefined>;
  /** Rows with progress key in (after, upTo], in progress order (undefined bounds are open). */
  rows(table: TableSpec, after: Row | undefined, upTo: Row | undefined): Promise<Row[]>;
  /** The largest progress key present: how far a copy into this store got. */
  lastProgress(table: TableSpec): Promise<Row | undefined>;
  /** Inserts the rows in one transaction: a batch is there whole or not at all. */
  insert(table: TableSpec, rows: readonly Row[]): Promise<void>;
  /** The largest id ever handed out for the table's sequence column (0: none), deleted rows included. */
  idHighWater(table: TableSpec): Promise<bigint>;
  /** Makes the next id handed out larger than `value`. */
  raiseIdHighWater(table: TableSpec, value: bigint): Promise<void>;
  close(): Promise<void>;
}

/** The SQL for `(progress) > (after) AND (progress) <= (upTo)` and the table's filter, with `?`-style placeholders counted by `placeholder`. */
export function rangeCondition(
  table: TableSpec,
  after: Row | undefined,
  upTo: Row | undefined,
  placeholder: (index: number) => string,
): { sql: string; values: Row } {
  const parts: string[] = [];
  const values: Row = [];
  const tuple = `(${table.progress.join(', ')})`;
  const bound = (row: Row) => `(${row.map((value) => placeholder(values.push(value))).join(', ')})`;
  if (after !== undefined) parts.push(`${tuple} > ${bound(after)}`);
  if (upTo !== undefined) parts.push(`${tuple} <= ${bound(upTo)}`);
  if (table.where !== undefined) parts.push(table.where);
  return { sql: parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`, values };
}
