import { randomInt } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Principal } from '../auth/principal.ts';
import type { CheckResult, UriChecker } from '../check/types.ts';
import { DomainError } from '../errors.ts';
import type { Metrics, RedirectCacheCounts } from '../metrics.ts';
import type { Visit } from '../stats/rollups.ts';
import {
  type Bookmark,
  type BookmarkChanges,
  type BookmarkPage,
  type BookmarkStore,
  InvalidCursorError,
  type LinkOptions,
  type RedirectTarget,
  SEARCH_BUDGET_MS,
  SearchIndexingError,
  type SearchPage,
} from '../store/types.ts';
import type { VisitCounter } from '../visits.ts';
import { type Denylist, hostAndParents, normalizeHost } from './blocklist.ts';
import { withForwardedQuery } from './forward-query.ts';
import { type LinkOptionsInput, parseLinkOptions } from './link-options.ts';
import { validateName, validateUri } from './validation.ts';

/** What a new link is checked on before anything is fetched or written (validateNewLink): the create's and the import's. */
export interface NewLinkInput extends LinkOptionsInput {
  uri: string;
  /** Absent or empty: none given (a create generates one). */
  name?: string | undefined;
}

export interface CreateRequest extends NewLinkInput {
  /** Who asks: a key's name, `form` or `anonymous`; recorded as the link's author and in the audit trail. */
  createdBy: string;
}

/** An edit: any subset; absent fields stay as they are. */
export interface EditRequest extends LinkOptionsInput {
  uri?: string | undefined;
  /** A title of one's own; null clears it. Without it, a new target takes the title its check found. */
  title?: string | null | undefined;
}

/** The shortest search: the indexes work on trigrams. */
export const MIN_SEARCH_LENGTH = 3;

/** Titles are shown in one line of the list. */
export const MAX_TITLE_LENGTH = 500;

export interface CreateResult {
  bookmark: Bookmark;
  /** False when the same name already pointed at the same URI (an idempotent repeat). */
  created: boolean;
}

const GENERATED_ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const GENERATED_LENGTH = 7;
const GENERATED_ATTEMPTS = 5;
/** What resolveStored answers for a link that exists but must not redirect: disabled, or to a blocked host (410). */
export const GONE: unique symbol = Symbol('gone');

/** What resolveStored and resolveRecent answer for a link past its date or its visits (410, LINK_EXPIRED). */
export const EXPIRED: unique symbol = Symbol('expired');

/** What resolveRecent answers when the name must be read with resolveStored (a store whose reads return promises). */
export const STORED: unique symbol = Symbol('stored');

/** A redirect's answer: the URI to send the client to, GONE, EXPIRED, or undefined for an unknown name (404). */
export type Resolved = string | typeof GONE | typeof EXPIRED | undefined;

/**
 * Whether a link is past its date, or its visits (as written, plus those this process has not
 * written yet) reached its limit. Visits other processes counted since their last flush are not
 * seen: that is the overshoot bound in docs/links.md.
 */
export function isExpired(target: Pick<RedirectTarget, 'expiresAt' | 'maxVisits' | 'visits'>, unwritten: number, now: number): boolean {
  if (target.expiresAt !== null && now >= target.expiresAt) return true;
  return target.maxVisits !== null && target.visits + unwritten >= target.maxVisits;
}

function generateName(): string {
  let name = '';
  for (let i = 0; i < GENERATED_LENGTH; i++) name += GENERATED_ALPHABET[randomInt(GENERATED_ALPHABET.length)];
  return name;
}

/** The seed's answer to a long URI it cannot fetch, with the reason a person can act on. */
export function couldNotFetch(uri: string, reason: string): DomainError {
  return new DomainError('URI_UNREACHABLE', `Couldn't fetch URI '${uri}'. Sorry! (${reason})`);
}

/**
 * The name and URI rules and the expiry and forwarding options of a new link: the URI in its
 * normalised form, the name if one was given. Expiry dates up to `now` are refused; the import of
 * an export passes -Infinity, since a link keeps a date that has passed (and answers 410 as before).
 */
export function validateNewLink(input: NewLinkInput, now: number): { uri: string; name: string | undefined; options: LinkOptions } {
  const uri = validateUri(input.uri);
  const name = input.name === undefined || input.name === '' ? undefined : validateName(input.name);
  return { uri, name, options: parseLinkOptions(input, now) };
}

/** The refusal of a link to a host on the blocklist (or under one). */
export function hostBlocked(uri: string): DomainError {
  return new DomainError(
    'HOST_BLOCKED',
    `Links to ${new URL(uri).hostname} are not accepted here: the host is on this server's blocklist.`,
  );
}

/** Admin-only actions: FORBIDDEN for an author. */
export function requireAdmin(principal: Principal, what: string): void {
  if (principal.role !== 'admin') throw new DomainError('FORBIDDEN', `Only an admin key may ${what}.`);
}

/** The rules of the service, shared by the HTML form and the JSON API. */
export class BookmarkService {
  readonly #store: BookmarkStore;
  readonly #checker: UriChecker;
  readonly #visits: VisitCounter;
  readonly #metrics: Metrics;
  /**
   * Names resolved in the last `redirectCacheMs`. Only names that exist: a bookmark just created
   * on another process must redirect at once, so only a delete or an edit elsewhere can make an
   * entry stale, for at most the TTL. A change
   * of the Denylist (a link disabled, a host blocked) empties it: see forgetRecent.
   */
  readonly #recent: LRUCache<string, RedirectTarget> | undefined;
  readonly #onAuditError: (error: unknown) => void;
  readonly #denylist: Denylist | undefined;
  readonly #searchBudgetMs: number;
  /** Store reads of names in flight, so that concurrent misses of one name share one read. */
  readonly #reading = new Map<string, Promise<RedirectTarget | undefined>>();
  /** The metrics' own object, held directly: the hot path increments a number and nothing else. */
  readonly #cacheCounts: RedirectCacheCounts;

  constructor(deps: {
    /** Absent: nothing is refused at redirect (tests of other parts). */
    denylist?: Denylist;
    store: BookmarkStore;
    checker: UriChecker;
    visits: VisitCounter;
    metrics: Metrics;
    redirectCacheMs: number;
    onAuditError?: (error: unknown) => void;
    /** Names kept for redirects: the busy ones, and a bound on the memory they take. */
    redirectCacheNames: number;
    /** SearchOptions.budgetMs; default SEARCH_BUDGET_MS. */
    searchBudgetMs?: number;
  }) {
    this.#store = deps.store;
    this.#onAuditError = deps.onAuditError ?? (() => {});
    this.#denylist = deps.denylist;
    this.#checker = deps.checker;
    this.#visits = deps.visits;
    this.#metrics = deps.metrics;
    this.#cacheCounts = deps.metrics.redirectCache;
    this.#searchBudgetMs = deps.searchBudgetMs ?? SEARCH_BUDGET_MS;
    this.#recent = deps.redirectCacheMs > 0 ? new LRUCache({ max: deps.redirectCacheNames, ttl: deps.redirectCacheMs }) : undefined;
  }

  async create(request: CreateRequest, signal?: AbortSignal): Promise<CreateResult> {
    const { uri, name: wanted, options } = validateNewLink(request, Date.now());
    await this.#refuseBlocked(uri);

    if (wanted !== undefined) {
      // Answer a repeat or a taken name before spending a fetch on it; the unique index still
      // decides a race that starts after this read.
      const existing = await this.#store.get(wanted);
      if (existing) return this.#settleExisting(existing, uri);
    }

    const check = await this.#check(uri, signal);
    const fields = { ...options, uri, title: check.title, checkStatus: check.status, createdBy: request.createdBy };

    if (wanted !== undefined) {
      const outcome = await this.#store.create({ name: wanted, ...fields });
      if (outcome.kind === 'created') return this.#created(outcome.bookmark);
      return this.#settleExisting(outcome.kind === 'exists' ? outcome.bookmark : outcome.existing, uri);
    }
    for (let attempt = 0; attempt < GENERATED_ATTEMPTS; attempt++) {
      const outcome = await this.#store.create({ name: generateName(), ...fields });
      if (outcome.kind === 'created') return this.#created(outcome.bookmark);
    }
    throw new DomainError('NAMES_EXHAUSTED', 'Could not find a free short name; please pick one yourself.', {
      retryAfter: 1,
    });
  }

  /**
   * The redirect's hot path, answered in this call and without a promise: a name resolved lately,
   * from memory (most redirects), or, with a store that reads synchronously (SQLite), a miss read
   * from it at once. STORED when the answer needs a read that returns a promise: then
   * `resolveStored`. The visit is counted in memory. Links with a visit limit are never in memory
   * (see resolveStored). `query`: the request's query string (without `?`), forwarded when the
   * link says so.
   */
  resolveRecent(name: string, visit: Visit | null | undefined, query?: string): Resolved | typeof STORED {
    const target = this.#recent?.get(name);
    if (target === undefined) {
      this.#cacheCounts.misses++;
      if (this.#store.resolveTargetNow === undefined) return STORED;
      return this.#settle(name, this.#store.resolveTargetNow(name), visit, query);
    }
    this.#cacheCounts.hits++;
    if (target.expiresAt !== null && Date.now() >= target.expiresAt) return EXPIRED;
    if (visit !== null) this.#visits.record(name, visit);
    return query === undefined || !target.forwardQuery ? target.uri : withForwardedQuery(target.uri, query);
  }

  /**
   * A name `resolveRecent` did not have: one indexed read, then remembered; the visit counted in
   * memory. GONE (not remembered, not counted) for a link the Denylist refuses, EXPIRED for one
   * past its date or visits. A link with a visit limit is read from the store every time, so a
   * process sees the others' visits as soon as they are flushed rather than REDIRECT_CACHE_MS later.
   * Requests for a name already being read wait for that read: with PostgreSQL, a busy name whose
   * entry expired was otherwise read once per request arriving during the round trip, and with
   * thousands of clients as many identical reads queued for the pool's connections
   * (docs/decisions/0021-scale.md). `visit`: null for a request that is no visit (HEAD, prefetch),
   * see stats/visit.ts.
   */
  async resolveStored(name: string, visit: Visit | null | undefined, query?: string): Promise<Resolved> {
    let read = this.#reading.get(name);
    if (read === undefined) {
      const started = this.#store.resolveTarget(name);
      read = started;
      this.#reading.set(name, started);
      const forget = (): void => {
        if (this.#reading.get(name) === started) this.#reading.delete(name);
      };
      started.then(forget, forget);
    }
    return this.#settle(name, await read, visit, query);
  }

  /** What a target read from the store answers, remembered and counted as resolveStored says. */
  #settle(name: string, target: RedirectTarget | undefined, visit: Visit | null | undefined, query: string | undefined): Resolved {
    if (target === undefined) return undefined;
    if (this.#denylist?.denies(name, target.uri) === true) return GONE;
    // Checked and recorded in one turn: concurrent redirects on this process cannot overshoot.
    if (isExpired(target, this.#visits.pendingFor(name), Date.now())) return EXPIRED;
    if (target.maxVisits === null) this.#recent?.set(name, target);
    if (visit !== null) this.#visits.record(name, visit);
    return query === undefined || !target.forwardQuery ? target.uri : withForwardedQuery(target.uri, query);
  }

  get(name: string): Promise<Bookmark | undefined> {
    return this.#store.get(name);
  }

  async list(limit: number, cursor?: string): Promise<BookmarkPage> {
    try {
      return await this.#store.list({ limit, cursor });
    } catch (error) {
      if (error instanceof InvalidCursorError) {
        throw new DomainError('INVALID_CURSOR', 'That page link is not valid (the cursor is malformed).', { cause: error });
      }
      throw error;
    }
  }

  /**
   * Links whose name, target or title contain `query` (3 characters or more: the index works on
   * trigrams), newest first. 503 SEARCH_INDEXING with Retry-After while the index is being built:
   * a scan of a large table instead would be unbounded (docs/decisions/0022-search-index.md). A
   * page may be `partial`: the search's work is bounded (docs/decisions/0029-search-within-a-budget.md).
   */
  async search(query: string, limit: number, cursor?: string): Promise<SearchPage> {
    const text = query.trim();
    if ([...text].length < MIN_SEARCH_LENGTH) {
      throw new DomainError('QUERY_TOO_SHORT', `Search for ${MIN_SEARCH_LENGTH} characters or more.`);
    }
    try {
      return await this.#store.search({ query: text, limit, cursor, budgetMs: this.#searchBudgetMs });
    } catch (error) {
      if (error instanceof SearchIndexingError) {
        throw new DomainError('SEARCH_INDEXING', 'Search is being prepared for this server; please try again shortly.', {
          retryAfter: 30,
          cause: error,
        });
      }
      if (error instanceof InvalidCursorError) {
        throw new DomainError('INVALID_CURSOR', 'That page link is not valid (the cursor is malformed).', { cause: error });
      }
      throw error;
    }
  }

  /** Whether `principal` may change this link: an admin any, an author the links it created. */
  static mayChange(principal: Principal | undefined, bookmark: Bookmark): boolean {
    return principal !== undefined && (principal.role === 'admin' || bookmark.createdBy === principal.name);
  }

  /** Deletes as `principal`: NOT_FOUND for an unknown name, FORBIDDEN for another author's link. */
  async delete(name: string, principal: Principal): Promise<void> {
    const bookmark = await this.#store.get(name);
    if (bookmark === undefined) throw new DomainError('NOT_FOUND', `I don't know '${name}'.`);
    if (!BookmarkService.mayChange(principal, bookmark)) {
      throw new DomainError('FORBIDDEN', `'${name}' was created by someone else; an author key may delete only its own links.`);
    }
    const deleted = await this.#store.delete(name);
    // After the delete: a redirect read from the store before it committed cannot put it back.
    this.#recent?.delete(name);
    if (!deleted) throw new DomainError('NOT_FOUND', `I don't know '${name}'.`);
    await this.#audit({ actor: principal.name, action: 'bookmark.delete', subject: name, detail: bookmark.uri });
  }

  /**
   * Edits as `principal` (NOT_FOUND, FORBIDDEN as for delete). A new target is checked as a new
   * link is (the URI rules, the blocklist, a fetch) before anything is written; the row stays, so
   * the name keeps its visits. Other processes follow within REDIRECT_CACHE_MS, as after a delete.
   */
  async edit(name: string, request: EditRequest, principal: Principal, signal?: AbortSignal): Promise<Bookmark> {
    const uri = request.uri === undefined ? undefined : validateUri(request.uri);
    const title = request.title === undefined || request.title === null ? request.title : request.title.trim() || null;
    if (title !== undefined && title !== null && title.length > MAX_TITLE_LENGTH) {
      throw new DomainError('INVALID_TITLE', `A title may be at most ${MAX_TITLE_LENGTH} characters.`);
    }
    const options = parseLinkOptions(request, Date.now());
    const existing = await this.#store.get(name);
    if (existing === undefined) throw new DomainError('NOT_FOUND', `I don't know '${name}'.`);
    if (!BookmarkService.mayChange(principal, existing)) {
      throw new DomainError('FORBIDDEN', `'${name}' was created by someone else; an author key may edit only its own links.`);
    }
    const changes: BookmarkChanges = { ...options };
    if (uri !== undefined && uri !== existing.uri) {
      await this.#refuseBlocked(uri);
      const check = await this.#check(uri, signal);
      Object.assign(changes, { uri, title: check.title, checkStatus: check.status });
    }
    if (title !== undefined) changes.title = title;
    if (Object.keys(changes).length === 0) return existing;
    const outcome = await this.#store.update(name, changes);
    // After the write: a redirect read from the store before it committed cannot put the old target back.
    this.#recent?.delete(name);
    if (outcome === undefined) throw new DomainError('NOT_FOUND', `I don't know '${name}'.`);
    const { bookmark, previousUri } = outcome;
    const what = [
      previousUri === bookmark.uri ? undefined : `${previousUri} → ${bookmark.uri}`,
      existing.title === bookmark.title ? undefined : `title: ${JSON.stringify(existing.title)} → ${JSON.stringify(bookmark.title)}`,
      existing.expiresAt?.getTime() === bookmark.expiresAt?.getTime()
        ? undefined
        : `expires: ${existing.expiresAt?.toISOString() ?? 'never'} → ${bookmark.expiresAt?.toISOString() ?? 'never'}`,
      existing.maxVisits === bookmark.maxVisits
        ? undefined
        : `max visits: ${existing.maxVisits ?? 'none'} → ${bookmark.maxVisits ?? 'none'}`,
      existing.forwardQuery === bookmark.forwardQuery ? undefined : `forward query: ${existing.forwardQuery} → ${bookmark.forwardQuery}`,
    ].filter((part) => part !== undefined);
    await this.#audit({ actor: principal.name, action: 'bookmark.edit', subject: name, detail: what.join('; ') || null });
    return bookmark;
  }

  /** The Denylist changed: names remembered for redirects may now be refused. */
  forgetRecent(): void {
    this.#recent?.clear();
  }

  /** An admin disables (410 at redirect, kept and listed) or enables a link. */
  async setDisabled(name: string, disabled: boolean, principal: Principal): Promise<void> {
    requireAdmin(principal, disabled ? 'disable links' : 'enable links');
    if ((await this.#store.get(name)) === undefined) throw new DomainError('NOT_FOUND', `I don't know '${name}'.`);
    if (await this.#store.access.setLinkDisabled(name, disabled, principal.name)) await this.#denylist?.refresh();
    this.#recent?.delete(name);
  }

  /** Adds hosts to the blocklist (every entry checked first: none is added if one is not a host); how many were new. */
  async blockHosts(entries: readonly string[], actor: string, subject?: string): Promise<number> {
    const hosts = [...new Set(entries.map(normalizeHost))];
    if (hosts.length === 0) return 0;
    const added = await this.#store.access.addBlockedHosts(hosts, actor, subject ?? hosts.join(', '));
    if (added > 0) await this.#denylist?.refresh();
    return added;
  }

  async unblockHost(entry: string, actor: string): Promise<boolean> {
    const removed = await this.#store.access.removeBlockedHost(normalizeHost(entry), actor);
    if (removed) await this.#denylist?.refresh();
    return removed;
  }

  async #created(bookmark: Bookmark): Promise<CreateResult> {
    await this.#audit({
      actor: bookmark.createdBy ?? 'anonymous',
      action: 'bookmark.create',
      subject: bookmark.name,
      detail: bookmark.uri,
    });
    return { bookmark, created: true };
  }

  /**
   * After the change it records: a failure here is logged, not answered, since the change is
   * made. (The key commands write theirs in the change's own transaction.)
   */
  async #audit(entry: Parameters<BookmarkStore['access']['audit']>[0]): Promise<void> {
    try {
      await this.#store.access.audit(entry);
    } catch (error) {
      this.#onAuditError(error);
    }
  }

  /** The store, not the memory of the Denylist: a host listed a moment ago is refused at once. */
  async #refuseBlocked(uri: string): Promise<void> {
    if (await this.#store.access.anyHostBlocked(hostAndParents(uri))) throw hostBlocked(uri);
  }

  #settleExisting(existing: Bookmark, uri: string): CreateResult {
    if (existing.uri === uri) return { bookmark: existing, created: false };
    throw new DomainError('NAME_TAKEN', `The short name '${existing.name}' is already taken (it points to ${existing.uri}).`);
  }

  async #check(uri: string, signal: AbortSignal | undefined): Promise<{ title: string | null; status: number }> {
    let result: CheckResult;
    try {
      result = await this.#checker.check(uri, signal);
    } catch (error) {
      if (error instanceof DomainError) this.#metrics.checks.inc({ outcome: 'queue_full' });
      throw error;
    }
    if (!result.ok) {
      this.#metrics.checks.inc({ outcome: result.reason });
      throw couldNotFetch(uri, result.detail);
    }
    this.#metrics.checks.inc({ outcome: result.warning ? 'accepted_with_warning' : 'accepted' });
    return { title: result.title, status: result.status };
  }
}
