import type { AccessStore } from './access-types.ts';

/** A bookmark as stored and shown. */
export interface Bookmark {
  name: string;
  uri: string;
  /** The target page's <title>, when the check found one. */
  title: string | null;
  /** Final HTTP status the check saw (2xx, or 401/403/405/429 accepted with a warning). */
  checkStatus: number;
  visits: number;
  createdAt: Date;
  /** A key's name, `form` (the anonymous public form), or null for links made before keys existed. */
  createdBy: string | null;
}

export interface NewBookmark {
  name: string;
  uri: string;
  title: string | null;
  checkStatus: number;
  createdBy?: string | null | undefined;
}

/** What an edit changes: a new target comes with its check's result. Absent fields stay as they are. */
export interface BookmarkChanges {
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

/** One interface, two engines (SQLite, PostgreSQL); the same contract tests run against both. */
export interface BookmarkStore {
  readonly engine: 'sqlite' | 'postgres';
  /** Creates or upgrades the schema; safe when several processes start at once. */
  migrate(): Promise<void>;
  /** Durable when the promise resolves. */
  create(bookmark: NewBookmark): Promise<CreateOutcome>;
  /** The redirect's hot path: the long URI only, or undefined. */
  resolve(name: string): Promise<string | undefined>;
  get(name: string): Promise<Bookmark | undefined>;
  /** Newest first, keyset-paginated so a million rows answer as fast as ten. */
  list(options: ListOptions): Promise<BookmarkPage>;
  delete(name: string): Promise<boolean>;
  /** Changes a bookmark in place (same row: its visits stay); undefined for an unknown name. */
  update(name: string, changes: BookmarkChanges): Promise<EditOutcome | undefined>;
  /**
   * Adds batched visit counts; names that no longer exist are ignored. A batch already applied
   * under `batchId` is not applied again: a flush that failed without knowing whether it was
   * written (the connection died, a deadline passed) is retried safely. Ids are kept a day.
   */
  addVisits(counts: ReadonlyMap<string, number>, batchId: string): Promise<void>;
  count(): Promise<number>;
  /** Throws when the store cannot answer (for /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Keys, sessions and the audit trail, on the same connection (access-types.ts). */
  readonly access: AccessStore;
}

/** Thrown for a cursor that did not come from this store. */
export class InvalidCursorError extends Error {
  constructor(cursor: string) {
    super(`invalid cursor '${cursor}'`);
    this.name = 'InvalidCursorError';
  }
}
