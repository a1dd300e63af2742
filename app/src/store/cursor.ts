import { InvalidCursorError } from './types.ts';

/**
 * A page cursor is the id of the last row shown, base64url-encoded: opaque to clients, so the
 * pagination key can change without breaking the API's promise that cursors are only passed back.
 */
export function encodeCursor(id: number): string {
  return Buffer.from(String(id), 'ascii').toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const digits = Buffer.from(cursor, 'base64url').toString('ascii');
  const id = Number(digits);
  // Node's base64url decoder skips characters it does not know, so only a cursor that encodes back
  // to itself is one this store handed out.
  if (!/^[1-9][0-9]*$/.test(digits) || !Number.isSafeInteger(id) || encodeCursor(id) !== cursor) {
    throw new InvalidCursorError(cursor);
  }
  return id;
}

/**
 * A partial search's cursor (docs/decisions/0029-search-within-a-budget.md): below this id, and
 * the index already ran out of budget for the query, so the next page scans from the start.
 */
export function encodeScanCursor(id: number): string {
  return Buffer.from(`s${id}`, 'ascii').toString('base64url');
}

/** A search's cursor: a page's (decodeCursor) or a partial page's (encodeScanCursor). */
export function decodeSearchCursor(cursor: string): { before: number; scanning: boolean } {
  const text = Buffer.from(cursor, 'base64url').toString('ascii');
  if (!text.startsWith('s')) return { before: decodeCursor(cursor), scanning: false };
  const id = Number(text.slice(1));
  if (!/^s[1-9][0-9]*$/.test(text) || !Number.isSafeInteger(id) || encodeScanCursor(id) !== cursor) {
    throw new InvalidCursorError(cursor);
  }
  return { before: id, scanning: true };
}

/** Rejects a limit no page could have; callers validate user input, this guards the query. */
export function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`invalid page limit ${limit}`);
}

/**
 * Turns rows fetched with `LIMIT limit + 1` into a page: the extra row only proves that an older
 * page exists, which saves counting.
 */
export function toPage<Row, Item>(
  rows: readonly Row[],
  limit: number,
  idOf: (row: Row) => number,
  toItem: (row: Row) => Item,
): { items: Item[]; nextCursor: string | null } {
  const shown = rows.slice(0, limit);
  const last = shown.at(-1);
  const nextCursor = rows.length > limit && last !== undefined ? encodeCursor(idOf(last)) : null;
  return { items: shown.map(toItem), nextCursor };
}
