import { closeSync, fsyncSync, openSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { ACCESS_MIGRATION, BLOCKLIST_MIGRATION, SqliteAccessStore } from './access-sqlite.ts';
import type { AccessStore } from './access-types.ts';
import { checkLimit, decodeCursor, decodeSearchCursor, toPage } from './cursor.ts';
import { searchReader } from './sqlite-search-reader.ts';
import type { SqliteThread } from './sqlite-thread.ts';
import { type VisitWrite, visitWriter } from './sqlite-visit-writer.ts';
import { prepareStatsStatements, STATS_SCHEMA } from './stats-sqlite.ts';
import type { DailyVisits, DimensionCount, Granularity, VisitBucket, VisitRollupRows } from './stats-types.ts';
import { prepareTransferStatements } from './transfer-sqlite.ts';
import {
  type Bookmark,
  type BookmarkChanges,
  type BookmarkPage,
  type BookmarkStore,
  type CreateOutcome,
  type EditOutcome,
  type ImportOutcome,
  type LinkRecord,
  type LinkRecordPage,
  type ListOptions,
  type NewBookmark,
  type RecheckCandidate,
  type RecheckOutcome,
  type RedirectTarget,
  SearchIndexingError,
  type SearchOptions,
  type SearchPage,
} from './types.ts';
import { StoreUnavailableError, type UnavailableReason } from './unavailable.ts';

/** How long a writer waits for another process's write to finish before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * Each connection's page cache, KiB: SQLite's own default, where better-sqlite3 builds it with
 * 16 000. A process has two (the store's, the visit writer's), and at 1 M links both filled,
 * 30 MiB of peak RSS; the pages stay in the kernel's cache, and redirects did not slow (0021).
 */
export const PAGE_CACHE_KIB = 2000;

/**
 * The WAL a serving store keeps, in frames: twice the autocheckpoint (1000 pages), so the WAL
 * restarts from its start before it reaches the end, with room for a restart put off by readers
 * and a large commit. About 8 MiB with 4 KiB pages. docs/decisions/0028-wal-kept-at-size.md.
 */
const WAL_WORKING_FRAMES = 2000;
/** A WAL file's header, and each frame's header before its page (sqlite.org/fileformat.html#the_write_ahead_log). */
const WAL_HEADER_BYTES = 32;
const WAL_FRAME_HEADER_BYTES = 24;
/** The scratch rows that grow the WAL, and the page cache they spill from (pages). */
const PRESIZE_ROW_BYTES = 1024 * 1024;
const PRESIZE_CACHE_PAGES = 16;

/**
 * Schema steps, applied in order; `PRAGMA user_version` records how many ran. Append only: a step
 * that shipped is never edited, so every database reaches the same schema.
 */
const MIGRATIONS: readonly string[] = [
  // created_at is epoch milliseconds: SQLite has no date type and integers sort and compare exactly.
  `CREATE TABLE bookmarks (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     name TEXT NOT NULL UNIQUE,
     uri TEXT NOT NULL,
     title TEXT,
     check_status INTEGER NOT NULL,
     visits INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL
   ) STRICT`,
  // Visit batches already applied, so that a retried flush is not counted twice.
  `CREATE TABLE visit_batches (
     id TEXT PRIMARY KEY,
     applied_at INTEGER NOT NULL
   ) STRICT;
   CREATE INDEX visit_batches_applied_at ON visit_batches (applied_at)`,
  ACCESS_MIGRATION,
  BLOCKLIST_MIGRATION,
  // Stats rollups, keyed by (bookmark_id, bucket): docs/decisions/0019-stats-rollups.md.
  STATS_SCHEMA,
  // Expiry (epoch ms; visits counted) and query forwarding, per link (docs/links.md).
  `ALTER TABLE bookmarks ADD COLUMN expires_at INTEGER;
   ALTER TABLE bookmarks ADD COLUMN max_visits INTEGER;
   ALTER TABLE bookmarks ADD COLUMN forward_query INTEGER NOT NULL DEFAULT 1`,
  // Search: an FTS5 trigram index, kept current by triggers from here on. The rows already there
  // are filled in by searchIndexStep after start-up, newest first in bounded batches, so this step
  // is instant on any store (docs/decisions/0022-search-index.md).
  `CREATE VIRTUAL TABLE bookmarks_search USING fts5(text, tokenize = 'trigram');
   CREATE TABLE search_backfill (id INTEGER PRIMARY KEY CHECK (id = 1), below INTEGER NOT NULL) STRICT;
   INSERT INTO search_backfill (id, below) SELECT 1, coalesce(max(id), 0) + 1 FROM bookmarks;
   CREATE TRIGGER bookmarks_search_insert AFTER INSERT ON bookmarks BEGIN
     INSERT INTO bookmarks_search (rowid, text) VALUES (new.id, new.name || ' ' || new.uri || ' ' || coalesce(new.title, ''));
   END;
   CREATE TRIGGER bookmarks_search_update AFTER UPDATE OF name, uri, title ON bookmarks BEGIN
     DELETE FROM bookmarks_search WHERE rowid = old.id;
     INSERT INTO bookmarks_search (rowid, text) VALUES (new.id, new.name || ' ' || new.uri || ' ' || coalesce(new.title, ''));
   END;
   CREATE TRIGGER bookmarks_search_delete AFTER DELETE ON bookmarks BEGIN
     DELETE FROM bookmarks_search WHERE rowid = old.id;
   END`,
  // Re-checks (services/rechecks.ts): when each target was last fetched and its run of failures,
  // beside the bookmarks rather than in new columns: adding a column to a STRICT table checks
  // every row (2–3 s a column at a million links), an empty table is instant on any store. New
  // links get their row from the trigger; the links already there are enrolled after start-up by
  // recheckIndexStep, in batches below the mark (as the search index is, decision 0022).
  `CREATE TABLE link_checks (
     bookmark_id INTEGER PRIMARY KEY REFERENCES bookmarks (id) ON DELETE CASCADE,
     checked_at INTEGER NOT NULL,
     check_failures INTEGER NOT NULL DEFAULT 0,
     failing_since INTEGER,
     check_error TEXT
   ) STRICT;
   CREATE INDEX link_checks_checked_at ON link_checks (checked_at);
   CREATE TRIGGER link_checks_insert AFTER INSERT ON bookmarks BEGIN
     INSERT INTO link_checks (bookmark_id, checked_at) VALUES (new.id, new.created_at);
   END;
   CREATE TABLE recheck_backfill (id INTEGER PRIMARY KEY CHECK (id = 1), below INTEGER NOT NULL) STRICT;
   INSERT INTO recheck_backfill (id, below) SELECT 1, coalesce(max(id), 0) + 1 FROM bookmarks;
   CREATE TABLE leases (
     name TEXT PRIMARY KEY,
     owner TEXT NOT NULL,
     expires_at INTEGER NOT NULL
   ) STRICT`,
];

/** The `PRAGMA user_version` of a store this build made or brought up to date (backup and restore check it). */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The re-checks' pick (cutoff, limit): the index on link_checks.checked_at gives the oldest first
 * and stops after `limit`. Exported for loadtest/src/cli/recheck-cost.ts's EXPLAIN.
 */
export const DUE_FOR_RECHECK_SQL = `SELECT b.name, b.uri FROM link_checks c JOIN bookmarks b ON b.id = c.bookmark_id
  WHERE c.checked_at < ? ORDER BY c.checked_at LIMIT ?`;

/** Rows indexed for search, or enrolled for re-checks, per backfill transaction: a few tens of milliseconds of the write lock. */
const BACKFILL_BATCH = 5000;

/** How long an applied batch id is remembered: far longer than any retry of it. */
const BATCH_ID_KEPT_MS = 24 * 60 * 60 * 1000;

const COLUMNS = 'id, name, uri, title, check_status, visits, created_at, created_by, expires_at, max_visits, forward_query';

/** Reads of a whole bookmark join its re-check state: `SELECT ${FULL_COLUMNS} FROM ${WITH_CHECKS}`. */
const WITH_CHECKS = 'bookmarks b LEFT JOIN link_checks c ON c.bookmark_id = b.id';
const FULL_COLUMNS = `${COLUMNS.split(', ')
  .map((column) => `b.${column}`)
  .join(', ')}, c.checked_at, c.check_failures, c.failing_since, c.check_error`;

/**
 * Failures of the disk under the file rather than of the statement: full, read-only, failing, or
 * locked by another process past the busy timeout. SQLite rolls the transaction back in each case
 * (a WAL commit is one append), so the file stays whole and the next statement may succeed.
 */
export function unavailableReason(error: unknown): UnavailableReason | undefined {
  if (!(error instanceof Database.SqliteError)) return undefined;
  const { code } = error;
  if (code === 'SQLITE_FULL') return 'disk full';
  if (code.startsWith('SQLITE_READONLY')) return 'read-only';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'busy';
  // Also a write to a file system the kernel turned read-only (ext4 after an error): SQLite
  // reports the failed write, not the errno.
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN')) return 'I/O error';
  return undefined;
}

function translated(error: unknown): unknown {
  const reason = unavailableReason(error);
  return reason === undefined ? error : new StoreUnavailableError(reason, error);
}

/** A bookmark's row with its check, as the list and search read it. */
export type SearchRow = Row;

interface Row {
  id: number;
  name: string;
  uri: string;
  title: string | null;
  check_status: number;
  visits: number;
  created_at: number;
  created_by: string | null;
  expires_at: number | null;
  max_visits: number | null;
  forward_query: number;
  /** The link_checks columns: null for a link not enrolled yet (made before re-checks, see recheck_backfill). */
  checked_at: number | null;
  check_failures: number | null;
  failing_since: number | null;
  check_error: string | null;
}

/** A bookmarks row without its re-check state: what the export reads (transfer-sqlite.ts) and, less id and visits, what create writes. */
export type LinkRow = Omit<Row, 'checked_at' | 'check_failures' | 'failing_since' | 'check_error'>;

type NewRow = Omit<LinkRow, 'id' | 'visits'>;

interface TargetRow {
  uri: string;
  expires_at: number | null;
  max_visits: number | null;
  visits: number;
  forward_query: number;
}

interface UpdateParameters {
  name: string;
  set_uri: number;
  uri: string | null;
  set_title: number;
  title: string | null;
  set_check_status: number;
  check_status: number | null;
  set_expires_at: number;
  expires_at: number | null;
  set_max_visits: number;
  max_visits: number | null;
  set_forward_query: number;
  forward_query: number | null;
  /** When a new target's check ran (set_check_status): its run of failures starts over. */
  checked_at: number;
}

interface RecheckParameters {
  name: string;
  uri: string;
  at: number;
  ok: number;
  status: number | null;
  error: string | null;
}

function toBookmark(row: Row): Bookmark {
  return {
    name: row.name,
    uri: row.uri,
    title: row.title,
    checkStatus: row.check_status,
    visits: row.visits,
    createdAt: new Date(row.created_at),
    createdBy: row.created_by,
    expiresAt: row.expires_at === null ? null : new Date(row.expires_at),
    maxVisits: row.max_visits,
    forwardQuery: row.forward_query === 1,
    // Null or 0: not checked since the re-checks came; the last check was the one at create.
    checkedAt: new Date(row.checked_at === null || row.checked_at === 0 ? row.created_at : row.checked_at),
    checkFailures: row.check_failures ?? 0,
    failingSince: row.failing_since === null ? null : new Date(row.failing_since),
    checkError: row.check_error,
  };
}

function prepareStatements(db: Database.Database) {
  const insert = db
    .prepare<NewRow, number>(
      `INSERT INTO bookmarks (name, uri, title, check_status, created_at, created_by, expires_at, max_visits, forward_query)
     VALUES (@name, @uri, @title, @check_status, @created_at, @created_by, @expires_at, @max_visits, @forward_query)
     ON CONFLICT (name) DO NOTHING
     RETURNING id`,
    )
    .pluck();
  const get = db.prepare<[string], Row>(`SELECT ${FULL_COLUMNS} FROM ${WITH_CHECKS} WHERE b.name = ?`);
  // Each field is replaced only when given (a flag per field: a title may be set to null).
  const update = db
    .prepare<UpdateParameters, number>(
      `UPDATE bookmarks SET
       uri = CASE WHEN @set_uri THEN @uri ELSE uri END,
       title = CASE WHEN @set_title THEN @title ELSE title END,
       check_status = CASE WHEN @set_check_status THEN @check_status ELSE check_status END,
       expires_at = CASE WHEN @set_expires_at THEN @expires_at ELSE expires_at END,
       max_visits = CASE WHEN @set_max_visits THEN @max_visits ELSE max_visits END,
       forward_query = CASE WHEN @set_forward_query THEN @forward_query ELSE forward_query END
     WHERE name = @name
     RETURNING id`,
    )
    .pluck();
  // A re-check's result, against the target that was checked.
  const checkedLink = db.prepare<[string, string], number>('SELECT id FROM bookmarks WHERE name = ? AND uri = ?').pluck();
  const setCheckStatus = db.prepare<[number | null, number]>('UPDATE bookmarks SET check_status = ? WHERE id = ?');
  const recordCheck = db.prepare<RecheckParameters & { id: number }>(
    `INSERT INTO link_checks (bookmark_id, checked_at, check_failures, failing_since, check_error)
     VALUES (@id, @at, CASE WHEN @ok THEN 0 ELSE 1 END, CASE WHEN @ok THEN NULL ELSE @at END, @error)
     ON CONFLICT (bookmark_id) DO UPDATE SET
       checked_at = @at,
       check_failures = CASE WHEN @ok THEN 0 ELSE link_checks.check_failures + 1 END,
       failing_since = CASE WHEN @ok THEN NULL ELSE coalesce(link_checks.failing_since, @at) END,
       check_error = @error`,
  );
  // A new target was just checked: its run of failures starts over (a row made if it had none yet).
  const checkedAnew = db.prepare<[number, number]>(
    `INSERT INTO link_checks (bookmark_id, checked_at) VALUES (?, ?)
     ON CONFLICT (bookmark_id) DO UPDATE SET checked_at = excluded.checked_at, check_failures = 0, failing_since = NULL, check_error = NULL`,
  );
  const stats = prepareStatsStatements(db);

  return {
    stats,
    transfer: prepareTransferStatements(db),
    get,
    resolve: db.prepare<[string], string>('SELECT uri FROM bookmarks WHERE name = ?').pluck(),
    resolveTarget: db.prepare<[string], TargetRow>(
      'SELECT uri, expires_at, max_visits, visits, forward_query FROM bookmarks WHERE name = ?',
    ),
    firstPage: db.prepare<[number], Row>(`SELECT ${FULL_COLUMNS} FROM ${WITH_CHECKS} ORDER BY b.id DESC LIMIT ?`),
    olderPage: db.prepare<[number, number], Row>(`SELECT ${FULL_COLUMNS} FROM ${WITH_CHECKS} WHERE b.id < ? ORDER BY b.id DESC LIMIT ?`),
    delete: db.prepare<[string]>('DELETE FROM bookmarks WHERE name = ?'),
    count: db.prepare<[], number>('SELECT count(*) FROM bookmarks').pluck(),
    // Reads a page of the table itself, so it fails when the file does, unlike `SELECT 1`.
    ping: db.prepare<[], number>('SELECT 1 FROM bookmarks LIMIT 1').pluck(),

    // Insert and read-back share one IMMEDIATE transaction: the unique index picks the winner, and
    // the row that beat us cannot be deleted before we read it.
    create: db.transaction((row: NewRow): CreateOutcome => {
      const inserted = insert.get(row) === undefined ? undefined : get.get(row.name);
      if (inserted !== undefined) return { kind: 'created', bookmark: toBookmark(inserted) };
      const existing = get.get(row.name);
      if (existing === undefined) throw new Error(`bookmark '${row.name}' neither inserted nor found`);
      return existing.uri === row.uri
        ? { kind: 'exists', bookmark: toBookmark(existing) }
        : { kind: 'conflict', existing: toBookmark(existing) };
    }),
    // Read and write in one IMMEDIATE transaction, so the previous target is the one replaced.
    update: db.transaction((parameters: UpdateParameters): EditOutcome | undefined => {
      const before = get.get(parameters.name);
      if (before === undefined) return undefined;
      const id = update.get(parameters);
      if (id === undefined) return undefined;
      if (parameters.set_check_status) checkedAnew.run(id, parameters.checked_at);
      const after = get.get(parameters.name);
      if (after === undefined) return undefined;
      return { bookmark: toBookmark(after), previousUri: before.uri };
    }),
    dueForRecheck: db.prepare<[number, number], { name: string; uri: string }>(DUE_FOR_RECHECK_SQL),
    // Against the target that was checked: a link edited meanwhile keeps its new target's result.
    recordRecheck: db.transaction((parameters: RecheckParameters): boolean => {
      const id = checkedLink.get(parameters.name, parameters.uri);
      if (id === undefined) return false;
      if (parameters.ok) setCheckStatus.run(parameters.status, id);
      recordCheck.run({ ...parameters, id });
      return true;
    }),
    // Links made before re-checks came, enrolled in batches below the mark, newest first, due at
    // once (checked_at 0); rows an edit already made are kept.
    recheckBackfill: db.transaction((): boolean => {
      const below = db.prepare<[], number>('SELECT below FROM recheck_backfill').pluck().get() ?? 1;
      if (below <= 1) return true;
      const from = Math.max(1, below - BACKFILL_BATCH);
      db.prepare<[number, number]>(
        `INSERT INTO link_checks (bookmark_id, checked_at) SELECT id, 0 FROM bookmarks WHERE id >= ? AND id < ?
         ON CONFLICT (bookmark_id) DO NOTHING`,
      ).run(from, below);
      db.prepare<[number]>('UPDATE recheck_backfill SET below = ?').run(from);
      return from <= 1;
    }),
    // One statement: the unique name decides, and only the owner or an expired lease is replaced.
    acquireLease: db.prepare<{ name: string; owner: string; now: number; expires: number }>(
      `INSERT INTO leases (name, owner, expires_at) VALUES (@name, @owner, @expires)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
       WHERE leases.owner = excluded.owner OR leases.expires_at <= @now`,
    ),
    releaseLease: db.prepare<[string, string]>('DELETE FROM leases WHERE name = ? AND owner = ?'),
    searchReady: db.prepare<[], number>('SELECT below <= 1 FROM search_backfill').pluck(),
    // Rows an edit already indexed (the update trigger) are skipped.
    searchBackfill: db.transaction((): boolean => {
      const below = db.prepare<[], number>('SELECT below FROM search_backfill').pluck().get() ?? 1;
      if (below <= 1) return true;
      const from = Math.max(1, below - BACKFILL_BATCH);
      db.prepare<[number, number, number, number]>(
        `INSERT INTO bookmarks_search (rowid, text)
         SELECT id, name || ' ' || uri || ' ' || coalesce(title, '') FROM bookmarks
         WHERE id >= ? AND id < ? AND id NOT IN (SELECT rowid FROM bookmarks_search WHERE rowid >= ? AND rowid < ?)`,
      ).run(from, below, from, below);
      db.prepare<[number]>('UPDATE search_backfill SET below = ?').run(from);
      return from <= 1;
    }),
  };
}

/** A search's page, read on the search reader's thread (sqlite-search-worker.ts). */
export interface SearchRead {
  /** An FTS5 query: the text as one phrase. */
  query: string;
  before: number;
  limit: number;
}

/**
 * A search's page: the FTS table's rowid order and bound, so only `limit` matches are read however
 * many match. On a thread of its own (sqlite-search-reader.ts): a phrase of common words walks long
 * trigram lists, and the event loop would wait for it (decision 0029).
 */
export function prepareSearchRead(db: Database.Database): (read: SearchRead) => SearchRow[] {
  const page = db.prepare<SearchRead, SearchRow>(
    `SELECT ${FULL_COLUMNS} FROM ${WITH_CHECKS} WHERE b.id IN (
       SELECT rowid FROM bookmarks_search WHERE bookmarks_search MATCH @query AND rowid < @before ORDER BY rowid DESC LIMIT @limit
     ) ORDER BY b.id DESC`,
  );
  return (read) => page.all(read);
}

/**
 * The visit flush's transaction (IMMEDIATE), run on the visit writer's thread with a connection of
 * its own (sqlite-visit-worker.ts), never on the event loop: at a million links and more, a batch
 * of Zipf-drawn names writes thousands of rows on random pages (decision 0021).
 */
export function prepareVisitWrite(db: Database.Database) {
  const addVisits = db.prepare<[number, string]>('UPDATE bookmarks SET visits = visits + ? WHERE name = ?');
  const idOfName = db.prepare<[string], number>('SELECT id FROM bookmarks WHERE name = ?').pluck();
  const addVisitsById = db.prepare<[number, number]>('UPDATE bookmarks SET visits = visits + ? WHERE id = ?');
  const recordBatch = db.prepare<[string, number]>('INSERT INTO visit_batches (id, applied_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING');
  const expireBatches = db.prepare<[number]>('DELETE FROM visit_batches WHERE applied_at < ?');
  const stats = prepareStatsStatements(db);
  const write = db.transaction((counts: ReadonlyMap<string, number>, batchId: string, rollups: VisitRollupRows | undefined) => {
    const now = Date.now();
    if (recordBatch.run(batchId, now).changes === 0) return;
    expireBatches.run(now - BATCH_ID_KEPT_MS);
    if (rollups === undefined) {
      for (const [name, visits] of counts) addVisits.run(visits, name);
      return;
    }
    // A name's hour and its dimension values are rows of their own: its id is looked up once, not
    // once a row (each a descent of the name index).
    const ids = new Map<string, number | undefined>();
    const idOf = (name: string): number | undefined => {
      if (ids.has(name)) return ids.get(name);
      const id = idOfName.get(name);
      ids.set(name, id);
      return id;
    };
    for (const [name, visits] of counts) {
      const id = idOf(name);
      if (id !== undefined) addVisitsById.run(visits, id);
    }
    stats.addRollups(rollups, idOf);
  });
  return (counts: ReadonlyMap<string, number>, batchId: string, rollups: VisitRollupRows | undefined): void =>
    write.immediate(counts, batchId, rollups);
}

/** A connection as every part of the store opens one: WAL, durable commits, foreign keys, the busy timeout, a bounded page cache. */
export function openSqlite(file: string): Database.Database {
  const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  try {
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode can lose the last commits on power loss; FULL syncs the WAL on every
    // commit, which is what "durable when the promise resolves" promises.
    db.pragma('synchronous = FULL');
    // Per connection: a deleted bookmark's stats rows go with it (ON DELETE CASCADE).
    db.pragma('foreign_keys = ON');
    db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

export interface SqliteStoreOptions {
  file: string;
}

/** What presizeWal() found and did. */
export interface WalPresize {
  /** The size it keeps the WAL at (also its journal_size_limit). */
  bytes: number;
  /** The WAL's size before: at least `bytes` when another process had already grown it. */
  before: number;
  after: number;
}

/**
 * One better-sqlite3 connection per process; several processes share the file. WAL lets readers
 * (the redirects) go on while one process writes, and the busy timeout queues writers behind each
 * other instead of failing them.
 */
export class SqliteStore implements BookmarkStore {
  readonly engine = 'sqlite';
  readonly #db: Database.Database;
  readonly #file: string;
  #statements: ReturnType<typeof prepareStatements> | undefined;
  readonly #visits: SqliteThread<VisitWrite, void>;
  readonly #searchReader: SqliteThread<SearchRead, SearchRow[]>;
  readonly access: AccessStore;

  constructor(options: SqliteStoreOptions) {
    this.#file = options.file;
    this.#db = openSqlite(options.file);
    this.access = new SqliteAccessStore(this.#db, (work) => this.#guard(work));
    this.#visits = visitWriter(options.file, translated);
    this.#searchReader = searchReader(options.file, translated);
  }

  /** Prepared once, on first use after the schema exists. */
  get #sql(): ReturnType<typeof prepareStatements> {
    this.#statements ??= prepareStatements(this.#db);
    return this.#statements;
  }

  async migrate(): Promise<void> {
    // IMMEDIATE takes the write lock before reading the version, so processes starting together
    // run each step once, one after the other.
    this.#db
      .transaction(() => {
        const applied = this.#db.pragma('user_version', { simple: true });
        if (typeof applied !== 'number') throw new Error(`unexpected user_version ${String(applied)}`);
        // A newer schema is left alone: steps only add, so this build still works on it.
        if (applied >= MIGRATIONS.length) return;
        for (const step of MIGRATIONS.slice(applied)) this.#db.exec(step);
        this.#db.pragma(`user_version = ${MIGRATIONS.length}`);
      })
      .immediate();
    // Preparing now makes a schema that does not fit fail start-up rather than the first request.
    this.#statements ??= prepareStatements(this.#db);
  }

  /**
   * Grows the WAL file to its working size before the store serves, and keeps it there: a commit
   * then overwrites blocks the file already has instead of growing it. Growing needs ext4 to
   * journal the new size and blocks, and a commit in the ~15 ms between ext4 aborting its journal
   * and turning read-only could be acknowledged and then lost (docs/decisions/0028-wal-kept-at-size.md).
   * The scratch rows are written in a transaction rolled back: with a small page cache they spill
   * to the WAL as uncommitted frames, so the file grows and the database does not change. Then the
   * file is synced, so its size and blocks are on disk. journal_size_limit at the same size: a WAL
   * restart never truncates it below that (nor leaves a large import's WAL above it).
   */
  presizeWal(): WalPresize {
    const pageSize = Number(this.#db.pragma('page_size', { simple: true }));
    const bytes = WAL_HEADER_BYTES + WAL_WORKING_FRAMES * (WAL_FRAME_HEADER_BYTES + pageSize);
    this.#db.pragma(`journal_size_limit = ${bytes}`);
    const wal = `${this.#file}-wal`;
    const walSize = (): number => statSync(wal, { throwIfNoEntry: false })?.size ?? 0;
    const before = walSize();
    if (before >= bytes) return { bytes, before, after: before };
    const cacheSize = Number(this.#db.pragma('cache_size', { simple: true }));
    this.#db.pragma(`cache_size = ${PRESIZE_CACHE_PAGES}`);
    try {
      this.#guard(() => {
        // IMMEDIATE: two processes starting together grow it one after the other; the second finds it grown.
        this.#db.exec('BEGIN IMMEDIATE');
        try {
          this.#db.exec('CREATE TABLE wal_presize (payload BLOB)');
          const insert = this.#db.prepare<[number]>('INSERT INTO wal_presize (payload) VALUES (zeroblob(?))');
          // Bounded: each row adds ~256 frames unless the spill stops working, which the check below reports.
          for (let rows = 0; walSize() < bytes && rows < (2 * bytes) / PRESIZE_ROW_BYTES; rows++) insert.run(PRESIZE_ROW_BYTES);
        } finally {
          this.#db.exec('ROLLBACK');
        }
      });
    } finally {
      this.#db.pragma(`cache_size = ${cacheSize}`);
    }
    // The WAL holds no POSIX lock of SQLite's (those are on the database and -shm files), so an
    // fd of our own on it may be closed without dropping one.
    const fd = openSync(wal, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const after = walSize();
    if (after < bytes) throw new Error(`the WAL ${wal} grew to ${after} bytes, not ${bytes}: the scratch rows did not spill to it`);
    return { bytes, before, after };
  }

  async create(bookmark: NewBookmark): Promise<CreateOutcome> {
    return this.#guard(() =>
      this.#sql.create.immediate({
        name: bookmark.name,
        uri: bookmark.uri,
        title: bookmark.title,
        check_status: bookmark.checkStatus,
        created_at: Date.now(),
        created_by: bookmark.createdBy ?? null,
        expires_at: bookmark.expiresAt?.getTime() ?? null,
        max_visits: bookmark.maxVisits ?? null,
        forward_query: bookmark.forwardQuery === false ? 0 : 1,
      }),
    );
  }

  async resolve(name: string): Promise<string | undefined> {
    // try/catch inline rather than #guard: this is the redirect, and a closure per call costs.
    try {
      return this.#sql.resolve.get(name);
    } catch (error) {
      throw translated(error);
    }
  }

  async resolveTarget(name: string): Promise<RedirectTarget | undefined> {
    return this.resolveTargetNow(name);
  }

  resolveTargetNow(name: string): RedirectTarget | undefined {
    try {
      const row = this.#sql.resolveTarget.get(name);
      return row === undefined
        ? undefined
        : { uri: row.uri, expiresAt: row.expires_at, maxVisits: row.max_visits, visits: row.visits, forwardQuery: row.forward_query === 1 };
    } catch (error) {
      throw translated(error);
    }
  }

  async get(name: string): Promise<Bookmark | undefined> {
    const row = this.#guard(() => this.#sql.get.get(name));
    return row === undefined ? undefined : toBookmark(row);
  }

  async list({ limit, cursor }: ListOptions): Promise<BookmarkPage> {
    checkLimit(limit);
    const older = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = this.#guard(() => (older === undefined ? this.#sql.firstPage.all(limit + 1) : this.#sql.olderPage.all(older, limit + 1)));
    return toPage(rows, limit, (row) => row.id, toBookmark);
  }

  async delete(name: string): Promise<boolean> {
    return this.#guard(() => this.#sql.delete.run(name).changes > 0);
  }

  async update(name: string, changes: BookmarkChanges): Promise<EditOutcome | undefined> {
    return this.#guard(() =>
      this.#sql.update.immediate({
        name,
        set_uri: changes.uri === undefined ? 0 : 1,
        uri: changes.uri ?? null,
        set_title: changes.title === undefined ? 0 : 1,
        title: changes.title ?? null,
        set_check_status: changes.checkStatus === undefined ? 0 : 1,
        check_status: changes.checkStatus ?? null,
        set_expires_at: changes.expiresAt === undefined ? 0 : 1,
        expires_at: changes.expiresAt?.getTime() ?? null,
        set_max_visits: changes.maxVisits === undefined ? 0 : 1,
        max_visits: changes.maxVisits ?? null,
        set_forward_query: changes.forwardQuery === undefined ? 0 : 1,
        forward_query: changes.forwardQuery === undefined ? null : Number(changes.forwardQuery),
        checked_at: Date.now(),
      }),
    );
  }

  /** One batch of enrolling the links made before re-checks came (link_checks); true once all are. */
  async recheckIndexStep(): Promise<boolean> {
    return this.#guard(() => this.#sql.recheckBackfill.immediate());
  }

  async dueForRecheck(before: Date, limit: number): Promise<RecheckCandidate[]> {
    return this.#guard(() => this.#sql.dueForRecheck.all(before.getTime(), limit));
  }

  async recordRecheck(name: string, uri: string, outcome: RecheckOutcome, at: Date): Promise<boolean> {
    const parameters: RecheckParameters = outcome.ok
      ? { name, uri, at: at.getTime(), ok: 1, status: outcome.status, error: null }
      : { name, uri, at: at.getTime(), ok: 0, status: null, error: outcome.error };
    return this.#guard(() => this.#sql.recordRecheck.immediate(parameters));
  }

  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    return this.#guard(() => this.#sql.acquireLease.run({ name, owner, now, expires: now + ttlMs }).changes > 0);
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    this.#guard(() => this.#sql.releaseLease.run(name, owner));
  }

  async search({ query, limit, cursor }: SearchOptions): Promise<SearchPage> {
    checkLimit(limit);
    // A scanning cursor comes only from PostgreSQL's partial pages; here it is just a position.
    const before = cursor === undefined ? Number.MAX_SAFE_INTEGER : decodeSearchCursor(cursor).before;
    if (this.#guard(() => this.#sql.searchReady.get()) !== 1) throw new SearchIndexingError();
    // One phrase: the trigram tokenizer then finds the text anywhere, case-insensitively.
    const phrase = `"${query.replaceAll('"', '""')}"`;
    const rows = await this.#searchReader.call({ query: phrase, before, limit: limit + 1 });
    return { ...toPage(rows, limit, (row) => row.id, toBookmark), partial: false };
  }

  async searchIndexStep(): Promise<boolean> {
    return this.#guard(() => this.#sql.searchBackfill.immediate());
  }

  async addVisits(counts: ReadonlyMap<string, number>, batchId: string, rollups?: VisitRollupRows): Promise<void> {
    if (counts.size === 0 && (rollups === undefined || rollups.hours.length === 0)) return;
    // On the writer's thread: the redirects go on reading meanwhile (WAL).
    await this.#visits.call({ counts, batchId, rollups });
  }

  async visitSeries(name: string, granularity: Granularity, from: number, to: number): Promise<VisitBucket[]> {
    return this.#guard(() => this.#sql.stats.series(name, granularity, from, to));
  }

  async topValues(name: string, fromDay: number, toDay: number): Promise<DimensionCount[]> {
    return this.#guard(() => this.#sql.stats.top(name, fromDay, toDay));
  }

  async dailyVisits(names: readonly string[], fromDay: number): Promise<DailyVisits[]> {
    if (names.length === 0) return [];
    return this.#guard(() => this.#sql.stats.daily(names, fromDay));
  }

  async foldHours(beforeHour: number): Promise<number> {
    return this.#guard(() => this.#sql.stats.fold.immediate(beforeHour));
  }

  async exportLinks({ limit, cursor }: ListOptions): Promise<LinkRecordPage> {
    checkLimit(limit);
    const after = cursor === undefined ? 0 : decodeCursor(cursor);
    const rows = this.#guard(() => this.#sql.transfer.exportPage(after, limit + 1));
    const page = toPage(
      rows,
      limit,
      (row) => row.id,
      (row) => row.link,
    );
    return page;
  }

  async importLinks(links: readonly LinkRecord[], { overwrite }: { overwrite: boolean }): Promise<ImportOutcome[]> {
    if (links.length === 0) return [];
    return this.#guard(() => this.#sql.transfer.importBatch.immediate(links, overwrite));
  }

  async count(): Promise<number> {
    return this.#guard(() => this.#sql.count.get() ?? 0);
  }

  async ping(): Promise<void> {
    this.#guard(() => this.#sql.ping.get());
  }

  async close(): Promise<void> {
    await this.#visits.close();
    await this.#searchReader.close();
    if (this.#db.open) this.#db.close();
  }

  /** Runs a statement; a failure of the disk beneath becomes StoreUnavailableError. */
  #guard<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw translated(error);
    }
  }
}
