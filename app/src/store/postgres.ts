import type { PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { DatabaseError, escapeIdentifier, Pool } from 'pg';
import { ACCESS_MIGRATION, BLOCKLIST_MIGRATION, PostgresAccessStore } from './access-postgres.ts';
import type { AccessStore } from './access-types.ts';
import { checkLimit, decodeCursor, decodeSearchCursor, toPage } from './cursor.ts';
import { ReadBatch } from './read-batch.ts';
import { scanWindows } from './search-scan.ts';
import { rollupParameters, STATS_SCHEMA, STATS_SQL, VISIT_BATCH_CTES } from './stats-postgres.ts';
import type { DailyVisits, DimensionCount, Granularity, VisitBucket, VisitRollupRows } from './stats-types.ts';
import { exportPage, ImportRaceError, importBatch } from './transfer-postgres.ts';
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
  SEARCH_BUDGET_MS,
  SearchIndexingError,
  type SearchOptions,
  type SearchPage,
} from './types.ts';
import { StoreUnavailableError, type UnavailableReason } from './unavailable.ts';

/**
 * Schema steps, applied in order; `schema_migrations` records which ran. Append only: a step that
 * shipped is never edited, so every database reaches the same schema.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE bookmarks (
     id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     name text NOT NULL UNIQUE,
     uri text NOT NULL,
     title text,
     check_status integer NOT NULL,
     visits bigint NOT NULL DEFAULT 0,
     created_at timestamptz NOT NULL DEFAULT now()
   )`,
  // Visit batches already applied, so that a retried flush is not counted twice.
  `CREATE TABLE visit_batches (
     id text PRIMARY KEY,
     applied_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE INDEX visit_batches_applied_at ON visit_batches (applied_at)`,
  ACCESS_MIGRATION,
  BLOCKLIST_MIGRATION,
  // Stats rollups, keyed by (bookmark_id, bucket): docs/decisions/0019-stats-rollups.md.
  STATS_SCHEMA,
  // Expiry and query forwarding, per link (docs/links.md). Adding nullable columns, or one with a
  // constant default, rewrites nothing: instant on a large table.
  `ALTER TABLE bookmarks ADD COLUMN expires_at timestamptz;
   ALTER TABLE bookmarks ADD COLUMN max_visits bigint;
   ALTER TABLE bookmarks ADD COLUMN forward_query boolean NOT NULL DEFAULT true`,
  // Re-checks (services/rechecks.ts): when the target was last fetched, the run of failures, and
  // the lease that lets one process at a time do them. Rows already there get the epoch (checked
  // at create, before this step) without being rewritten; new rows the time of their insert. No
  // row is rewritten: instant on any store. The index is built by recheckIndexStep, concurrently,
  // after start-up (docs/uri-checks.md).
  `ALTER TABLE bookmarks ADD COLUMN checked_at timestamptz NOT NULL DEFAULT 'epoch';
   ALTER TABLE bookmarks ALTER COLUMN checked_at SET DEFAULT now();
   ALTER TABLE bookmarks ADD COLUMN check_failures integer NOT NULL DEFAULT 0;
   ALTER TABLE bookmarks ADD COLUMN failing_since timestamptz;
   ALTER TABLE bookmarks ADD COLUMN check_error text;
   CREATE TABLE leases (
     name text PRIMARY KEY,
     owner text NOT NULL,
     expires_at timestamptz NOT NULL
   )`,
  // Room on each page for a row's next version, so the visit flush's UPDATE is a HOT update: no
  // new entry in any index, the trigram index above all. On full pages each updated row cost ten
  // WAL records and about 0.3 ms of the server (decision 0021). Pages written from now on keep
  // it; nothing is rewritten (instant): a full page's rows move once, on their first update.
  `ALTER TABLE bookmarks SET (fillfactor = 90)`,
];

/** Taken in a transaction by whatever changes the schema, so processes starting together queue; it ends with the transaction. */
const MIGRATION_LOCK = `SELECT pg_advisory_xact_lock(hashtext('linkyard.migrate'))`;

/** Held (per session) by the process building an index concurrently (#buildIndexConcurrently). */
const INDEX_BUILD_LOCK = `hashtext('linkyard.index-build')`;

/** The highest `schema_migrations` version of a store this build made or brought up to date. */
export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Search: a trigram GIN index over this expression, built by searchIndexStep after start-up with
 * CREATE INDEX CONCURRENTLY (outside any transaction, writes go on), never in a migration: on a
 * large table it takes minutes (docs/decisions/0022-search-index.md). Queries repeat the
 * expression exactly, so the planner can use it.
 */
const SEARCH_TEXT = "(name || ' ' || uri || ' ' || coalesce(title, ''))";
/** The search index's name: a restore leaves it out and builds it again (app/src/data/postgres-backup.ts). */
export const SEARCH_INDEX = 'bookmarks_search_trgm';
/** dueForRecheck's index, built by recheckIndexStep. */
const RECHECK_INDEX = 'bookmarks_checked_at';
/** The most names one redirect read asks for: a statement's parameters stay small whatever the burst. */
const MAX_TARGETS_A_READ = 500;

/** The client's deadline for the index build (the server's statement_timeout is lifted for it). */
const BUILD_DEADLINE_MS = 24 * 60 * 60 * 1000;

const COLUMNS =
  'id, name, uri, title, check_status, visits, created_at, created_by, expires_at, max_visits, forward_query, checked_at, check_failures, failing_since, check_error';

/**
 * The re-checks' pick ($1 cutoff, $2 limit): the index on checked_at gives the oldest first and
 * stops after `limit`. Exported for loadtest/src/cli/recheck-cost.ts's EXPLAIN.
 */
export const DUE_FOR_RECHECK_SQL = 'SELECT name, uri FROM bookmarks WHERE checked_at < $1 ORDER BY checked_at LIMIT $2';

/** Named queries: each pooled connection prepares them once, then only sends parameters. */
const SQL = {
  insert: {
    name: 'linkyard_insert',
    text: `INSERT INTO bookmarks (name, uri, title, check_status, created_by, expires_at, max_visits, forward_query)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (name) DO NOTHING
           RETURNING ${COLUMNS}`,
  },
  get: { name: 'linkyard_get', text: `SELECT ${COLUMNS} FROM bookmarks WHERE name = $1` },
  resolve: { name: 'linkyard_resolve', text: 'SELECT uri FROM bookmarks WHERE name = $1' },
  // The misses of one event-loop turn in one statement (ReadBatch): one index scan of the array's names.
  resolveTargets: {
    name: 'linkyard_resolve_targets',
    text: 'SELECT name, uri, expires_at, max_visits, visits, forward_query FROM bookmarks WHERE name = ANY ($1::text[])',
  },
  firstPage: { name: 'linkyard_first_page', text: `SELECT ${COLUMNS} FROM bookmarks ORDER BY id DESC LIMIT $1` },
  olderPage: {
    name: 'linkyard_older_page',
    text: `SELECT ${COLUMNS} FROM bookmarks WHERE id < $1 ORDER BY id DESC LIMIT $2`,
  },
  delete: { name: 'linkyard_delete', text: 'DELETE FROM bookmarks WHERE name = $1' },
  // One statement: the row locked, its previous target read and replaced together. Each field is
  // replaced only when its flag is set (a title may be set to null).
  update: {
    name: 'linkyard_update',
    text: `WITH old AS (SELECT id, uri FROM bookmarks WHERE name = $1 FOR UPDATE)
           UPDATE bookmarks b SET
             uri = CASE WHEN $2 THEN $3 ELSE b.uri END,
             title = CASE WHEN $4 THEN $5 ELSE b.title END,
             check_status = CASE WHEN $6 THEN $7::integer ELSE b.check_status END,
             expires_at = CASE WHEN $8 THEN $9::timestamptz ELSE b.expires_at END,
             max_visits = CASE WHEN $10 THEN $11::bigint ELSE b.max_visits END,
             forward_query = CASE WHEN $12 THEN $13::boolean ELSE b.forward_query END,
             checked_at = CASE WHEN $6 THEN now() ELSE b.checked_at END,
             check_failures = CASE WHEN $6 THEN 0 ELSE b.check_failures END,
             failing_since = CASE WHEN $6 THEN NULL ELSE b.failing_since END,
             check_error = CASE WHEN $6 THEN NULL ELSE b.check_error END
           FROM old WHERE b.id = old.id
           RETURNING b.id, b.name, b.uri, b.title, b.check_status, b.visits, b.created_at, b.created_by,
                     b.expires_at, b.max_visits, b.forward_query, b.checked_at, b.check_failures,
                     b.failing_since, b.check_error, old.uri AS previous_uri`,
  },
  // One statement is one transaction and one round trip (VISIT_BATCH_CTES says what it guards).
  addVisits: {
    name: 'linkyard_add_visits',
    text: `${VISIT_BATCH_CTES}
           UPDATE bookmarks SET visits = bookmarks.visits + locked.visits
           FROM locked WHERE bookmarks.id = locked.id`,
  },
  searchFirstPage: {
    name: 'linkyard_search_first_page',
    text: `SELECT ${COLUMNS} FROM bookmarks WHERE ${SEARCH_TEXT} ILIKE $1 ORDER BY id DESC LIMIT $2`,
  },
  searchOlderPage: {
    name: 'linkyard_search_older_page',
    text: `SELECT ${COLUMNS} FROM bookmarks WHERE ${SEARCH_TEXT} ILIKE $1 AND id < $2 ORDER BY id DESC LIMIT $3`,
  },
  // A window of ids: `|| ''` is not the indexed expression, so the planner cannot turn to the
  // trigram index, whose work grows with the table, not the window. OFFSET 0 keeps the LIMIT out
  // of the inner plan: a bitmap scan of the window's pages, half the time of a backward index scan.
  searchWindow: {
    name: 'linkyard_search_window',
    text: `SELECT * FROM (
             SELECT ${COLUMNS} FROM bookmarks WHERE id < $2 AND id >= $3 AND (${SEARCH_TEXT} || '') ILIKE $1 OFFSET 0
           ) AS window_matches ORDER BY id DESC LIMIT $4`,
  },
  newestId: { name: 'linkyard_newest_id', text: 'SELECT coalesce(max(id), 0) AS id FROM bookmarks' },
  count: { name: 'linkyard_count', text: 'SELECT count(*) AS count FROM bookmarks' },
  dueForRecheck: { name: 'linkyard_due_for_recheck', text: DUE_FOR_RECHECK_SQL },
  // Against the target that was checked: a link edited meanwhile keeps its new target's result.
  recordRecheck: {
    name: 'linkyard_record_recheck',
    text: `UPDATE bookmarks SET
             checked_at = $3,
             check_status = CASE WHEN $4 THEN $5::integer ELSE check_status END,
             check_failures = CASE WHEN $4 THEN 0 ELSE check_failures + 1 END,
             failing_since = CASE WHEN $4 THEN NULL ELSE coalesce(failing_since, $3) END,
             check_error = CASE WHEN $4 THEN NULL ELSE $6 END
           WHERE name = $1 AND uri = $2`,
  },
  // One statement: the unique name decides, and only the owner or an expired lease is replaced.
  // The server's clock: every process reads the same one.
  acquireLease: {
    name: 'linkyard_acquire_lease',
    text: `INSERT INTO leases (name, owner, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
           ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
           WHERE leases.owner = excluded.owner OR leases.expires_at <= now()`,
  },
  releaseLease: { name: 'linkyard_release_lease', text: 'DELETE FROM leases WHERE name = $1 AND owner = $2' },
} as const satisfies Record<string, { name: string; text: string }>;

/** pg returns bigint (id, visits, count) as strings, since they can exceed 2^53. */
type Row = {
  id: string;
  name: string;
  uri: string;
  title: string | null;
  check_status: number;
  visits: string;
  created_at: Date;
  created_by: string | null;
  expires_at: Date | null;
  max_visits: string | null;
  forward_query: boolean;
  checked_at: Date;
  check_failures: number;
  failing_since: Date | null;
  check_error: string | null;
};

/** A bookmarks row without its re-check state: what the export reads (transfer-postgres.ts). */
export type LinkRow = Omit<Row, 'checked_at' | 'check_failures' | 'failing_since' | 'check_error'>;

function toBookmark(row: Row): Bookmark {
  return {
    name: row.name,
    uri: row.uri,
    title: row.title,
    checkStatus: row.check_status,
    visits: Number(row.visits),
    createdAt: row.created_at,
    createdBy: row.created_by,
    expiresAt: row.expires_at,
    maxVisits: row.max_visits === null ? null : Number(row.max_visits),
    forwardQuery: row.forward_query,
    // The epoch: not checked since the re-checks came; the last check was the one at create.
    checkedAt: row.checked_at.getTime() === 0 ? row.created_at : row.checked_at,
    checkFailures: row.check_failures,
    failingSince: row.failing_since,
    checkError: row.check_error,
  };
}

/**
 * Failures that pass without the query changing: the server is down, restarting, out of disk or
 * connections, or too slow. Anything else (a bug, a constraint) is not the store being away.
 */
export function unavailableReason(error: unknown): UnavailableReason | undefined {
  if (!(error instanceof Error)) return undefined;
  if (error instanceof DatabaseError) {
    const state = error.code ?? '';
    if (state === '53100') return 'disk full';
    if (state === '25006') return 'read-only';
    // 57014: statement_timeout; class 53: out of connections or memory.
    if (state === '57014' || state.startsWith('53')) return 'busy';
    // Class 08: connection exception; 57P01–57P03: shut down, crashed, starting up.
    if (state.startsWith('08') || state.startsWith('57P')) return 'unreachable';
    if (state.startsWith('58')) return 'I/O error';
    return undefined;
  }
  // No SQLSTATE: the connection itself failed. A socket error (ECONNREFUSED, ECONNRESET…), or
  // pg's own "timeout exceeded when trying to connect", "Connection terminated unexpectedly",
  // "Query read timeout".
  const { code } = error as { code?: unknown };
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return 'unreachable';
  if (/\b(connect|connection|terminated|timeout)\b/i.test(error.message)) return 'unreachable';
  return undefined;
}

function translated(error: unknown): unknown {
  const reason = unavailableReason(error);
  return reason === undefined ? error : new StoreUnavailableError(reason, error);
}

/** Plain identifiers only: the name goes into `search_path` and DDL, where it cannot be a parameter. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PostgresStoreOptions {
  connectionString: string;
  /** Keep the tables in this schema (created if missing) instead of the search_path's first. */
  schema?: string | undefined;
  /** Connections this process may hold. */
  maxConnections?: number | undefined;
  /** Deadline to open a connection, or to wait for a free one in the pool. Default 2000 ms. */
  connectTimeoutMs?: number | undefined;
  /** Deadline for one statement, on the server and (a little later) on the client. Default 5000 ms. */
  queryTimeoutMs?: number | undefined;
}

/**
 * The client-side deadline comes this much after the server's statement_timeout: a server that
 * answers cancels the statement itself and keeps the connection; only a server that does not
 * answer at all (frozen, partitioned) is given up on by the client, which then drops the connection.
 */
const CLIENT_DEADLINE_MARGIN_MS = 1000;

/**
 * Connections opened before the process says it is ready, and kept however idle: on a busy host a
 * new connection (TCP, authentication, a forked backend) took seconds, longer than the connect
 * deadline, so a freshly started process or one after a quiet spell failed its first requests
 * (seen in the compose and swarm suites during rolling updates, load average 11-30).
 */
const WARM_CONNECTIONS = 2;

export class PostgresStore implements BookmarkStore {
  readonly engine = 'postgres';
  readonly #pool: Pool;
  readonly #schema: string | undefined;
  #closing: Promise<void> | undefined;
  readonly access: AccessStore = new PostgresAccessStore((query) => this.#query(query));
  readonly #targets = new ReadBatch<RedirectTarget>((names) => this.#readTargets(names), MAX_TARGETS_A_READ);

  constructor(options: PostgresStoreOptions) {
    const { schema } = options;
    if (schema !== undefined && !SCHEMA_NAME.test(schema)) throw new Error(`invalid schema name '${schema}'`);
    this.#schema = schema;
    const queryTimeoutMs = options.queryTimeoutMs ?? 5000;
    this.#pool = new Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
      min: WARM_CONNECTIONS,
      // Without deadlines a database that is down or frozen makes every request (and /readyz)
      // wait forever: a refused connection fails at once, a silent one within these.
      connectionTimeoutMillis: options.connectTimeoutMs ?? 2000,
      statement_timeout: queryTimeoutMs,
      query_timeout: queryTimeoutMs + CLIENT_DEADLINE_MARGIN_MS,
      // A peer that vanished without closing (host gone, cable cut) is noticed on idle connections too.
      keepAlive: true,
      ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
    });
    // An idle connection that dies (database restart) must not crash the process: the pool drops
    // it, and the next query opens a new one or reports the failure to its caller.
    this.#pool.on('error', () => {});
  }

  async migrate(): Promise<void> {
    const client = await this.#pool.connect();
    let failed = false;
    try {
      await client.query('BEGIN');
      // Processes starting together queue here; the lock ends with the transaction.
      await client.query(MIGRATION_LOCK);
      if (this.#schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${escapeIdentifier(this.#schema)}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
           version integer PRIMARY KEY,
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations');
      // A newer schema is left alone: steps only add, so this build still works on it.
      const applied = rows[0]?.version ?? 0;
      for (const [index, step] of MIGRATIONS.entries()) {
        if (index < applied) continue;
        await client.query(step);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [index + 1]);
      }
      await client.query('COMMIT');
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      // A failed connection is destroyed, not reused: its transaction state is unknown.
      client.release(failed);
    }
    await this.#warm();
  }

  /**
   * Opens the pool's warm connections now, while the process is not yet ready (see
   * WARM_CONNECTIONS). Best effort: one that cannot be opened in time is opened on demand later,
   * as without warming.
   */
  async #warm(): Promise<void> {
    const opened = await Promise.allSettled(Array.from({ length: WARM_CONNECTIONS }, () => this.#pool.connect()));
    for (const result of opened) if (result.status === 'fulfilled') result.value.release();
  }

  async create(bookmark: NewBookmark): Promise<CreateOutcome> {
    const values = [
      bookmark.name,
      bookmark.uri,
      bookmark.title,
      bookmark.checkStatus,
      bookmark.createdBy ?? null,
      bookmark.expiresAt ?? null,
      bookmark.maxVisits ?? null,
      bookmark.forwardQuery ?? true,
    ];
    // The unique index decides who wins. Losing and then not finding the winner means it was
    // deleted in between; trying again settles that, and a row deleted every time is not a real case.
    for (let attempt = 1; attempt <= 3; attempt++) {
      const inserted = await this.#rows<Row>(SQL.insert, values);
      if (inserted[0] !== undefined) return { kind: 'created', bookmark: toBookmark(inserted[0]) };
      const existing = await this.get(bookmark.name);
      if (existing !== undefined) {
        return existing.uri === bookmark.uri ? { kind: 'exists', bookmark: existing } : { kind: 'conflict', existing };
      }
    }
    throw new Error(`bookmark '${bookmark.name}' neither inserted nor found`);
  }

  async resolve(name: string): Promise<string | undefined> {
    const rows = await this.#rows<{ uri: string }>(SQL.resolve, [name]);
    return rows[0]?.uri;
  }

  resolveTarget(name: string): Promise<RedirectTarget | undefined> {
    return this.#targets.read(name);
  }

  async #readTargets(names: string[]): Promise<Map<string, RedirectTarget>> {
    const rows = await this.#rows<{
      name: string;
      uri: string;
      expires_at: Date | null;
      max_visits: string | null;
      visits: string;
      forward_query: boolean;
    }>(SQL.resolveTargets, [names]);
    return new Map(
      rows.map((row) => [
        row.name,
        {
          uri: row.uri,
          expiresAt: row.expires_at?.getTime() ?? null,
          maxVisits: row.max_visits === null ? null : Number(row.max_visits),
          visits: Number(row.visits),
          forwardQuery: row.forward_query,
        },
      ]),
    );
  }

  async get(name: string): Promise<Bookmark | undefined> {
    const rows = await this.#rows<Row>(SQL.get, [name]);
    return rows[0] === undefined ? undefined : toBookmark(rows[0]);
  }

  async list({ limit, cursor }: ListOptions): Promise<BookmarkPage> {
    checkLimit(limit);
    const rows =
      cursor === undefined
        ? await this.#rows<Row>(SQL.firstPage, [limit + 1])
        : await this.#rows<Row>(SQL.olderPage, [decodeCursor(cursor), limit + 1]);
    return toPage(rows, limit, (row) => Number(row.id), toBookmark);
  }

  async delete(name: string): Promise<boolean> {
    const result = await this.#query({ ...SQL.delete, values: [name] });
    return (result.rowCount ?? 0) > 0;
  }

  async update(name: string, changes: BookmarkChanges): Promise<EditOutcome | undefined> {
    const rows = await this.#rows<Row & { previous_uri: string }>(SQL.update, [
      name,
      changes.uri !== undefined,
      changes.uri ?? null,
      changes.title !== undefined,
      changes.title ?? null,
      changes.checkStatus !== undefined,
      changes.checkStatus ?? null,
      changes.expiresAt !== undefined,
      changes.expiresAt ?? null,
      changes.maxVisits !== undefined,
      changes.maxVisits ?? null,
      changes.forwardQuery !== undefined,
      changes.forwardQuery ?? null,
    ]);
    const row = rows[0];
    return row === undefined ? undefined : { bookmark: toBookmark(row), previousUri: row.previous_uri };
  }

  /**
   * The trigram index first, under a statement timeout of `budgetMs`: a rare term is found at once
   * however large the table. A phrase of common words can make the index read and recheck a large
   * share of the table; then the newest links below the cursor are scanned for about as long
   * again, and the page says it is partial; the page after it scans only, for both shares
   * (docs/decisions/0029-search-within-a-budget.md).
   */
  async search({ query, limit, cursor, budgetMs = SEARCH_BUDGET_MS }: SearchOptions): Promise<SearchPage> {
    checkLimit(limit);
    const { before, scanning } = cursor === undefined ? { before: undefined, scanning: false } : decodeSearchCursor(cursor);
    if (!(await this.#searchIndexValid())) throw new SearchIndexingError();
    const pattern = `%${query.replace(/[\\%_]/g, '\\$&')}%`;
    const idOf = (row: Row) => Number(row.id);
    if (budgetMs > 0 && !scanning) {
      const rows = await this.#searchByIndex(pattern, before, limit + 1, budgetMs);
      if (rows !== undefined) return { ...toPage(rows, limit, idOf, toBookmark), partial: false };
    }
    // The page after a partial one spends the index's share scanning too: the index ran out before.
    const deadline = performance.now() + (scanning ? 2 * budgetMs : budgetMs);
    const below = before ?? Number((await this.#rows<{ id: string }>(SQL.newestId, []))[0]?.id ?? 0) + 1;
    return scanWindows({
      below,
      limit,
      deadline,
      readWindow: (upper, floor, wanted) => this.#rows<Row>(SQL.searchWindow, [pattern, upper, floor, wanted]),
      idOf,
      toItem: toBookmark,
    });
  }

  /** The index's answer, or undefined when it took longer than `budgetMs` (the server cancelled it). */
  async #searchByIndex(pattern: string, before: number | undefined, wanted: number, budgetMs: number): Promise<Row[] | undefined> {
    const client = await this.#connect();
    try {
      await client.query('BEGIN READ ONLY');
      await client.query(`SET LOCAL statement_timeout = ${Math.ceil(budgetMs)}`);
      const { rows } =
        before === undefined
          ? await client.query<Row>({ ...SQL.searchFirstPage, values: [pattern, wanted] })
          : await client.query<Row>({ ...SQL.searchOlderPage, values: [pattern, before, wanted] });
      await client.query('COMMIT');
      client.release();
      return rows;
    } catch (error) {
      if (error instanceof DatabaseError && error.code === '57014') {
        // Cancelled by the server, which answered: the connection is sound once rolled back.
        const rolledBack = await client.query('ROLLBACK').then(
          () => true,
          () => false,
        );
        client.release(!rolledBack);
        return undefined;
      }
      client.release(true);
      throw translated(error);
    }
  }

  #searchReady = false;

  /** Valid once built; remembered, since an index never becomes invalid again by itself. */
  async #searchIndexValid(): Promise<boolean> {
    this.#searchReady ||= await this.#indexValid(SEARCH_INDEX);
    return this.#searchReady;
  }

  /**
   * Creates pg_trgm (needs the CREATE privilege on the database, or a superuser to have created
   * it: docs/links.md) and the index, concurrently (#buildIndexConcurrently).
   */
  async searchIndexStep(): Promise<boolean> {
    if (await this.#searchIndexValid()) return true;
    // IF NOT EXISTS is no guard against another process creating it at the same moment (a unique
    // violation on pg_extension): the migration's lock queues them, as migrate() does its steps.
    await this.#transaction('BEGIN', async (client) => {
      await client.query(MIGRATION_LOCK);
      await client.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    });
    // The extension lives in whichever schema it was created in (one per database): name it.
    const extension = await this.#rows<{ schema: string }>(
      {
        name: 'linkyard_trgm_schema',
        text: `SELECT extnamespace::regnamespace::text AS schema FROM pg_extension WHERE extname = 'pg_trgm'`,
      },
      [],
    );
    const opclass = `${extension[0]?.schema ?? 'public'}.gin_trgm_ops`;
    await this.#buildIndexConcurrently(SEARCH_INDEX, `ON bookmarks USING gin (${SEARCH_TEXT} ${opclass})`);
    return this.#searchIndexValid();
  }

  #recheckIndexReady = false;

  async recheckIndexStep(): Promise<boolean> {
    this.#recheckIndexReady ||=
      (await this.#indexValid(RECHECK_INDEX)) || (await this.#buildIndexConcurrently(RECHECK_INDEX, 'ON bookmarks (checked_at)'));
    return this.#recheckIndexReady;
  }

  /** Whether the index exists and is valid: a concurrent build in progress, or one that failed, leaves it invalid. */
  async #indexValid(name: string): Promise<boolean> {
    const rows = await this.#rows<{ valid: boolean | null }>(
      { name: 'linkyard_index_valid', text: `SELECT (SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)) AS valid` },
      [name],
    );
    return rows[0]?.valid === true;
  }

  /**
   * Builds the index `name` (`definition`: what follows its name in CREATE INDEX) with CREATE
   * INDEX CONCURRENTLY: outside any transaction, writes go on, and it takes as long as the table
   * needs, off the request path. Several processes may call this at once: one builds, the others
   * find its lock taken and return false. A build that failed leaves an invalid index with no build
   * in progress: it is dropped and built again. True once the index is valid.
   */
  async #buildIndexConcurrently(name: string, definition: string): Promise<boolean> {
    const client = await this.#connect();
    try {
      // One build at a time across processes: two CREATE INDEX CONCURRENTLY on one table wait for
      // each other's snapshots and one fails with a deadlock (seen with eight processes starting
      // together); a process that checked for a build in progress could also drop the index
      // another one was just starting. The lock is the session's: a failed build's connection is
      // dropped, and the lock with it.
      const locked = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(${INDEX_BUILD_LOCK}) AS locked`);
      if (locked.rows[0]?.locked !== true) {
        client.release();
        return false;
      }
      const state = await client.query<{ valid: boolean | null; building: boolean }>(
        `SELECT (SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)) AS valid,
                EXISTS (SELECT FROM pg_stat_progress_create_index WHERE index_relid = to_regclass($1)) AS building`,
        [name],
      );
      const { valid, building } = state.rows[0] ?? { valid: null, building: false };
      // Built by the lock's previous holder; or by a process of an older version, without the lock.
      if (valid === true || building) {
        await client.query(`SELECT pg_advisory_unlock(${INDEX_BUILD_LOCK})`);
        client.release();
        return valid === true;
      }
      if (valid === false) await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
      // No statement timeout for the build. pg reads a per-query query_timeout that its types do not declare.
      await client.query('SET statement_timeout = 0');
      const build: QueryConfig & { query_timeout: number } = {
        text: `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${name} ${definition}`,
        query_timeout: BUILD_DEADLINE_MS,
      };
      await client.query(build);
      // An expression index's statistics come only with the table's next ANALYZE: until then the
      // planner guesses a few hundred rows for any search term and scans every row holding a
      // common word's trigrams (644 ms at 1 M links) instead of going newest first and stopping
      // at a page (0.3 ms). Seconds at most: ANALYZE samples (decision 0021).
      await client.query('ANALYZE bookmarks');
      await client.query('RESET statement_timeout');
      await client.query(`SELECT pg_advisory_unlock(${INDEX_BUILD_LOCK})`);
    } catch (error) {
      client.release(true);
      throw translated(error);
    }
    client.release();
    return this.#indexValid(name);
  }

  async addVisits(counts: ReadonlyMap<string, number>, batchId: string, rollups?: VisitRollupRows): Promise<void> {
    if (rollups !== undefined && rollups.hours.length > 0) {
      await this.#query({ ...STATS_SQL.addVisitsWithRollups, values: rollupParameters(counts, batchId, rollups) });
      return;
    }
    if (counts.size === 0) return;
    await this.#query({ ...SQL.addVisits, values: [[...counts.keys()], [...counts.values()], batchId] });
  }

  async visitSeries(name: string, granularity: Granularity, from: number, to: number): Promise<VisitBucket[]> {
    const rows = await this.#rows<{ bucket: number; visits: string; bots: string }>(
      granularity === 'hour' ? STATS_SQL.hours : STATS_SQL.days,
      [name, from, to],
    );
    return rows.map((row) => ({ bucket: Number(row.bucket), visits: Number(row.visits), bots: Number(row.bots) }));
  }

  async topValues(name: string, fromDay: number, toDay: number): Promise<DimensionCount[]> {
    const rows = await this.#rows<{ dimension: DimensionCount['dimension']; value: string; visits: string }>(STATS_SQL.top, [
      name,
      fromDay,
      toDay,
    ]);
    return rows.map((row) => ({ dimension: row.dimension, value: row.value, visits: Number(row.visits) }));
  }

  async dailyVisits(names: readonly string[], fromDay: number): Promise<DailyVisits[]> {
    if (names.length === 0) return [];
    const rows = await this.#rows<{ name: string; day: number; visits: string }>(STATS_SQL.daily, [names, fromDay]);
    return rows.map((row) => ({ name: row.name, day: Number(row.day), visits: Number(row.visits) }));
  }

  async foldHours(beforeHour: number): Promise<number> {
    const rows = await this.#rows<{ moved: string }>(STATS_SQL.fold, [beforeHour]);
    return Number(rows[0]?.moved ?? 0);
  }

  async dueForRecheck(before: Date, limit: number): Promise<RecheckCandidate[]> {
    return this.#rows<RecheckCandidate>(SQL.dueForRecheck, [before, limit]);
  }

  async recordRecheck(name: string, uri: string, outcome: RecheckOutcome, at: Date): Promise<boolean> {
    const result = await this.#query({
      ...SQL.recordRecheck,
      values: [name, uri, at, outcome.ok, outcome.ok ? outcome.status : null, outcome.ok ? null : outcome.error],
    });
    return (result.rowCount ?? 0) > 0;
  }

  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const result = await this.#query({ ...SQL.acquireLease, values: [name, owner, ttlMs] });
    return (result.rowCount ?? 0) > 0;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.#query({ ...SQL.releaseLease, values: [name, owner] });
  }

  async exportLinks({ limit, cursor }: ListOptions): Promise<LinkRecordPage> {
    checkLimit(limit);
    const after = cursor === undefined ? 0 : decodeCursor(cursor);
    const rows = await this.#transaction('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', (client) =>
      exportPage(client, after, limit + 1),
    );
    return toPage(
      rows,
      limit,
      (row) => row.id,
      (row) => row.link,
    );
  }

  async importLinks(links: readonly LinkRecord[], { overwrite }: { overwrite: boolean }): Promise<ImportOutcome[]> {
    if (links.length === 0) return [];
    // A name created elsewhere between the batch's read and its insert: the batch is rolled back
    // and read again, when that name is settled like any other.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#transaction('BEGIN', (client) => importBatch(client, links, overwrite));
      } catch (error) {
        if (!(error instanceof ImportRaceError) || attempt >= 3) throw error;
      }
    }
  }

  async count(): Promise<number> {
    const rows = await this.#rows<{ count: string }>(SQL.count, []);
    return Number(rows[0]?.count ?? 0);
  }

  async ping(): Promise<void> {
    await this.#query({ text: 'SELECT 1' });
  }

  close(): Promise<void> {
    this.#closing ??= this.#pool.end();
    return this.#closing;
  }

  /** A connection of the pool's own; a failure to get one is the store being away, as for a query. */
  async #connect(): Promise<PoolClient> {
    try {
      return await this.#pool.connect();
    } catch (error) {
      throw translated(error);
    }
  }

  /** `work` on one connection between `begin` and COMMIT; rolled back (and the connection dropped) if it fails. */
  async #transaction<T>(begin: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#connect();
    try {
      await client.query(begin);
      const result = await work(client);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (error) {
      // Its transaction state is unknown: destroyed, not reused (the server rolls it back).
      client.release(true);
      throw translated(error);
    }
  }

  async #rows<R extends QueryResultRow>(query: { name: string; text: string }, values: unknown[]): Promise<R[]> {
    const result = await this.#query<R>({ ...query, values });
    return result.rows;
  }

  /** Every query after start-up goes through here, so an outage is one kind of error everywhere. */
  async #query<R extends QueryResultRow>(query: QueryConfig): Promise<QueryResult<R>> {
    try {
      return await this.#pool.query<R>(query);
    } catch (error) {
      throw translated(error);
    }
  }
}
