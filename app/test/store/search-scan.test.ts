import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCursor, decodeSearchCursor } from '../../src/store/cursor.ts';
import { FIRST_SCAN_WINDOW, scanWindows } from '../../src/store/search-scan.ts';
import type { Bookmark } from '../../src/store/types.ts';

/** Ids 1…`newest`, every `every`th one a match; records the windows asked for. */
function table(newest: number, every: number) {
  const windows: Array<[number, number]> = [];
  const matches = Array.from({ length: Math.floor(newest / every) }, (_, i) => (i + 1) * every).reverse();
  return {
    windows,
    options: (below: number, deadline: number) => ({
      below,
      limit: 10,
      deadline,
      readWindow: async (upper: number, floor: number, wanted: number) => {
        windows.push([floor, upper]);
        return matches.filter((id) => id < upper && id >= floor).slice(0, wanted);
      },
      idOf: (id: number) => id,
      toItem: (id: number) => ({ name: `n${id}` }) as Bookmark,
    }),
  };
}

describe('scanWindows', () => {
  it('doubles its windows until the page is full, and the page is not partial', async () => {
    const { windows, options } = table(100_000, 500);
    const page = await scanWindows(options(100_001, Number.POSITIVE_INFINITY));
    assert.equal(page.partial, false);
    assert.deepEqual(
      page.items.map((item) => item.name),
      Array.from({ length: 10 }, (_, i) => `n${100_000 - i * 500}`),
    );
    assert.equal(decodeCursor(page.nextCursor ?? ''), 95_500);
    assert.deepEqual(
      windows.map(([floor, upper]) => upper - floor),
      [1, 2, 4].map((times) => times * FIRST_SCAN_WINDOW),
    );
  });

  it('past its deadline, runs one window and answers partial, its scanning cursor just below that window; the last window ends the search', async () => {
    const { windows, options } = table(2500, 400);
    const first = await scanWindows(options(2501, Number.NEGATIVE_INFINITY));
    assert.deepEqual([first.items.map((item) => item.name), first.partial], [['n2400', 'n2000', 'n1600'], true]);
    assert.deepEqual(decodeSearchCursor(first.nextCursor ?? ''), { before: 2501 - FIRST_SCAN_WINDOW, scanning: true });
    const second = await scanWindows(options(decodeSearchCursor(first.nextCursor ?? '').before, Number.NEGATIVE_INFINITY));
    assert.deepEqual([second.items.map((item) => item.name), second.partial], [['n1200', 'n800'], true]);
    const last = await scanWindows(options(decodeSearchCursor(second.nextCursor ?? '').before, Number.NEGATIVE_INFINITY));
    assert.deepEqual([last.items.map((item) => item.name), last.partial, last.nextCursor], [['n400'], false, null]);
    assert.deepEqual(windows, [
      [2501 - FIRST_SCAN_WINDOW, 2501],
      [2501 - 2 * FIRST_SCAN_WINDOW, 2501 - FIRST_SCAN_WINDOW],
      [1, 2501 - 2 * FIRST_SCAN_WINDOW],
    ]);
  });

  it('an empty table, or a cursor at the first id, is a complete empty page', async () => {
    const { windows, options } = table(0, 1);
    assert.deepEqual(await scanWindows(options(1, 0)), { items: [], nextCursor: null, partial: false });
    assert.deepEqual(windows, []);
  });
});
