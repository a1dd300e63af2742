import { LRUCache } from 'lru-cache';
import { DomainError } from '../errors.ts';
import type { AccessStore, Role } from '../store/access-types.ts';
import { hashSecret, KEY_PATTERN, sameHash } from './keys.ts';
import { readSessionCookie } from './session-cookie.ts';

/** Who a request acts as: a key (by name and role), or API_TOKEN, an admin. */
export interface Principal {
  name: string;
  role: Role;
}

/** The operator's API_TOKEN acts as an admin under this name, so no deployment broke when keys came. */
export const API_TOKEN_PRINCIPAL: Principal = { name: 'API_TOKEN', role: 'admin' };

/** Distinct keys and sessions remembered per process; an attacker's random guesses evict only each other. */
const REMEMBERED = 10_000;
/** last_used_at is written at most this often per key (decision 0020). */
export const LAST_USED_EVERY_MS = 60_000;

/**
 * Finds who a bearer key or a session cookie belongs to. Each lookup (found or not) is kept for
 * `keyCacheMs`, so a key revoked or a session ended on any process stops working on this one
 * within that bound, and a busy client costs no store read per request. Last-used times are noted
 * in memory and written in one batch by `flushUsage`, at most once a minute per key.
 */
export class Authenticator {
  readonly #access: AccessStore;
  readonly #apiTokenHash: string | undefined;
  readonly #keys: LRUCache<string, Principal | false> | undefined;
  readonly #sessions: LRUCache<string, Principal | false> | undefined;
  #usage = new Map<string, Date>();
  readonly #lastNoted = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;
  readonly #onError: (error: unknown) => void;

  constructor(deps: { access: AccessStore; apiToken: string | undefined; keyCacheMs: number; onError: (error: unknown) => void }) {
    this.#access = deps.access;
    this.#apiTokenHash = deps.apiToken === undefined ? undefined : hashSecret(deps.apiToken);
    const cache = () =>
      deps.keyCacheMs > 0 ? new LRUCache<string, Principal | false>({ max: REMEMBERED, ttl: deps.keyCacheMs }) : undefined;
    this.#keys = cache();
    this.#sessions = cache();
    this.#onError = deps.onError;
    this.#timer = setInterval(() => void this.flushUsage(), 10_000);
    this.#timer.unref();
  }

  /**
   * The principal of an `Authorization` header; undefined when there is none. A header that is
   * present but not a live key (malformed, unknown, revoked) is refused: 401 with `WWW-Authenticate: Bearer`.
   */
  async fromAuthorization(header: string | undefined): Promise<Principal | undefined> {
    if (header === undefined) return undefined;
    const key = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : '';
    const hash = hashSecret(key);
    if (this.#apiTokenHash !== undefined && sameHash(hash, this.#apiTokenHash)) return API_TOKEN_PRINCIPAL;
    if (!KEY_PATTERN.test(key))
      throw new DomainError('UNAUTHORIZED', 'That is not an API key: a key starts with lyk_ and is 47 characters long.');
    const principal = await this.keyPrincipal(hash);
    if (principal === undefined) throw new DomainError('UNAUTHORIZED', 'That API key is not valid (unknown or revoked).');
    return principal;
  }

  /** The key with this SHA-256, or undefined; the stored hash compared in constant time. */
  async keyPrincipal(hash: string): Promise<Principal | undefined> {
    let principal = this.#keys?.get(hash);
    if (principal === undefined) {
      const stored = await this.#access.keyByHash(hash);
      principal = stored !== undefined && sameHash(stored.hash, hash) ? { name: stored.name, role: stored.role } : false;
      this.#keys?.set(hash, principal);
    }
    if (principal === false) return undefined;
    this.#noteUse(principal.name);
    return principal;
  }

  /** The session's key, when the session is live and its key not revoked. */
  async sessionPrincipal(sessionId: string): Promise<Principal | undefined> {
    const hash = hashSecret(sessionId);
    let principal = this.#sessions?.get(hash);
    if (principal === undefined) {
      const owner = await this.#access.sessionByHash(hash, new Date());
      principal = owner === undefined ? false : { name: owner.keyName, role: owner.role };
      this.#sessions?.set(hash, principal);
    }
    if (principal === false) return undefined;
    this.#noteUse(principal.name);
    return principal;
  }

  /** The page's signed-in person, from the request's Cookie header; undefined when signed out. */
  async fromCookie(header: string | undefined): Promise<Principal | undefined> {
    const sessionId = readSessionCookie(header);
    return sessionId === undefined ? undefined : this.sessionPrincipal(sessionId);
  }

  /** Forgets a session here at once (sign-out); other processes within keyCacheMs. */
  forgetSession(sessionId: string): void {
    this.#sessions?.delete(hashSecret(sessionId));
  }

  #noteUse(name: string): void {
    if (name === API_TOKEN_PRINCIPAL.name) return;
    const now = Date.now();
    if (now - (this.#lastNoted.get(name) ?? 0) < LAST_USED_EVERY_MS) return;
    this.#lastNoted.set(name, now);
    this.#usage.set(name, new Date(now));
  }

  async flushUsage(): Promise<void> {
    if (this.#usage.size === 0) return;
    const batch = this.#usage;
    this.#usage = new Map();
    try {
      await this.#access.touchKeys(batch);
    } catch (error) {
      // Last-used is a hint: a failed batch is dropped, never retried into the hot path.
      this.#onError(error);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flushUsage();
  }
}
