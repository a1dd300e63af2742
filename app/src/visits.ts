import type { BookmarkStore } from './store/types.ts';

/**
 * Counts redirects in memory and writes them in one batch every `flushMs`, so the redirect's hot
 * path never waits on a store write. `close()` flushes what is left: a visit counted survives a
 * graceful restart (a kill -9 loses at most one interval, which is the price of the batching).
 */
export class VisitCounter {
  #pending = new Map<string, number>();
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
    this.#pending.set(name, (this.#pending.get(name) ?? 0) + 1);
  }

  /** Visits counted here but not yet written. */
  get pending(): number {
    let total = 0;
    for (const count of this.#pending.values()) total += count;
    return total;
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
        for (const [name, count] of batch) this.#pending.set(name, (this.#pending.get(name) ?? 0) + count);
        this.#onError(error);
      }
    });
    return this.#flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}
