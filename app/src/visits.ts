import { randomUUID } from 'node:crypto';
import { ROLLUP_LINKS_DUE, type Visit, VisitRollups } from './stats/rollups.ts';
import type { VisitRollupRows } from './store/stats-types.ts';
import type { BookmarkStore } from './store/types.ts';

/**
 * Distinct names whose visits are kept while the store cannot take them: those waiting, and as
 * many again in the one batch being retried. A count is a number per name, so this bounds the
 * memory (about 10 MB each) however long the store is away; visits to a name beyond it are
 * counted in `dropped` (and in /metrics) instead of kept.
 */
export const MAX_PENDING_NAMES = 100_000;

/**
 * Counts redirects in memory and writes them in one batch every `flushMs`, so the redirect's hot
 * path never waits on a store write. A batch the store refuses (down, full, read-only, past a
 * deadline) is retried as it was, under the same id, until it is written: the store applies an id
 * once, so a batch that was in fact written before its answer was lost is not counted twice.
 * Visits counted meanwhile wait for the next batch. `close()` flushes what is left: a visit
 * counted survives a graceful restart (a kill -9 loses at most what was counted since the last
 * flush, which is the price of the batching).
 */
export class VisitCounter {
  #pending = new Map<string, number>();
  /** What the stats count beside the totals (decision 0019); absent when stats are off. */
  #rollups: VisitRollups | undefined;
  /** The batch the store refused, retried before any other. */
  #unsent: { id: string; counts: Map<string, number>; rollups: VisitRollupRows | undefined } | undefined;
  #dropped = 0;
  #recorded = 0;
  #timer: NodeJS.Timeout;
  #flushing: Promise<void> = Promise.resolve();
  readonly #store: BookmarkStore;
  readonly #onError: (error: unknown) => void;

  /**
   * With stats on: how often the rollups ride along with a batch (and at close). Each flush writes
   * a row per link and dimension value it carries, however many visits that row adds up, so
   * carrying them less often than the totals costs less CPU (decision 0019).
   */
  readonly #statsFlushMs: number;
  #rollupsDueAt = 0;

  constructor(
    store: BookmarkStore,
    flushMs: number,
    onError: (error: unknown) => void,
    options: { stats?: boolean; statsFlushMs?: number } = {},
  ) {
    this.#store = store;
    this.#onError = onError;
    this.#statsFlushMs = options.statsFlushMs ?? flushMs;
    this.#rollupsDueAt = Date.now() + this.#statsFlushMs;
    if (options.stats === true) this.#rollups = new VisitRollups();
    this.#timer = setInterval(() => void this.flush(), flushMs);
    this.#timer.unref();
  }

  /**
   * Counts a redirect. With stats on, `visit` says who it was: a bot is counted in the rollups
   * only, never in the total, which is people.
   */
  record(name: string, visit?: Visit): void {
    this.#recorded++;
    if (this.#rollups !== undefined && visit !== undefined) {
      if (!this.#rollups.add(name, visit, Date.now())) {
        this.#dropped++;
        return;
      }
      if (visit.agent.bot) return;
    }
    const count = this.#pending.get(name);
    if (count !== undefined) this.#pending.set(name, count + 1);
    else if (this.#pending.size < MAX_PENDING_NAMES) this.#pending.set(name, 1);
    else this.#dropped++;
  }

  /** Redirects counted here but not yet written: people, and bots (counted in the rollups only). */
  get pending(): number {
    let total = 0;
    for (const count of this.#pending.values()) total += count;
    for (const count of this.#unsent?.counts.values() ?? []) total += count;
    total += this.#rollups?.totals.bots ?? 0;
    for (const row of this.#unsent?.rollups?.hours ?? []) total += row.bots;
    return total;
  }

  /** Visits to `name` counted here but not yet written: with the store's count, what a max-visits limit is held to. */
  pendingFor(name: string): number {
    return (this.#pending.get(name) ?? 0) + (this.#unsent?.counts.get(name) ?? 0);
  }

  /** Visits counted since start, written or not: one per redirect served. */
  get recorded(): number {
    return this.#recorded;
  }

  /** Visits given up because MAX_PENDING_NAMES names were already waiting for the store. */
  get dropped(): number {
    return this.#dropped;
  }

  flush(): Promise<void> {
    return this.#flush(false);
  }

  /** `withRollups`: carry the rollups now, whenever they were last carried (close). */
  #flush(withRollups: boolean): Promise<void> {
    // Chained so two flushes never write the same batch or race each other.
    this.#flushing = this.#flushing.then(async () => {
      if (this.#unsent === undefined) {
        // Due at their interval, or early once they hold ROLLUP_LINKS_DUE links.
        const rollups = this.#rollups;
        const due =
          rollups !== undefined &&
          !rollups.empty &&
          (withRollups || Date.now() >= this.#rollupsDueAt || rollups.linkHours >= ROLLUP_LINKS_DUE);
        if (this.#pending.size === 0 && !due) return;
        this.#unsent = { id: randomUUID(), counts: this.#pending, rollups: due ? rollups?.rows() : undefined };
        this.#pending = new Map();
        if (due) {
          this.#rollups = new VisitRollups();
          this.#rollupsDueAt = Date.now() + this.#statsFlushMs;
        }
      }
      try {
        await this.#store.addVisits(this.#unsent.counts, this.#unsent.id, this.#unsent.rollups);
        this.#unsent = undefined;
      } catch (error) {
        // Kept as it is, for the next flush to try again under the same id.
        this.#onError(error);
      }
    });
    return this.#flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    // A batch the store refused is retried first; what is left, rollups included, goes after it.
    await this.#flush(true);
    await this.#flush(true);
  }
}
