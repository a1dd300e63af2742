/**
 * The tables a move copies and verifies, described once for both engines. A row travels as its
 * canonical form: one string (or null) per column, the same whichever engine it came from, so the
 * copy converts only at the edges and the checksum of a table is comparable across engines.
 */

/**
 * How a column is written canonically: `int` in decimal (64-bit safe), `time` as epoch
 * milliseconds (SQLite keeps them so; PostgreSQL's microseconds are floored), `bool` as 1 or 0.
 */
export type ColumnType = 'int' | 'text' | 'time' | 'bool';

export interface Column {
  name: string;
  type: ColumnType;
}

export interface TableSpec {
  name: string;
  columns: readonly Column[];
  /**
   * Integer columns, a prefix of the key, that rows are copied in order of, in whole groups (every
   * row of one value of them in the same batch): the target's largest value is then how far a
   * move got. Empty: the table is small and copied in one transaction.
   */
  progress: readonly string[];
  /** The rest of the key after `progress`: rows are sorted by progress + key for the checksum. */
  key: readonly string[];
  /** The column whose identity/AUTOINCREMENT high-water mark is carried over (ids are never reused). */
  sequence?: string;
  /** Rows the table holds that count; disabled_links on SQLite may keep one for a deleted link. */
  where?: string;
  /** On SQLite, rows read from this subquery instead of the table. */
  sqliteFrom?: string;
  /**
   * On PostgreSQL, the columns after the first are columns of this table, whose id is the first:
   * read from it, and written by UPDATE.
   */
  postgresColumnsIn?: string;
  /**
   * The target has a row for each of these already (a trigger or a default made it), so rows are
   * written over, not added, and the target says nothing about how far a copy got: the table is
   * copied whole on every run, which writing over makes harmless.
   */
  overwrites?: true;
}

const int = (name: string): Column => ({ name, type: 'int' });
const text = (name: string): Column => ({ name, type: 'text' });
const time = (name: string): Column => ({ name, type: 'time' });

/**
 * In the order copied: links first, as the others refer to them. visit_batches is left out: a
 * batch id only keeps a retried flush from being counted twice by the store that took it, and no
 * retry of a batch the source took can reach the target (the stack is stopped for a move).
 */
export const TABLES: readonly TableSpec[] = [
  {
    name: 'bookmarks',
    columns: [
      int('id'),
      text('name'),
      text('uri'),
      text('title'),
      int('check_status'),
      int('visits'),
      time('created_at'),
      text('created_by'),
      time('expires_at'),
      int('max_visits'),
      { name: 'forward_query', type: 'bool' },
    ],
    progress: ['id'],
    key: [],
    sequence: 'id',
  },
  {
    name: 'disabled_links',
    columns: [int('bookmark_id'), time('disabled_at'), text('disabled_by')],
    progress: ['bookmark_id'],
    key: [],
    where: 'bookmark_id IN (SELECT id FROM bookmarks)',
  },
  {
    name: 'visit_hours',
    columns: [int('bookmark_id'), int('hour'), int('visits'), int('bots')],
    progress: ['bookmark_id', 'hour'],
    key: [],
  },
  {
    name: 'visit_days',
    columns: [int('bookmark_id'), int('day'), int('visits'), int('bots')],
    progress: ['bookmark_id', 'day'],
    key: [],
  },
  {
    name: 'visit_dimensions',
    columns: [int('bookmark_id'), int('day'), text('dimension'), text('value'), int('visits')],
    // A link's day has a few dozen values at most: whole days make batches without text in the
    // resume key, whose order the two engines' collations need not agree on.
    progress: ['bookmark_id', 'day'],
    key: ['dimension', 'value'],
  },
  {
    // Re-checks' state per link: a table of its own on SQLite (a link made before re-checks may
    // have no row yet: read as checked at the epoch, as PostgreSQL's default has it), columns of
    // bookmarks on PostgreSQL. Both targets make a row with each link: written over.
    name: 'link_checks',
    columns: [int('bookmark_id'), time('checked_at'), int('check_failures'), time('failing_since'), text('check_error')],
    progress: ['bookmark_id'],
    key: [],
    sqliteFrom: `SELECT b.id AS bookmark_id, coalesce(c.checked_at, 0) AS checked_at, coalesce(c.check_failures, 0) AS check_failures,
                 c.failing_since, c.check_error FROM bookmarks b LEFT JOIN link_checks c ON c.bookmark_id = b.id`,
    postgresColumnsIn: 'bookmarks',
    overwrites: true,
  },
  {
    name: 'api_keys',
    columns: [int('id'), text('name'), text('role'), text('hash'), time('created_at'), time('last_used_at')],
    progress: ['id'],
    key: [],
    sequence: 'id',
  },
  {
    name: 'audit_log',
    columns: [int('id'), time('at'), text('actor'), text('action'), text('subject'), text('detail')],
    progress: ['id'],
    key: [],
    sequence: 'id',
  },
  {
    name: 'sessions',
    columns: [text('hash'), text('key_name'), time('created_at'), time('expires_at')],
    progress: [],
    key: ['hash'],
  },
  {
    name: 'blocked_hosts',
    columns: [text('host'), time('added_at'), text('added_by')],
    progress: [],
    key: ['host'],
  },
];

/**
 * Tables a move leaves out on purpose (derived, or bookkeeping of the store that wrote them):
 * visit_batches (above), the migrations' record, SQLite's search index (FTS5 and its shadow
 * tables), the search and re-check backfill marks (a new target enrols every row it is given), the
 * re-checks' lease (held by a running process; none runs during a move) and SQLite's id sequences
 * (carried over by TableSpec.sequence).
 */
export function leftOut(table: string): boolean {
  return (
    ['visit_batches', 'schema_migrations', 'search_backfill', 'recheck_backfill', 'leases'].includes(table) ||
    table.startsWith('bookmarks_search') ||
    table.startsWith('sqlite_')
  );
}

/**
 * What a store holds that no TableSpec copies: a table or a column a later build added. A move
 * that would drop it is refused instead (checked on both sides, before anything is written).
 */
export function uncopied(tables: ReadonlyMap<string, readonly string[]>): string[] {
  const missing: string[] = [];
  for (const [table, columns] of tables) {
    if (leftOut(table)) continue;
    const spec = TABLES.find((candidate) => candidate.name === table);
    if (spec === undefined) {
      missing.push(table);
      continue;
    }
    // Columns another spec keeps here (PostgreSQL's re-check columns of bookmarks).
    const carried = TABLES.filter((other) => other.postgresColumnsIn === table).flatMap((other) => other.columns.slice(1));
    for (const column of columns) {
      if (!spec.columns.some((known) => known.name === column) && !carried.some((known) => known.name === column)) {
        missing.push(`${table}.${column}`);
      }
    }
  }
  return missing;
}

export type Value = string | null;
export type Row = Value[];

/** The progress key of a row: its first progress.length columns (progress columns lead every spec). */
export function progressOf(table: TableSpec, row: Row): Row {
  return table.progress.map((name) => row[columnIndex(table, name)] ?? null);
}

export function columnIndex(table: TableSpec, name: string): number {
  const index = table.columns.findIndex((column) => column.name === name);
  if (index < 0) throw new Error(`${table.name} has no column ${name}`);
  return index;
}

function compareValues(a: Value, b: Value, type: ColumnType): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (type === 'text') return a < b ? -1 : 1;
  const difference = BigInt(a) - BigInt(b);
  return difference < 0n ? -1 : difference > 0n ? 1 : 0;
}

/** Compares two progress keys (integers), element by element. */
export function compareProgress(a: Row, b: Row): number {
  for (let i = 0; i < a.length; i++) {
    const order = compareValues(a[i] ?? null, b[i] ?? null, 'int');
    if (order !== 0) return order;
  }
  return 0;
}

/**
 * Sorts rows by the table's whole key in JavaScript, not SQL: the engines' text collations differ
 * (PostgreSQL's follows the locale), and the checksum needs one order on both.
 */
export function sortByKey(table: TableSpec, rows: Row[]): Row[] {
  const keys = [...table.progress, ...table.key].map((name) => ({
    index: columnIndex(table, name),
    type: table.columns[columnIndex(table, name)]?.type ?? 'text',
  }));
  return rows.sort((a, b) => {
    for (const { index, type } of keys) {
      const order = compareValues(a[index] ?? null, b[index] ?? null, type);
      if (order !== 0) return order;
    }
    return 0;
  });
}

/** One row's line in the checksum: JSON of the canonical values, so no separator can be forged by content. */
export function canonicalLine(row: Row): string {
  return `${JSON.stringify(row)}\n`;
}
