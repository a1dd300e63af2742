import type { FastifyBaseLogger } from 'fastify';
import { DAY_MS } from '../store/stats-types.ts';
import type { BookmarkPage, BookmarkStore } from '../store/types.ts';

export const SPARK_DAYS = 7;

/**
 * People per day over the last 7 UTC days (today included) for every bookmark of a page, in one
 * query. The list is still worth showing without them: a failure logs and leaves them out.
 */
export async function sparks(
  store: BookmarkStore,
  page: BookmarkPage | undefined,
  log: FastifyBaseLogger,
): Promise<Map<string, number[]> | undefined> {
  if (page === undefined || page.items.length === 0) return undefined;
  const firstDay = Math.floor(Date.now() / DAY_MS) - (SPARK_DAYS - 1);
  let rows: Awaited<ReturnType<BookmarkStore['dailyVisits']>>;
  try {
    rows = await store.dailyVisits(
      page.items.map((bookmark) => bookmark.name),
      firstDay,
    );
  } catch (error) {
    log.warn({ err: error }, 'sparks left out');
    return undefined;
  }
  const byName = new Map(page.items.map((bookmark) => [bookmark.name, new Array<number>(SPARK_DAYS).fill(0)]));
  for (const row of rows) {
    const days = byName.get(row.name);
    const index = row.day - firstDay;
    if (days !== undefined && index >= 0 && index < SPARK_DAYS) days[index] = row.visits;
  }
  return byName;
}
