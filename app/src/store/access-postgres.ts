import type { QueryConfig, QueryResult, QueryResultRow } from 'pg';
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

/** Schema steps for keys, sessions, the audit trail and links' authors: appended to postgres.ts's MIGRATIONS. */
export const ACCESS_MIGRATION = `CREATE TABLE api_keys (
     id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     name text NOT NULL UNIQUE,
     role text NOT NULL CHECK (role IN ('admin', 'author')),
     hash text NOT NULL UNIQUE,
     created_at timestamptz NOT NULL DEFAULT now(),
     last_used_at timestamptz
   );
   CREATE TABLE sessions (
     hash text PRIMARY KEY,
     key_name text NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now(),
     expires_at timestamptz NOT NULL
   );
   CREATE INDEX sessions_key_name ON sessions (key_name);
   CREATE INDEX sessions_expires_at ON sessions (expires_at);
   CREATE TABLE audit_log (
     id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     at timestamptz NOT NULL DEFAULT now(),
     actor text NOT NULL,
     action text NOT NULL,
     subject text NOT NULL,
     detail text
   );
   ALTER TABLE bookmarks ADD COLUMN created_by text`;

/** The blocklist and disabled links: appended to postgres.ts's MIGRATIONS after ACCESS_MIGRATION. */
export const BLOCKLIST_MIGRATION = `CREATE TABLE blocked_hosts (
     host text PRIMARY KEY,
     added_at timestamptz NOT NULL DEFAULT now(),
     added_by text NOT NULL
   );
   CREATE TABLE disabled_links (
     bookmark_id bigint PRIMARY KEY REFERENCES bookmarks (id) ON DELETE CASCADE,
     disabled_at timestamptz NOT NULL DEFAULT now(),
     disabled_by text NOT NULL
   )`;

const KEY_COLUMNS = 'name, role, hash, created_at, last_used_at';

/** One statement each, so each change and its audit entry are one transaction and one round trip. */
const SQL = {
  createKey: {
    name: 'linkyard_create_key',
    text: `WITH created AS (
             INSERT INTO api_keys (name, role, hash) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING name, role
           )
           INSERT INTO audit_log (actor, action, subject, detail) SELECT $4, 'key.create', name, role FROM created RETURNING id`,
  },
  keyByHash: { name: 'linkyard_key_by_hash', text: `SELECT ${KEY_COLUMNS} FROM api_keys WHERE hash = $1` },
  listKeys: { name: 'linkyard_list_keys', text: `SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY id` },
  revokeKey: {
    name: 'linkyard_revoke_key',
    text: `WITH revoked AS (
             DELETE FROM api_keys WHERE name = $1 RETURNING name
           ), ended AS (
             DELETE FROM sessions WHERE key_name IN (SELECT name FROM revoked)
           )
           INSERT INTO audit_log (actor, action, subject) SELECT $2, 'key.revoke', name FROM revoked RETURNING id`,
  },
  touchKeys: {
    name: 'linkyard_touch_keys',
    text: `UPDATE api_keys SET last_used_at = v.at
           FROM unnest($1::text[], $2::timestamptz[]) AS v (name, at)
           WHERE api_keys.name = v.name AND (api_keys.last_used_at IS NULL OR api_keys.last_used_at < v.at)`,
  },
  createSession: {
    name: 'linkyard_create_session',
    text: `WITH expired AS (DELETE FROM sessions WHERE expires_at <= now())
           INSERT INTO sessions (hash, key_name, expires_at) VALUES ($1, $2, $3)`,
  },
  sessionByHash: {
    name: 'linkyard_session_by_hash',
    text: `SELECT s.key_name, k.role, s.expires_at FROM sessions s JOIN api_keys k ON k.name = s.key_name
           WHERE s.hash = $1 AND s.expires_at > $2`,
  },
  deleteSession: { name: 'linkyard_delete_session', text: 'DELETE FROM sessions WHERE hash = $1' },
  addBlockedHosts: {
    name: 'linkyard_add_blocked_hosts',
    text: `WITH added AS (
             INSERT INTO blocked_hosts (host, added_by) SELECT DISTINCT unnest($1::text[]), $2
             ON CONFLICT (host) DO NOTHING RETURNING host
           ), counted AS (SELECT count(*) AS n FROM added)
           INSERT INTO audit_log (actor, action, subject, detail)
           SELECT $2, 'blocklist.add', $3, CASE WHEN cardinality($1::text[]) = 1 THEN NULL ELSE n || ' new of ' || cardinality($1::text[]) END
           FROM counted WHERE n > 0
           RETURNING (SELECT n FROM counted) AS added`,
  },
  removeBlockedHost: {
    name: 'linkyard_remove_blocked_host',
    text: `WITH removed AS (DELETE FROM blocked_hosts WHERE host = $1 RETURNING host)
           INSERT INTO audit_log (actor, action, subject) SELECT $2, 'blocklist.remove', host FROM removed RETURNING id`,
  },
  listBlockedHosts: { name: 'linkyard_list_blocked_hosts', text: 'SELECT host, added_at, added_by FROM blocked_hosts ORDER BY host' },
  anyHostBlocked: { name: 'linkyard_any_host_blocked', text: 'SELECT 1 FROM blocked_hosts WHERE host = ANY ($1::text[]) LIMIT 1' },
  disable: {
    name: 'linkyard_disable_link',
    text: `WITH disabled AS (
             INSERT INTO disabled_links (bookmark_id, disabled_by) SELECT id, $2 FROM bookmarks WHERE name = $1
             ON CONFLICT (bookmark_id) DO NOTHING RETURNING bookmark_id
           )
           INSERT INTO audit_log (actor, action, subject) SELECT $2, 'bookmark.disable', $1 FROM disabled RETURNING id`,
  },
  enable: {
    name: 'linkyard_enable_link',
    text: `WITH enabled AS (
             DELETE FROM disabled_links WHERE bookmark_id = (SELECT id FROM bookmarks WHERE name = $1) RETURNING bookmark_id
           )
           INSERT INTO audit_log (actor, action, subject) SELECT $2, 'bookmark.enable', $1 FROM enabled RETURNING id`,
  },
  // One statement, so each process's refresh takes one pooled connection, not two.
  denials: {
    name: 'linkyard_denials',
    text: `SELECT true AS is_host, host AS value FROM blocked_hosts
           UNION ALL
           SELECT false, b.name FROM disabled_links d JOIN bookmarks b ON b.id = d.bookmark_id`,
  },
  audit: {
    name: 'linkyard_audit',
    text: 'INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, $2, $3, $4)',
  },
  firstAuditPage: { name: 'linkyard_first_audit_page', text: 'SELECT * FROM audit_log ORDER BY id DESC LIMIT $1' },
  olderAuditPage: { name: 'linkyard_older_audit_page', text: 'SELECT * FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2' },
} as const satisfies Record<string, { name: string; text: string }>;

interface KeyRow {
  name: string;
  role: Role;
  hash: string;
  created_at: Date;
  last_used_at: Date | null;
}

/** pg returns bigint ids as strings. */
interface AuditRow {
  id: string;
  at: Date;
  actor: string;
  action: AuditEntry['action'];
  subject: string;
  detail: string | null;
}

const toApiKey = (row: KeyRow): ApiKey => ({ name: row.name, role: row.role, createdAt: row.created_at, lastUsedAt: row.last_used_at });

export type Query = <R extends QueryResultRow>(query: QueryConfig) => Promise<QueryResult<R>>;

/** The AccessStore on the PostgresStore's pool; `query` is the store's, which turns an outage into StoreUnavailableError. */
export class PostgresAccessStore implements AccessStore {
  readonly #query: Query;

  constructor(query: Query) {
    this.#query = query;
  }

  async #rows<R extends QueryResultRow>(query: { name: string; text: string }, values: unknown[]): Promise<R[]> {
    return (await this.#query<R>({ ...query, values })).rows;
  }

  async createKey(key: NewKey, actor: string): Promise<'created' | 'taken'> {
    const rows = await this.#rows(SQL.createKey, [key.name, key.role, key.hash, actor]);
    return rows.length > 0 ? 'created' : 'taken';
  }

  async keyByHash(hash: string): Promise<StoredKey | undefined> {
    const [row] = await this.#rows<KeyRow>(SQL.keyByHash, [hash]);
    return row === undefined ? undefined : { ...toApiKey(row), hash: row.hash };
  }

  async listKeys(): Promise<ApiKey[]> {
    return (await this.#rows<KeyRow>(SQL.listKeys, [])).map(toApiKey);
  }

  async revokeKey(name: string, actor: string): Promise<boolean> {
    return (await this.#rows(SQL.revokeKey, [name, actor])).length > 0;
  }

  async touchKeys(lastUsed: ReadonlyMap<string, Date>): Promise<void> {
    if (lastUsed.size === 0) return;
    await this.#rows(SQL.touchKeys, [[...lastUsed.keys()], [...lastUsed.values()]]);
  }

  async createSession(session: NewSession): Promise<void> {
    await this.#rows(SQL.createSession, [session.hash, session.keyName, session.expiresAt]);
  }

  async sessionByHash(hash: string, now: Date): Promise<SessionOwner | undefined> {
    const [row] = await this.#rows<{ key_name: string; role: Role; expires_at: Date }>(SQL.sessionByHash, [hash, now]);
    return row === undefined ? undefined : { keyName: row.key_name, role: row.role, expiresAt: row.expires_at };
  }

  async deleteSession(hash: string): Promise<boolean> {
    const result = await this.#query({ ...SQL.deleteSession, values: [hash] });
    return (result.rowCount ?? 0) > 0;
  }

  async addBlockedHosts(hosts: readonly string[], actor: string, subject: string): Promise<number> {
    const [row] = await this.#rows<{ added: string }>(SQL.addBlockedHosts, [hosts, actor, subject]);
    return Number(row?.added ?? 0);
  }

  async removeBlockedHost(host: string, actor: string): Promise<boolean> {
    return (await this.#rows(SQL.removeBlockedHost, [host, actor])).length > 0;
  }

  async listBlockedHosts(): Promise<BlockedHost[]> {
    const rows = await this.#rows<{ host: string; added_at: Date; added_by: string }>(SQL.listBlockedHosts, []);
    return rows.map((row) => ({ host: row.host, addedAt: row.added_at, addedBy: row.added_by }));
  }

  async anyHostBlocked(hosts: readonly string[]): Promise<boolean> {
    if (hosts.length === 0) return false;
    return (await this.#rows(SQL.anyHostBlocked, [hosts])).length > 0;
  }

  async setLinkDisabled(name: string, disabled: boolean, actor: string): Promise<boolean> {
    return (await this.#rows(disabled ? SQL.disable : SQL.enable, [name, actor])).length > 0;
  }

  async denials(): Promise<Denials> {
    const rows = await this.#rows<{ is_host: boolean; value: string }>(SQL.denials, []);
    const denials: Denials = { hosts: [], disabledNames: [] };
    for (const row of rows) (row.is_host ? denials.hosts : denials.disabledNames).push(row.value);
    return denials;
  }

  async audit(entry: Omit<AuditEntry, 'at'>): Promise<void> {
    await this.#rows(SQL.audit, [entry.actor, entry.action, entry.subject, entry.detail]);
  }

  async listAudit({ limit, cursor }: { limit: number; cursor?: string | undefined }): Promise<AuditPage> {
    checkLimit(limit);
    const rows =
      cursor === undefined
        ? await this.#rows<AuditRow>(SQL.firstAuditPage, [limit + 1])
        : await this.#rows<AuditRow>(SQL.olderAuditPage, [decodeCursor(cursor), limit + 1]);
    return toPage(
      rows,
      limit,
      (row) => Number(row.id),
      (row): AuditEntry => ({ at: row.at, actor: row.actor, action: row.action, subject: row.subject, detail: row.detail }),
    );
  }
}
