import { createdAtOf, type DatasetPlan, harmonic, nameKey, nameOf, visitsOf } from './plan.ts';
import { checkStatusOf, targetOf, titleOf } from './words.ts';

/** A column's kind decides how each engine is given it: created_at is epoch ms in SQLite, timestamptz in PostgreSQL. */
export type ColumnKind = 'integer' | 'text' | 'timestamp';
export type Value = string | number | null;

/**
 * One generated table: its rows are a deterministic sequence, row `i` a pure function of the plan
 * and `i`, so a writer can stop after any committed chunk and go on from the next. The stats
 * rollups (issue 22) come as one more of these, drawing each link's visits from the same plan.
 */
export interface TableGenerator {
  readonly table: string;
  readonly columns: ReadonlyArray<{ name: string; kind: ColumnKind }>;
  /** How many rows the plan gives this table. */
  readonly rows: number;
  row(index: number): Value[];
  /** Statements to run once the last row is in, per engine (a sequence moved past explicit ids). */
  readonly finish: { sqlite: readonly string[]; postgres: readonly string[] };
}

/** bookmarks: ids 1…links in creation order (so ids are dense: the cursor of row K is computable), visits from the Zipf law. */
export function bookmarksTable(plan: DatasetPlan): TableGenerator {
  const key = nameKey(plan);
  const normaliser = harmonic(plan.links);
  return {
    table: 'bookmarks',
    columns: [
      { name: 'id', kind: 'integer' },
      { name: 'name', kind: 'text' },
      { name: 'uri', kind: 'text' },
      { name: 'title', kind: 'text' },
      { name: 'check_status', kind: 'integer' },
      { name: 'visits', kind: 'integer' },
      { name: 'created_at', kind: 'timestamp' },
    ],
    rows: plan.links,
    row: (index) => [
      index + 1,
      nameOf(key, index),
      targetOf(plan.seed, index),
      titleOf(plan.seed, index),
      checkStatusOf(plan.seed, index),
      visitsOf(plan, key, normaliser, index),
      createdAtOf(plan, index),
    ],
    finish: {
      // AUTOINCREMENT's sqlite_sequence already follows explicit ids.
      sqlite: [],
      // COPY writes identity columns as given and leaves the sequence behind: the app's next insert would collide.
      postgres: [`SELECT setval(pg_get_serial_sequence('bookmarks', 'id'), (SELECT max(id) FROM bookmarks))`, 'ANALYZE bookmarks'],
    },
  };
}

/** Every table a plan fills, in the order they are written. */
export function datasetTables(plan: DatasetPlan): TableGenerator[] {
  return [bookmarksTable(plan)];
}
