import { randomInt } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { CheckResult, UriChecker } from '../check/types.ts';
import { DomainError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { Visit } from '../stats/rollups.ts';
import { type Bookmark, type BookmarkPage, type BookmarkStore, InvalidCursorError } from '../store/types.ts';
import type { VisitCounter } from '../visits.ts';
import { validateName, validateUri } from './validation.ts';

export interface CreateRequest {
  uri: string;
  /** Absent or empty: a name is generated. */
  name?: string | undefined;
}

export interface CreateResult {
  bookmark: Bookmark;
  /** False when the same name already pointed at the same URI (an idempotent repeat). */
  created: boolean;
}

const GENERATED_ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const GENERATED_LENGTH = 7;
const GENERATED_ATTEMPTS = 5;
/** Names kept for redirects: the busy ones, and a bound on the memory they take. */
const RECENT_NAMES = 10_000;

function generateName(): string {
  let name = '';
  for (let i = 0; i < GENERATED_LENGTH; i++) name += GENERATED_ALPHABET[randomInt(GENERATED_ALPHABET.length)];
  return name;
}

/** The seed's answer to a long URI it cannot fetch, with the reason a person can act on. */
export function couldNotFetch(uri: string, reason: string): DomainError {
  return new DomainError('URI_UNREACHABLE', `Couldn't fetch URI '${uri}'. Sorry! (${reason})`);
}

/** The rules of the service, shared by the HTML form and the JSON API. */
export class BookmarkService {
  readonly #store: BookmarkStore;
  readonly #checker: UriChecker;
  readonly #visits: VisitCounter;
  readonly #metrics: Metrics;
  /**
   * Names resolved in the last `redirectCacheMs`. Only names that exist: a bookmark just created
   * on another process must redirect at once, and a name never changes its URI (a different one
   * is refused as taken), so only a delete can make an entry stale, for at most the TTL.
   */
  readonly #recent: LRUCache<string, string> | undefined;

  constructor(deps: { store: BookmarkStore; checker: UriChecker; visits: VisitCounter; metrics: Metrics; redirectCacheMs: number }) {
    this.#store = deps.store;
    this.#checker = deps.checker;
    this.#visits = deps.visits;
    this.#metrics = deps.metrics;
    this.#recent = deps.redirectCacheMs > 0 ? new LRUCache({ max: RECENT_NAMES, ttl: deps.redirectCacheMs }) : undefined;
  }

  async create(request: CreateRequest, signal?: AbortSignal): Promise<CreateResult> {
    const uri = validateUri(request.uri);
    const wanted = request.name === undefined || request.name === '' ? undefined : validateName(request.name);

    if (wanted !== undefined) {
      // Answer a repeat or a taken name before spending a fetch on it; the unique index still
      // decides a race that starts after this read.
      const existing = await this.#store.get(wanted);
      if (existing) return this.#settleExisting(existing, uri);
    }

    const check = await this.#check(uri, signal);
    const fields = { uri, title: check.title, checkStatus: check.status };

    if (wanted !== undefined) {
      const outcome = await this.#store.create({ name: wanted, ...fields });
      if (outcome.kind === 'created') return { bookmark: outcome.bookmark, created: true };
      return this.#settleExisting(outcome.kind === 'exists' ? outcome.bookmark : outcome.existing, uri);
    }
    for (let attempt = 0; attempt < GENERATED_ATTEMPTS; attempt++) {
      const outcome = await this.#store.create({ name: generateName(), ...fields });
      if (outcome.kind === 'created') return { bookmark: outcome.bookmark, created: true };
    }
    throw new DomainError('NAMES_EXHAUSTED', 'Could not find a free short name; please pick one yourself.', {
      retryAfter: 1,
    });
  }

  /**
   * The redirect's hot path: a name resolved lately, from memory and without a promise (most
   * redirects), the visit counted in memory. Undefined when it is not in memory: then
   * `resolveStored`.
   */
  resolveRecent(name: string, visit: Visit | null | undefined): string | undefined {
    const uri = this.#recent?.get(name);
    if (uri !== undefined && visit !== null) this.#visits.record(name, visit);
    return uri;
  }

  /**
   * A name `resolveRecent` did not have: one indexed read, then remembered; the visit counted in
   * memory. `visit`: null for a request that is no visit (HEAD, prefetch), see stats/visit.ts.
   */
  async resolveStored(name: string, visit: Visit | null | undefined): Promise<string | undefined> {
    const uri = await this.#store.resolve(name);
    if (uri !== undefined) {
      this.#recent?.set(name, uri);
      if (visit !== null) this.#visits.record(name, visit);
    }
    return uri;
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

  async delete(name: string): Promise<boolean> {
    const deleted = await this.#store.delete(name);
    // After the delete: a redirect read from the store before it committed cannot put it back.
    this.#recent?.delete(name);
    return deleted;
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
