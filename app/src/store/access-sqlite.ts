import type Database from 'better-sqlite3';
import type {
  AccessStore,
  ApiKey,
  AuditEntry,
  AuditPage,
  BlockedHost,
  Denials,
  NewKey,
  NewSession,
  Role,
  SessionOwner,
  StoredKey,
} from './access-types.ts';
import { checkLimit, decodeCursor, toPage } from './cursor.ts';

/** Schema steps for keys, sessions, the audit trail and links' authors: appended to sqlite.ts's MIGRATIONS. */
export const ACCESS_MIGRATION = `CREATE TABLE api_keys (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     name TEXT NOT NULL UNIQUE,
     role TEXT NOT NULL CHECK (role IN ('admin', 'author')),
     hash TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     last_used_at INTEGER
   ) STRICT;
   CREATE TABLE sessions (
     hash TEXT PRIMARY KEY,
     key_name TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   ) STRICT;
   CREATE INDEX sessions_key_name ON sessions (key_name);
   CREATE INDEX sessions_expires_at ON sessions (expires_at);
   CREATE TABLE audit_log (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at INTEGER NOT NULL,
     actor TEXT NOT NULL,
     action TEXT NOT NULL,
     subject TEXT NOT NULL,
     detail TEXT
   ) STRICT;
   ALTER TABLE bookmarks ADD COLUMN created_by TEXT`;

/**
 * The blocklist and disabled links: appended to sqlite.ts's MIGRATIONS after ACCESS_MIGRATION.
 * A disabled link is kept by id, not name: AUTOINCREMENT never reuses an id, so a link deleted and
 * made again under its name starts enabled, and a row its deletion left behind disables nothing.
 */
export const BLOCKLIST_MIGRATION = `CREATE TABLE blocked_hosts (
     host TEXT PRIMARY KEY,
     added_at INTEGER NOT NULL,
     added_by TEXT NOT NULL
   ) STRICT;
   CREATE TABLE disabled_links (
     bookmark_id INTEGER PRIMARY KEY,
     disabled_at INTEGER NOT NULL,
     disabled_by TEXT NOT NULL
   ) STRICT`;

interface KeyRow {
  name: string;
  role: Role;
  hash: string;
  created_at: number;
  last_used_at: number | null;
}

interface AuditRow {
  id: number;
  at: number;
  actor: string;
  action: AuditEntry['action'];
  subject: string;
  detail: string | null;
}

const toApiKey = (row: KeyRow): ApiKey => ({
  name: row.name,
  role: row.role,
  createdAt: new Date(row.created_at),
  lastUsedAt: row.last_used_at === null ? null : new Date(row.last_used_at),
});

const toAuditEntry = (row: AuditRow): AuditEntry => ({
  at: new Date(row.at),
  actor: row.actor,
  action: row.action,
  subject: row.subject,
  detail: row.detail,
});

/**
 * The names an admin disabled, for each process's blocklist refresh (every BLOCKLIST_REFRESH_MS).
 * CROSS JOIN keeps disabled_links the outer loop: with no statistics SQLite scanned every link's
 * name instead (49 ms and 16 MiB of page cache at 1 M links, each refresh; 0021-scale.md).
 */
export const DISABLED_NAMES_SQL = 'SELECT b.name FROM disabled_links d CROSS JOIN bookmarks b ON b.id = d.bookmark_id';

function prepareStatements(db: Database.Database) {
  const insertAudit = db.prepare<[number, string, string, string, string | null]>(
    'INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)',
  );
  const insertKey = db.prepare<[string, string, string, number]>(
    'INSERT INTO api_keys (name, role, hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING',
  );
  const deleteKey = db.prepare<[string]>('DELETE FROM api_keys WHERE name = ?');
  const deleteKeySessions = db.prepare<[string]>('DELETE FROM sessions WHERE key_name = ?');
  const touchKey = db.prepare<[number, string, number]>(
    'UPDATE api_keys SET last_used_at = ? WHERE name = ? AND (last_used_at IS NULL OR last_used_at < ?)',
  );
  const insertSession = db.prepare<[string, string, number, number]>(
    'INSERT INTO sessions (hash, key_name, created_at, expires_at) VALUES (?, ?, ?, ?)',
  );
  const expireSessions = db.prepare<[number]>('DELETE FROM sessions WHERE expires_at <= ?');
  const columns = 'name, role, hash, created_at, last_used_at';
  const insertHost = db.prepare<[string, number, string]>(
    'INSERT INTO blocked_hosts (host, added_at, added_by) VALUES (?, ?, ?) ON CONFLICT (host) DO NOTHING',
  );
  const deleteHost = db.prepare<[string]>('DELETE FROM blocked_hosts WHERE host = ?');
  const disable = db.prepare<[number, string, string]>(
    `INSERT INTO disabled_links (bookmark_id, disabled_at, disabled_by)
     SELECT id, ?, ? FROM bookmarks WHERE name = ? ON CONFLICT (bookmark_id) DO NOTHING`,
  );
  const enable = db.prepare<[string]>('DELETE FROM disabled_links WHERE bookmark_id = (SELECT id FROM bookmarks WHERE name = ?)');
  return {
    listBlockedHosts: db.prepare<[], { host: string; added_at: number; added_by: string }>(
      'SELECT host, added_at, added_by FROM blocked_hosts ORDER BY host',
    ),
    blockedHosts: db.prepare<[], string>('SELECT host FROM blocked_hosts').pluck(),
    disabledNames: db.prepare<[], string>(DISABLED_NAMES_SQL).pluck(),
    addBlockedHosts: db.transaction((hosts: readonly string[], actor: string, subject: string): number => {
      const now = Date.now();
      let added = 0;
      for (const host of hosts) added += insertHost.run(host, now, actor).changes;
      if (added > 0) insertAudit.run(now, actor, 'blocklist.add', subject, hosts.length === 1 ? null : `${added} new of ${hosts.length}`);
      return added;
    }),
    removeBlockedHost: db.transaction((host: string, actor: string): boolean => {
      if (deleteHost.run(host).changes === 0) return false;
      insertAudit.run(Date.now(), actor, 'blocklist.remove', host, null);
      return true;
    }),
    setLinkDisabled: db.transaction((name: string, disabled: boolean, actor: string): boolean => {
      const now = Date.now();
      const changed = disabled ? disable.run(now, actor, name).changes : enable.run(name).changes;
      if (changed === 0) return false;
      insertAudit.run(now, actor, disabled ? 'bookmark.disable' : 'bookmark.enable', name, null);
      return true;
    }),
    keyByHash: db.prepare<[string], KeyRow>(`SELECT ${columns} FROM api_keys WHERE hash = ?`),
    listKeys: db.prepare<[], KeyRow>(`SELECT ${columns} FROM api_keys ORDER BY id`),
    sessionByHash: db.prepare<[string, number], { key_name: string; role: Role; expires_at: number }>(
      `SELECT s.key_name, k.role, s.expires_at FROM sessions s JOIN api_keys k ON k.name = s.key_name
       WHERE s.hash = ? AND s.expires_at > ?`,
    ),
    deleteSession: db.prepare<[string]>('DELETE FROM sessions WHERE hash = ?'),
    insertAudit,
    firstAuditPage: db.prepare<[number], AuditRow>('SELECT * FROM audit_log ORDER BY id DESC LIMIT ?'),
    olderAuditPage: db.prepare<[number, number], AuditRow>('SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?'),
    createKey: db.transaction((key: NewKey, actor: string): 'created' | 'taken' => {
      const now = Date.now();
      if (insertKey.run(key.name, key.role, key.hash, now).changes === 0) return 'taken';
      insertAudit.run(now, actor, 'key.create', key.name, key.role);
      return 'created';
    }),
    revokeKey: db.transaction((name: string, actor: string): boolean => {
      if (deleteKey.run(name).changes === 0) return false;
      deleteKeySessions.run(name);
      insertAudit.run(Date.now(), actor, 'key.revoke', name, null);
      return true;
    }),
    touchKeys: db.transaction((lastUsed: ReadonlyMap<string, Date>) => {
      for (const [name, at] of lastUsed) touchKey.run(at.getTime(), name, at.getTime());
    }),
    createSession: db.transaction((session: NewSession) => {
      const now = Date.now();
      expireSessions.run(now);
      insertSession.run(session.hash, session.keyName, now, session.expiresAt.getTime());
    }),
  };
}

/** The AccessStore on the SqliteStore's connection; `guard` turns a failing disk into StoreUnavailableError. */
export class SqliteAccessStore implements AccessStore {
  readonly #db: Database.Database;
  readonly #guard: <T>(work: () => T) => T;
  #statements: ReturnType<typeof prepareStatements> | undefined;
  readonly #hostLookups = new Map<number, Database.Statement<string[]>>();

  constructor(db: Database.Database, guard: <T>(work: () => T) => T) {
    this.#db = db;
    this.#guard = guard;
  }

  /** Prepared on first use, after the schema exists. */
  get #sql(): ReturnType<typeof prepareStatements> {
    this.#statements ??= prepareStatements(this.#db);
    return this.#statements;
  }

  async createKey(key: NewKey, actor: string): Promise<'created' | 'taken'> {
    return this.#guard(() => this.#sql.createKey.immediate(key, actor));
  }

  async keyByHash(hash: string): Promise<StoredKey | undefined> {
    const row = this.#guard(() => this.#sql.keyByHash.get(hash));
    return row === undefined ? undefined : { ...toApiKey(row), hash: row.hash };
  }

  async listKeys(): Promise<ApiKey[]> {
    return this.#guard(() => this.#sql.listKeys.all()).map(toApiKey);
  }

  async revokeKey(name: string, actor: string): Promise<boolean> {
    return this.#guard(() => this.#sql.revokeKey.immediate(name, actor));
  }

  async touchKeys(lastUsed: ReadonlyMap<string, Date>): Promise<void> {
    if (lastUsed.size === 0) return;
    this.#guard(() => this.#sql.touchKeys.immediate(lastUsed));
  }

  async createSession(session: NewSession): Promise<void> {
    this.#guard(() => this.#sql.createSession.immediate(session));
  }

  async sessionByHash(hash: string, now: Date): Promise<SessionOwner | undefined> {
    const row = this.#guard(() => this.#sql.sessionByHash.get(hash, now.getTime()));
    return row === undefined ? undefined : { keyName: row.key_name, role: row.role, expiresAt: new Date(row.expires_at) };
  }

  async deleteSession(hash: string): Promise<boolean> {
    return this.#guard(() => this.#sql.deleteSession.run(hash).changes > 0);
  }

  async addBlockedHosts(hosts: readonly string[], actor: string, subject: string): Promise<number> {
    return this.#guard(() => this.#sql.addBlockedHosts.immediate(hosts, actor, subject));
  }

  async removeBlockedHost(host: string, actor: string): Promise<boolean> {
    return this.#guard(() => this.#sql.removeBlockedHost.immediate(host, actor));
  }

  async listBlockedHosts(): Promise<BlockedHost[]> {
    return this.#guard(() => this.#sql.listBlockedHosts.all()).map((row) => ({
      host: row.host,
      addedAt: new Date(row.added_at),
      addedBy: row.added_by,
    }));
  }

  async anyHostBlocked(hosts: readonly string[]): Promise<boolean> {
    if (hosts.length === 0) return false;
    // A host and its parents in one statement, prepared once per count of names (a handful).
    const found = this.#guard(() => {
      let statement = this.#hostLookups.get(hosts.length);
      if (statement === undefined) {
        const placeholders = hosts.map(() => '?').join(', ');
        statement = this.#db.prepare(`SELECT 1 FROM blocked_hosts WHERE host IN (${placeholders}) LIMIT 1`);
        this.#hostLookups.set(hosts.length, statement);
      }
      return statement.get(...hosts);
    });
    return found !== undefined;
  }

  async setLinkDisabled(name: string, disabled: boolean, actor: string): Promise<boolean> {
    return this.#guard(() => this.#sql.setLinkDisabled.immediate(name, disabled, actor));
  }

  async denials(): Promise<Denials> {
    return this.#guard(() => ({ hosts: this.#sql.blockedHosts.all(), disabledNames: this.#sql.disabledNames.all() }));
  }

  async audit(entry: Omit<AuditEntry, 'at'>): Promise<void> {
    this.#guard(() => this.#sql.insertAudit.run(Date.now(), entry.actor, entry.action, entry.subject, entry.detail));
  }

  async listAudit({ limit, cursor }: { limit: number; cursor?: string | undefined }): Promise<AuditPage> {
    checkLimit(limit);
    const older = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = this.#guard(() =>
      older === undefined ? this.#sql.firstAuditPage.all(limit + 1) : this.#sql.olderAuditPage.all(older, limit + 1),
    );
    return toPage(rows, limit, (row) => row.id, toAuditEntry);
  }
}
