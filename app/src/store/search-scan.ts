import { encodeScanCursor, toPage } from './cursor.ts';
import type { Bookmark, SearchPage } from './types.ts';

/** The first window's span of ids; each next one doubles while the budget allows. */
export const FIRST_SCAN_WINDOW = 1024;

export interface ScanWindowsOptions<Row> {
  /** The first window ends just below this id (a cursor's id, or the newest id + 1). */
  below: number;
  limit: number;
  /** performance.now() after which no window starts that, by the last one's pace, would end later. */
  deadline: number;
  /** The matches with `floor <= id < upper`, newest first, at most `wanted` of them. */
  readWindow: (upper: number, floor: number, wanted: number) => Promise<Row[]>;
  idOf: (row: Row) => number;
  toItem: (row: Row) => Bookmark;
}

/**
 * A search that bounds its own work: windows of ids, newest first, each twice the last, until the
 * page is full, id 1 has been examined, or the next window would overrun the deadline. The first
 * window always runs, so a request makes progress however small its budget. A page cut short by
 * the deadline is `partial`, its cursor (encodeScanCursor) just below the last window examined
 * (docs/decisions/0029-search-within-a-budget.md).
 */
export async function scanWindows<Row>(options: ScanWindowsOptions<Row>): Promise<SearchPage> {
  const { limit, deadline, readWindow, idOf, toItem } = options;
  const found: Row[] = [];
  let upper = options.below;
  let span = FIRST_SCAN_WINDOW;
  while (upper > 1) {
    const floor = Math.max(1, upper - span);
    const started = performance.now();
    found.push(...(await readWindow(upper, floor, limit + 1 - found.length)));
    if (found.length > limit) return { ...toPage(found, limit, idOf, toItem), partial: false };
    upper = floor;
    const finished = performance.now();
    // A window twice as wide takes about twice as long: start it only if it would end in time.
    if (upper > 1 && finished + 2 * (finished - started) > deadline) {
      return { items: found.map(toItem), nextCursor: encodeScanCursor(upper), partial: true };
    }
    span *= 2;
  }
  return { items: found.map(toItem), nextCursor: null, partial: false };
}
