import type { BookmarkStore } from './store/types.ts';

/** Between SQLite batches: the write lock is left to redirects' visit flushes and creates. */
const PAUSE_BETWEEN_STEPS_MS = 50;
/** After a failure (pg_trgm cannot be created, the store away): tried again this much later. */
const RETRY_AFTER_FAILURE_MS = 60_000;

/**
 * Builds the search index in the background after start-up, one bounded step at a time, so a
 * large store never holds start-up back (docs/decisions/0022-search-index.md). Every process
 * runs one; the store makes their steps safe together. Until it is done, search answers 503
 * SEARCH_INDEXING.
 */
export class SearchIndexer {
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #ready = false;
  readonly #store: BookmarkStore;
  readonly #onError: (error: unknown) => void;

  constructor(store: BookmarkStore, onError: (error: unknown) => void) {
    this.#store = store;
    this.#onError = onError;
  }

  get ready(): boolean {
    return this.#ready;
  }

  start(): void {
    this.#schedule(0);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#step(), delayMs);
    this.#timer.unref();
  }

  async #step(): Promise<void> {
    try {
      this.#ready = await this.#store.searchIndexStep();
      if (!this.#ready) this.#schedule(PAUSE_BETWEEN_STEPS_MS);
    } catch (error) {
      this.#onError(error);
      this.#schedule(RETRY_AFTER_FAILURE_MS);
    }
  }
}
