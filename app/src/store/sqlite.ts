import Database from 'better-sqlite3';
import { ACCESS_MIGRATION, BLOCKLIST_MIGRATION, SqliteAccessStore } from './access-sqlite.ts';
import type { AccessStore } from './access-types.ts';
import { checkLimit, decodeCursor, toPage } from './cursor.ts';
import { prepareStatsStatements, STATS_SCHEMA } from './stats-sqlite.ts';
import type { DailyVisits, DimensionCount, Granularity, VisitBucket, VisitRollupRows } from './stats-types.ts';
import {
  type Bookmark,
  type BookmarkChanges,
  type BookmarkPage,
  type BookmarkStore,
  type CreateOutcome,
  type EditOutcome,
  type ListOptions,
  type NewBookmark,
  type RedirectTarget,
  SearchIndexingError,
  type SearchOptions,
} from './types.ts';
import { StoreUnavailableError, type UnavailableReason } from './unavailable.ts';

/** How long a writer waits for another process's write to finish before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

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
];

/** The `PRAGMA user_version` of a store this build made or brought up to date (backup and restore check it). */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

/** Rows indexed per backfill transaction: a few tens of milliseconds of the write lock. */
const SEARCH_BACKFILL_BATCH = 5000;

/** How long an applied batch id is remembered: far longer than any retry of it. */
const BATCH_ID_KEPT_MS = 24 * 60 * 60 * 1000;

const COLUMNS = 'id, name, uri, title, check_status, visits, created_at, created_by, expires_at, max_visits, forward_query';

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
}

type NewRow = Omit<Row, 'id' | 'visits'>;

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
  };
}

function prepareStatements(db: Database.Database) {
  const insert = db.prepare<NewRow, Row>(
    `INSERT INTO bookmarks (name, uri, title, check_status, created_at, created_by, expires_at, max_visits, forward_query)
     VALUES (@name, @uri, @title, @check_status, @created_at, @created_by, @expires_at, @max_visits, @forward_query)
     ON CONFLICT (name) DO NOTHING
     RETURNING ${COLUMNS}`,
  );
  const get = db.prepare<[string], Row>(`SELECT ${COLUMNS} FROM bookmarks WHERE name = ?`);
  // Each field is replaced only when given (a flag per field: a title may be set to null).
  const update = db.prepare<UpdateParameters, Row>(
    `UPDATE bookmarks SET
       uri = CASE WHEN @set_uri THEN @uri ELSE uri END,
       title = CASE WHEN @set_title THEN @title ELSE title END,
       check_status = CASE WHEN @set_check_status THEN @check_status ELSE check_status END,
       expires_at = CASE WHEN @set_expires_at THEN @expires_at ELSE expires_at END,
       max_visits = CASE WHEN @set_max_visits THEN @max_visits ELSE max_visits END,
       forward_query = CASE WHEN @set_forward_query THEN @forward_query ELSE forward_query END
     WHERE name = @name
     RETURNING ${COLUMNS}`,
  );
  const addVisits = db.prepare<[number, string]>('UPDATE bookmarks SET visits = visits + ? WHERE name = ?');
  const recordBatch = db.prepare<[string, number]>('INSERT INTO visit_batches (id, applied_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING');
  const expireBatches = db.prepare<[number]>('DELETE FROM visit_batches WHERE applied_at < ?');
  const stats = prepareStatsStatements(db);

  return {
    stats,
    get,
    resolve: db.prepare<[string], string>('SELECT uri FROM bookmarks WHERE name = ?').pluck(),
    resolveTarget: db.prepare<[string], TargetRow>(
      'SELECT uri, expires_at, max_visits, visits, forward_query FROM bookmarks WHERE name = ?',
    ),
    firstPage: db.prepare<[number], Row>(`SELECT ${COLUMNS} FROM bookmarks ORDER BY id DESC LIMIT ?`),
    olderPage: db.prepare<[number, number], Row>(`SELECT ${COLUMNS} FROM bookmarks WHERE id < ? ORDER BY id DESC LIMIT ?`),
    delete: db.prepare<[string]>('DELETE FROM bookmarks WHERE name = ?'),
    count: db.prepare<[], number>('SELECT count(*) FROM bookmarks').pluck(),
    // Reads a page of the table itself, so it fails when the file does, unlike `SELECT 1`.
    ping: db.prepare<[], number>('SELECT 1 FROM bookmarks LIMIT 1').pluck(),

    // Insert and read-back share one IMMEDIATE transaction: the unique index picks the winner, and
    // the row that beat us cannot be deleted before we read it.
    create: db.transaction((row: NewRow): CreateOutcome => {
      const inserted = insert.get(row);
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
      const after = update.get(parameters);
      if (after === undefined) return undefined;
      return { bookmark: toBookmark(after), previousUri: before.uri };
    }),
    searchReady: db.prepare<[], number>('SELECT below <= 1 FROM search_backfill').pluck(),
    // The FTS table's rowid order and bound: only `limit + 1` matches are read, however many match.
    searchPage: db.prepare<{ query: string; before: number; limit: number }, Row>(
      `SELECT ${COLUMNS} FROM bookmarks WHERE id IN (
         SELECT rowid FROM bookmarks_search WHERE bookmarks_search MATCH @query AND rowid < @before ORDER BY rowid DESC LIMIT @limit
       ) ORDER BY id DESC`,
    ),
    // Rows an edit already indexed (the update trigger) are skipped.
    searchBackfill: db.transaction((): boolean => {
      const below = db.prepare<[], number>('SELECT below FROM search_backfill').pluck().get() ?? 1;
      if (below <= 1) return true;
      const from = Math.max(1, below - SEARCH_BACKFILL_BATCH);
      db.prepare<[number, number, number, number]>(
        `INSERT INTO bookmarks_search (rowid, text)
         SELECT id, name || ' ' || uri || ' ' || coalesce(title, '') FROM bookmarks
         WHERE id >= ? AND id < ? AND id NOT IN (SELECT rowid FROM bookmarks_search WHERE rowid >= ? AND rowid < ?)`,
      ).run(from, below, from, below);
      db.prepare<[number]>('UPDATE search_backfill SET below = ?').run(from);
      return from <= 1;
    }),
    addVisits: db.transaction((counts: ReadonlyMap<string, number>, batchId: string, rollups: VisitRollupRows | undefined) => {
      const now = Date.now();
      if (recordBatch.run(batchId, now).changes === 0) return;
      expireBatches.run(now - BATCH_ID_KEPT_MS);
      for (const [name, visits] of counts) addVisits.run(visits, name);
      if (rollups !== undefined) stats.addRollups(rollups);
    }),
  };
}

export interface SqliteStoreOptions {
  file: string;
}

/**
 * One better-sqlite3 connection per process; several processes share the file. WAL lets readers
 * (the redirects) go on while one process writes, and the busy timeout queues writers behind each
 * other instead of failing them.
 */
export class SqliteStore implements BookmarkStore {
  readonly engine = 'sqlite';
  readonly #db: Database.Database;
  #statements: ReturnType<typeof prepareStatements> | undefined;
  readonly access: AccessStore;

  constructor(options: SqliteStoreOptions) {
    this.#db = new Database(options.file, { timeout: BUSY_TIMEOUT_MS });
    this.access = new SqliteAccessStore(this.#db, (work) => this.#guard(work));
    this.#db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode can lose the last commits on power loss; FULL syncs the WAL on every
    // commit, which is what "durable when the promise resolves" promises.
    this.#db.pragma('synchronous = FULL');
    // Per connection: a deleted bookmark's stats rows go with it (ON DELETE CASCADE).
    this.#db.pragma('foreign_keys = ON');
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
      }),
    );
  }

  async search({ query, limit, cursor }: SearchOptions): Promise<BookmarkPage> {
    checkLimit(limit);
    const before = cursor === undefined ? Number.MAX_SAFE_INTEGER : decodeCursor(cursor);
    if (this.#guard(() => this.#sql.searchReady.get()) !== 1) throw new SearchIndexingError();
    // One phrase: the trigram tokenizer then finds the text anywhere, case-insensitively.
    const phrase = `"${query.replaceAll('"', '""')}"`;
    const rows = this.#guard(() => this.#sql.searchPage.all({ query: phrase, before, limit: limit + 1 }));
    return toPage(rows, limit, (row) => row.id, toBookmark);
  }

  async searchIndexStep(): Promise<boolean> {
    return this.#guard(() => this.#sql.searchBackfill.immediate());
  }

  async addVisits(counts: ReadonlyMap<string, number>, batchId: string, rollups?: VisitRollupRows): Promise<void> {
    if (counts.size === 0 && (rollups === undefined || rollups.hours.length === 0)) return;
    this.#guard(() => this.#sql.addVisits.immediate(counts, batchId, rollups));
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

  async count(): Promise<number> {
    return this.#guard(() => this.#sql.count.get() ?? 0);
  }

  async ping(): Promise<void> {
    this.#guard(() => this.#sql.ping.get());
  }

  async close(): Promise<void> {
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
