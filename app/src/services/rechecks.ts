import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CheckResult, UriChecker } from '../check/types.ts';
import type { RecheckConfig } from '../config.ts';
import { DomainError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { Bookmark, BookmarkStore, RecheckCandidate, RecheckOutcome } from '../store/types.ts';

/** Failed re-checks in a row before a link is flagged: one may be a blip of the target or of the network. */
export const FAILURES_TO_FLAG = 2;

/** Since when a link's target has been unreachable, once it is flagged; null while it is not. Never a reason to delete it. */
export function unreachableSince(bookmark: Pick<Bookmark, 'checkFailures' | 'failingSince'>): Date | null {
  return bookmark.checkFailures >= FAILURES_TO_FLAG ? bookmark.failingSince : null;
}

export const RECHECK_LEASE = 'rechecks';
/** Unless renewed, the lease ends this long after it was taken: a holder that died is replaced within it. */
export const LEASE_MS = 60_000;
/** The holder renews once this much of it has passed. */
const RENEW_AFTER_MS = LEASE_MS / 3;
/** How often a process without the lease asks for it. */
const ASK_EVERY_MS = LEASE_MS / 2;
/** Links read per query: the index hands over the oldest this many. */
const BATCH = 20;
/** Re-checks running at once at most: the pool's other slots stay free for the links people create. */
const IN_FLIGHT = 4;
/** Between steps of preparing the pick's index (as the search index's, search-indexer.ts). */
const PAUSE_BETWEEN_INDEX_STEPS_MS = 50;
/** After the store failed (it is away): tried again this much later. */
const RETRY_AFTER_FAILURE_MS = 30_000;

/**
 * Fetches links' targets again in the background, through the same check pool as a create (the
 * same address policy, deadlines and robots' statuses), and records each result: a target that
 * fails FAILURES_TO_FLAG times in a row is flagged "unreachable since", never deleted, and it
 * still redirects. One process of the stack does this at a time, the one holding the store's
 * lease (renewed while it works, given up on close, expiring if its holder dies); it picks the
 * links checked longest ago once their check is `intervalMs` old, and starts at most `perMinute`
 * checks a minute, spaced evenly.
 */
export class Rechecker {
  readonly #store: BookmarkStore;
  readonly #checker: UriChecker;
  readonly #metrics: Metrics;
  readonly #intervalMs: number;
  readonly #spacingMs: number;
  readonly #onError: (error: unknown) => void;
  /** Unique per app instance: a test process may run several. */
  readonly #owner = `${hostname()}:${process.pid}:${randomUUID()}`;
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  /** performance.now() when the lease was last taken or renewed; undefined while not held. */
  #heldSince: number | undefined;
  /** performance.now() before which the next check may not start. */
  #nextStart = 0;
  /** Whether the store's index for the pick is built (recheckIndexStep). */
  #indexReady = false;

  constructor(deps: {
    store: BookmarkStore;
    checker: UriChecker;
    metrics: Metrics;
    config: RecheckConfig;
    onError: (error: unknown) => void;
  }) {
    this.#store = deps.store;
    this.#checker = deps.checker;
    this.#metrics = deps.metrics;
    this.#intervalMs = deps.config.intervalMs;
    this.#spacingMs = 60_000 / deps.config.perMinute;
    this.#onError = deps.onError;
  }

  /** Does nothing when re-checks are off (RECHECK_INTERVAL_DAYS=0). */
  start(): void {
    if (this.#intervalMs === 0 || this.#loop !== undefined) return;
    this.#loop = this.#run();
  }

  /** Stops: checks running are cancelled, and the lease is given up so another process can go on at once. */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    if (this.#heldSince === undefined) return;
    this.#heldSince = undefined;
    try {
      await this.#store.releaseLease(RECHECK_LEASE, this.#owner);
    } catch (error) {
      // It expires by itself within LEASE_MS.
      this.#onError(error);
    }
  }

  async #run(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      let waitMs: number;
      try {
        waitMs = await this.#turn();
      } catch (error) {
        this.#heldSince = undefined;
        this.#onError(error);
        waitMs = RETRY_AFTER_FAILURE_MS;
      }
      await this.#pause(waitMs);
    }
  }

  /** Holds the lease and re-checks one batch of due links; returns how long to wait before the next turn. */
  async #turn(): Promise<number> {
    if (!(await this.#holdLease())) return ASK_EVERY_MS;
    // By the holder, after start-up, a step a turn (SQLite: a batch of links enrolled); the write
    // lock is left to redirects' visit flushes and creates between steps.
    this.#indexReady ||= await this.#store.recheckIndexStep();
    if (!this.#indexReady) return PAUSE_BETWEEN_INDEX_STEPS_MS;
    const due = await this.#store.dueForRecheck(new Date(Date.now() - this.#intervalMs), BATCH);
    // Nothing due: look again after a tenth of the interval, and soon enough to renew the lease
    // before it lapses (an idle holder keeps it rather than handing it around).
    if (due.length === 0) return Math.min(RENEW_AFTER_MS, Math.max(100, this.#intervalMs / 10));
    await this.#recheckAll(due);
    return 0;
  }

  /** Paced starts, at most IN_FLIGHT at once; returns when all have been recorded, so the next read does not pick them again. */
  async #recheckAll(due: readonly RecheckCandidate[]): Promise<void> {
    const running = new Set<Promise<void>>();
    for (const link of due) {
      while (running.size >= IN_FLIGHT) await Promise.race(running);
      await this.#pause(this.#nextStart - performance.now());
      if (this.#stop.signal.aborted || !(await this.#holdLease())) break;
      this.#nextStart = performance.now() + this.#spacingMs;
      const check = this.#recheck(link).finally(() => running.delete(check));
      running.add(check);
    }
    await Promise.all(running);
  }

  /** Never rejects: a failure to record is reported, and the link stays due. */
  async #recheck(link: RecheckCandidate): Promise<void> {
    let result: CheckResult;
    try {
      result = await this.#checker.check(link.uri, this.#stop.signal);
    } catch (error) {
      // Closing, or the pool full or down: nothing is learnt about the target; it stays due.
      if (!this.#stop.signal.aborted && !(error instanceof DomainError)) this.#onError(error);
      return;
    }
    const outcome: RecheckOutcome = result.ok ? { ok: true, status: result.status } : { ok: false, error: result.detail };
    this.#metrics.rechecks.inc({ outcome: result.ok ? 'ok' : 'failed' });
    try {
      await this.#store.recordRecheck(link.name, link.uri, outcome, new Date());
    } catch (error) {
      this.#onError(error);
    }
  }

  /** True while this process holds the lease, asking the store only when it is a third through. */
  async #holdLease(): Promise<boolean> {
    const now = performance.now();
    if (this.#heldSince !== undefined && now - this.#heldSince < RENEW_AFTER_MS) return true;
    const held = await this.#store.acquireLease(RECHECK_LEASE, this.#owner, LEASE_MS);
    this.#heldSince = held ? now : undefined;
    return held;
  }

  async #pause(ms: number): Promise<void> {
    if (ms <= 0 || this.#stop.signal.aborted) return;
    try {
      await sleep(ms, undefined, { signal: this.#stop.signal, ref: false });
    } catch {
      // Aborted: closing.
    }
  }
}
