import { DAY_MS } from '../store/stats-types.ts';
import type { BookmarkStore } from '../store/types.ts';

const FOLD_EVERY_MS = 60 * 60 * 1000;
/** Hours folded in one turn at most: a first start on a long-lived database catches up over turns. */
const MAX_HOURS_A_TURN = 24 * 40;

/** The first hour kept as hours: the start of the UTC day `hourlyDays` days before today's. */
export function foldBefore(now: number, hourlyDays: number): number {
  return (Math.floor(now / DAY_MS) - hourlyDays) * 24;
}

/**
 * Folds the hourly rows past the retention into daily ones, an hour a call (each its own
 * transaction) until none is left or MAX_HOURS_A_TURN were; returns the rows moved.
 */
export async function foldOldHours(store: BookmarkStore, hourlyDays: number, now = Date.now()): Promise<number> {
  let moved = 0;
  for (let hours = 0; hours < MAX_HOURS_A_TURN; hours++) {
    const rows = await store.foldHours(foldBefore(now, hourlyDays));
    if (rows === 0) break;
    moved += rows;
  }
  return moved;
}

/**
 * Runs foldOldHours 5 s after start and every hour. Every process does it; the store moves each
 * row once (decision 0019). Returns a stop function.
 */
export function startRetentionFold(store: BookmarkStore, hourlyDays: number, onError: (error: unknown) => void): () => void {
  let folding = false;
  const fold = async () => {
    if (folding) return;
    folding = true;
    try {
      await foldOldHours(store, hourlyDays);
    } catch (error) {
      onError(error);
    } finally {
      folding = false;
    }
  };
  const first = setTimeout(() => void fold(), 5_000);
  const timer = setInterval(() => void fold(), FOLD_EVERY_MS);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
