import type { AccessStore } from './access-types.ts';
import type { DailyVisits, DimensionCount, Granularity, VisitBucket, VisitRollupRows } from './stats-types.ts';

/** A bookmark as stored and shown. */
export interface Bookmark {
  name: string;
  uri: string;
  /** The target page's <title>, when the check found one. */
  title: string | null;
  /** Final HTTP status the check saw (2xx, or 401/403/405/429 accepted with a warning); NOT_CHECKED for an import without --check. */
  checkStatus: number;
  visits: number;
  createdAt: Date;
  /** A key's name, `form` (the anonymous public form), or null for links made before keys existed. */
  createdBy: string | null;
  /** From this moment the link answers 410; null: never. */
  expiresAt: Date | null;
  /** Once this many visits are counted the link answers 410; null: no limit. */
  maxVisits: number | null;
  /** Whether a redirect passes the request's query string on to the target. */
  forwardQuery: boolean;
  /** When the target was last fetched: at create, at an edit of it, or by a re-check (services/rechecks.ts). */
  checkedAt: Date;
  /** Re-checks failed in a row since the last check that succeeded (0: the last one succeeded). */
  checkFailures: number;
  /** When the current run of failed re-checks began; null while the last check succeeded. */
  failingSince: Date | null;
  /** Why the last re-check failed ("connection refused"); null while the last check succeeded. */
  checkError: string | null;
}

/** A link due for a re-check: what the check needs, and what the result is recorded against. */
export interface RecheckCandidate {
  name: string;
  uri: string;
}

/** A re-check's result: the status seen, or why it failed. */
export type RecheckOutcome = { ok: true; status: number } | { ok: false; error: string };

/** The check status of a link imported without fetching its target (docs/data.md). */
export const NOT_CHECKED = 0;

/** What a redirect needs to know, read in one indexed lookup. */
export interface RedirectTarget {
  uri: string;
  /** Epoch milliseconds, or null. */
  expiresAt: number | null;
  maxVisits: number | null;
  /** As written by the last flush of every process (VisitCounter). */
  visits: number;
  forwardQuery: boolean;
}

export interface LinkOptions {
  expiresAt?: Date | null | undefined;
  maxVisits?: number | null | undefined;
  forwardQuery?: boolean | undefined;
}

export interface NewBookmark extends LinkOptions {
  name: string;
  uri: string;
  title: string | null;
  checkStatus: number;
  createdBy?: string | null | undefined;
}

/** What an edit changes: a new target comes with its check's result. Absent fields stay as they are. */
export interface BookmarkChanges extends LinkOptions {
  uri?: string | undefined;
  title?: string | null | undefined;
  checkStatus?: number | undefined;
}

/** An edited bookmark, and the target it had just before (read in the same statement). */
export interface EditOutcome {
  bookmark: Bookmark;
  previousUri: string;
}

/**
 * What `create` did. The unique index on `name` decides races between processes: exactly one
 * insert wins, the loser learns who won and whether it asked for the same URI.
 */
export type CreateOutcome =
  | { kind: 'created'; bookmark: Bookmark }
  | { kind: 'exists'; bookmark: Bookmark }
  | { kind: 'conflict'; existing: Bookmark };

export interface ListOptions {
  limit: number;
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string | undefined;
}

export interface BookmarkPage {
  items: Bookmark[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

/** One hour of a link's visits, as stored in its rollups (`hour`: hours since the epoch). */
export interface StoredHour {
  hour: number;
  visits: number;
  bots: number;
}

/** One day of a link's visits, folded from its hours (`day`: days since the epoch). */
export interface StoredDay {
  day: number;
  visits: number;
  bots: number;
}

/** One day's visits with one value of a dimension. */
export interface StoredDimension {
  day: number;
  dimension: string;
  value: string;
  visits: number;
}

/**
 * A link with everything an export carries and an import writes back: the row (creator by key
 * name: keys never leave the store) and its stats rollups as stored, in key order.
 */
export interface LinkRecord {
  name: string;
  uri: string;
  title: string | null;
  checkStatus: number;
  createdAt: Date;
  createdBy: string | null;
  expiresAt: Date | null;
  maxVisits: number | null;
  forwardQuery: boolean;
  visits: number;
  hours: StoredHour[];
  days: StoredDay[];
  dimensions: StoredDimension[];
}

export interface LinkRecordPage {
  /** Oldest first (by the row's id). */
  items: LinkRecord[];
  /** Pass back as `cursor` for the next (newer) page; null on the last page. */
  nextCursor: string | null;
}

/**
 * What `importLinks` did with one link: a new name is `imported`; a name that exists with the
 * same target is `skipped` (a re-run adds nothing twice); with another target it is a `conflict`,
 * left as it was, unless the import overwrites, which replaces it whole (`overwritten`).
 */
export type ImportOutcome =
  | { kind: 'imported' }
  | { kind: 'skipped' }
  | { kind: 'conflict'; existingUri: string }
  | { kind: 'overwritten'; previousUri: string };

/** One interface, two engines (SQLite, PostgreSQL); the same contract tests run against both. */
export interface BookmarkStore {
  readonly engine: 'sqlite' | 'postgres';
  /** Creates or upgrades the schema; safe when several processes start at once. */
  migrate(): Promise<void>;
  /** Durable when the promise resolves. */
  create(bookmark: NewBookmark): Promise<CreateOutcome>;
  /** The long URI only, or undefined. */
  resolve(name: string): Promise<string | undefined>;
  /** The redirect's read: the target and what decides whether it still redirects. */
  resolveTarget(name: string): Promise<RedirectTarget | undefined>;
  /**
   * The same read, answered in this call, by a store whose reads are synchronous (SQLite): a
   * redirect that misses the cache then needs no promise either. Absent: use resolveTarget.
   */
  resolveTargetNow?(name: string): RedirectTarget | undefined;
  get(name: string): Promise<Bookmark | undefined>;
  /** Newest first, keyset-paginated so a million rows answer as fast as ten. */
  list(options: ListOptions): Promise<BookmarkPage>;
  delete(name: string): Promise<boolean>;
  /** Newest first, keyset-paginated as `list`; SearchIndexingError until the index is built. */
  search(options: SearchOptions): Promise<SearchPage>;
  /**
   * One bounded step of building the search index after start-up (never inside a migration: a
   * long one would hold every process back); true once the index is complete and usable.
   */
  searchIndexStep(): Promise<boolean>;
  /** Changes a bookmark in place (same row: its visits stay); undefined for an unknown name. */
  update(name: string, changes: BookmarkChanges): Promise<EditOutcome | undefined>;
  /**
   * Adds batched visit counts; names that no longer exist are ignored. A batch already applied
   * under `batchId` is not applied again: a flush that failed without knowing whether it was
   * written (the connection died, a deadline passed) is retried safely. Ids are kept a day.
   * `rollups`, when stats are on, are written in the same transaction, under the same id.
   */
  addVisits(counts: ReadonlyMap<string, number>, batchId: string, rollups?: VisitRollupRows): Promise<void>;
  count(): Promise<number>;
  /**
   * A link's people and bots per bucket in [from, to) (epoch hours or days), buckets without
   * visits left out; days add the hours not yet folded (decision 0019). Empty for an unknown name.
   */
  visitSeries(name: string, granularity: Granularity, from: number, to: number): Promise<VisitBucket[]>;
  /** A link's visits per dimension value over the days [fromDay, toDay), most visited first per dimension. */
  topValues(name: string, fromDay: number, toDay: number): Promise<DimensionCount[]>;
  /** People per link and day since `fromDay`, from the hours (one query for a page of links). */
  dailyVisits(names: readonly string[], fromDay: number): Promise<DailyVisits[]>;
  /**
   * Moves the oldest hour, if it is before `beforeHour`, into the daily rows, once however many
   * processes ask; returns the rows moved (0: nothing left to fold). One hour a call keeps each
   * transaction short however many links there are.
   */
  foldHours(beforeHour: number): Promise<number>;
  /**
   * One bounded step of preparing what dueForRecheck reads, after start-up (never in a migration:
   * on a large store it takes seconds to minutes); true once it is complete. PostgreSQL builds an
   * index concurrently, SQLite enrols the links made before re-checks came, a batch a step. Run by
   * the one process that re-checks, before its first pick.
   */
  recheckIndexStep(): Promise<boolean>;
  /**
   * Links whose target was last checked before `before`, the longest unchecked first (the index of
   * recheckIndexStep, so a page of them is read however many links there are).
   */
  dueForRecheck(before: Date, limit: number): Promise<RecheckCandidate[]>;
  /**
   * Records a re-check of `name`'s target `uri` made at `at`: a success sets the status and ends a
   * run of failures, a failure counts one more. Ignored (false) when the link was deleted or its
   * target edited since it was picked.
   */
  recordRecheck(name: string, uri: string, outcome: RecheckOutcome, at: Date): Promise<boolean>;
  /**
   * Takes the lease `name` for `owner` for `ttlMs` from now, or renews it: true when `owner` holds
   * it, false while another owner's has not expired. A lease whose owner died expires by itself.
   */
  acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up, if `owner` holds it, so another process need not wait for it to expire. */
  releaseLease(name: string, owner: string): Promise<void>;
  /**
   * Every link with its rollups, oldest first, keyset-paginated by the row's id (the export): a
   * page is read in one snapshot, and a link that exists through the whole walk is in it once.
   */
  exportLinks(options: ListOptions): Promise<LinkRecordPage>;
  /**
   * Writes a batch of links (the import) in one transaction, so a crash leaves whole links or
   * none of the batch: each with its created time, visits and rollups as given. One outcome per
   * link, in order; a name given twice is settled against its first occurrence.
   */
  importLinks(links: readonly LinkRecord[], options: { overwrite: boolean }): Promise<ImportOutcome[]>;
  /** Throws when the store cannot answer (for /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Keys, sessions and the audit trail, on the same connection (access-types.ts). */
  readonly access: AccessStore;
}

export interface SearchOptions extends ListOptions {
  /** Text found anywhere in the name, the target or the title, case-insensitively; 3 characters or more. */
  query: string;
  /**
   * PostgreSQL: how long the index may work on it before the search falls back to scanning the
   * newest links for about as long again, and answers with what that found (a `partial` page).
   * 0: scan one window and answer. Default SEARCH_BUDGET_MS. SQLite cannot cut an FTS5 query
   * short and answers whole (docs/decisions/0029-search-within-a-budget.md).
   */
  budgetMs?: number;
}

/** A search's work bound (SearchOptions.budgetMs): a phrase of common words is not unbounded work. */
export const SEARCH_BUDGET_MS = 100;

export interface SearchPage extends BookmarkPage {
  /**
   * The search stopped at its budget before it filled the page: `items` are the matches among the
   * links it examined, and `nextCursor` (never null then) continues below them.
   */
  partial: boolean;
}

/** The search index is still being built in the background (searchIndexStep): answer 503 and retry. */
export class SearchIndexingError extends Error {
  constructor() {
    super('the search index is still being built');
    this.name = 'SearchIndexingError';
  }
}

/** Thrown for a cursor that did not come from this store. */
export class InvalidCursorError extends Error {
  constructor(cursor: string) {
    super(`invalid cursor '${cursor}'`);
    this.name = 'InvalidCursorError';
  }
}
