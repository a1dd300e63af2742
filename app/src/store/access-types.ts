/**
 * Who may do what: API keys, the sessions signed in with them, and the audit trail of changes.
 * Both engines implement AccessStore next to their BookmarkStore (`store.access`), on the same
 * connection and schema; the store contract suite runs the same tests against both.
 */

export const ROLES = ['admin', 'author'] as const;
/** `admin`: every link, keys, blocklist, audit. `author`: creates, and changes only its own links. */
export type Role = (typeof ROLES)[number];

export interface ApiKey {
  /** Unique; what links and the audit trail record as their author. */
  name: string;
  role: Role;
  createdAt: Date;
  /** Written at most once a minute per key (KeyUsage), so it may lag by that much. */
  lastUsedAt: Date | null;
}

/** A key as found by its hash, for the caller to compare in constant time. */
export interface StoredKey extends ApiKey {
  /** SHA-256 of the key, hex. */
  hash: string;
}

export interface NewKey {
  name: string;
  role: Role;
  hash: string;
}

export interface NewSession {
  /** SHA-256 of the cookie's random id, hex. */
  hash: string;
  keyName: string;
  expiresAt: Date;
}

/** A live session: not expired, and its key not revoked. */
export interface SessionOwner {
  keyName: string;
  role: Role;
  expiresAt: Date;
}

export const AUDIT_ACTIONS = [
  'key.create',
  'key.revoke',
  'bookmark.create',
  'bookmark.edit',
  'bookmark.delete',
  'bookmark.disable',
  'bookmark.enable',
  'blocklist.add',
  'blocklist.remove',
  'links.export',
  'links.import',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEntry {
  at: Date;
  /** A key's name, `form` (the anonymous public form), `command` (the CLI) or `API_TOKEN`. */
  actor: string;
  action: AuditAction;
  /** What was acted on: a link's or key's name, a host. */
  subject: string;
  /** Anything else worth keeping (a link's target, a key's role), or null. */
  detail: string | null;
}

export interface AuditPage {
  items: AuditEntry[];
  nextCursor: string | null;
}

export interface BlockedHost {
  host: string;
  addedAt: Date;
  addedBy: string;
}

/** What redirects must refuse (410), read by every process every BLOCKLIST_REFRESH_MS. */
export interface Denials {
  hosts: string[];
  /** Names of links an admin disabled. */
  disabledNames: string[];
}

export interface AccessStore {
  /** Adds the key and its audit entry in one transaction; `taken` when the name exists (nothing written). */
  createKey(key: NewKey, actor: string): Promise<'created' | 'taken'>;
  keyByHash(hash: string): Promise<StoredKey | undefined>;
  /** Oldest first. */
  listKeys(): Promise<ApiKey[]>;
  /** Deletes the key, its sessions, and writes the audit entry, in one transaction; false for an unknown name. */
  revokeKey(name: string, actor: string): Promise<boolean>;
  /** Sets last-used times (batched by KeyUsage); a time older than the stored one is ignored. */
  touchKeys(lastUsed: ReadonlyMap<string, Date>): Promise<void>;

  /** Also removes sessions that have expired, so the table does not grow. */
  createSession(session: NewSession): Promise<void>;
  /** The session's key, if the session is live and its key not revoked. */
  sessionByHash(hash: string, now: Date): Promise<SessionOwner | undefined>;
  deleteSession(hash: string): Promise<boolean>;

  /**
   * Adds hosts not listed yet, with one audit entry, in one transaction; returns how many were
   * new. `subject` names them in the audit trail (the host, or "N hosts from FILE").
   */
  addBlockedHosts(hosts: readonly string[], actor: string, subject: string): Promise<number>;
  /** Removes a host and writes the audit entry, in one transaction; false when it was not listed. */
  removeBlockedHost(host: string, actor: string): Promise<boolean>;
  /** Sorted by host. */
  listBlockedHosts(): Promise<BlockedHost[]>;
  /** Whether any of `hosts` (a link's host and its parent domains) is listed. */
  anyHostBlocked(hosts: readonly string[]): Promise<boolean>;
  /** Disables or enables a link (410 at redirect), with its audit entry; false for an unknown name or no change. */
  setLinkDisabled(name: string, disabled: boolean, actor: string): Promise<boolean>;
  denials(): Promise<Denials>;

  audit(entry: Omit<AuditEntry, 'at'>): Promise<void>;
  /** Newest first, keyset-paginated like the bookmark list. */
  listAudit(options: { limit: number; cursor?: string | undefined }): Promise<AuditPage>;
}
