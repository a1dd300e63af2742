import { DAY_MS } from '../store/stats-types.ts';
import type { BookmarkStore } from '../store/types.ts';

const FOLD_EVERY_MS = 60 * 60 * 1000;

/** The first hour kept as hours: the start of the UTC day `hourlyDays` days before today's. */
export function foldBefore(now: number, hourlyDays: number): number {
  return (Math.floor(now / DAY_MS) - hourlyDays) * 24;
}

/**
 * Folds hourly rows past the retention into daily ones, now and every hour. Every process does
 * it; the store moves each row once (decision 0019). Returns a stop function.
 */
export function startRetentionFold(store: BookmarkStore, hourlyDays: number, onError: (error: unknown) => void): () => void {
  const fold = () => void store.foldHours(foldBefore(Date.now(), hourlyDays)).catch(onError);
  const first = setTimeout(fold, 5_000);
  const timer = setInterval(fold, FOLD_EVERY_MS);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
