import type { QueryConfig, QueryResult, QueryResultRow } from 'pg';
import type { AccessStore, ApiKey, AuditEntry, AuditPage, NewKey, NewSession, Role, SessionOwner, StoredKey } from './access-types.ts';
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
