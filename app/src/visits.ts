import type { BookmarkStore } from './store/types.ts';

/**
 * Distinct names whose visits are kept while the store cannot take them. A count is a number
 * per name, so this bounds the memory (about 10 MB) however long the store is away; visits to a
 * name beyond it are counted in `dropped` (and in /metrics) instead of kept.
 */
export const MAX_PENDING_NAMES = 100_000;

/**
 * Counts redirects in memory and writes them in one batch every `flushMs`, so the redirect's hot
 * path never waits on a store write. A batch the store refuses (down, full, read-only) is kept
 * and written by a later flush, once the store is back. `close()` flushes what is left: a visit
 * counted survives a graceful restart (a kill -9 loses at most what was counted since the last
 * flush, which is the price of the batching).
 */
export class VisitCounter {
  #pending = new Map<string, number>();
  #dropped = 0;
  #timer: NodeJS.Timeout;
  #flushing: Promise<void> = Promise.resolve();
  readonly #store: BookmarkStore;
  readonly #onError: (error: unknown) => void;

  constructor(store: BookmarkStore, flushMs: number, onError: (error: unknown) => void) {
    this.#store = store;
    this.#onError = onError;
    this.#timer = setInterval(() => void this.flush(), flushMs);
    this.#timer.unref();
  }

  record(name: string): void {
    this.#add(name, 1);
  }

  /** Visits counted here but not yet written. */
  get pending(): number {
    let total = 0;
    for (const count of this.#pending.values()) total += count;
    return total;
  }

  /** Visits given up because MAX_PENDING_NAMES names were already waiting for the store. */
  get dropped(): number {
    return this.#dropped;
  }

  flush(): Promise<void> {
    // Chained so two flushes never write the same batch or race each other.
    this.#flushing = this.#flushing.then(async () => {
      if (this.#pending.size === 0) return;
      const batch = this.#pending;
      this.#pending = new Map();
      try {
        await this.#store.addVisits(batch);
      } catch (error) {
        // Put the batch back so the next flush tries again rather than losing it.
        for (const [name, count] of batch) this.#add(name, count);
        this.#onError(error);
      }
    });
    return this.#flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }

  #add(name: string, visits: number): void {
    const count = this.#pending.get(name);
    if (count !== undefined) this.#pending.set(name, count + visits);
    else if (this.#pending.size < MAX_PENDING_NAMES) this.#pending.set(name, visits);
    else this.#dropped += visits;
  }
}
