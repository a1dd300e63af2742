import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkLimit, decodeCursor, decodeSearchCursor, encodeCursor, encodeScanCursor, toPage } from '../../src/store/cursor.ts';
import { InvalidCursorError } from '../../src/store/types.ts';

test('a cursor decodes to the id it encodes, and does not show it in the clear', () => {
  for (const id of [1, 9, 10, 123_456, Number.MAX_SAFE_INTEGER]) {
    const cursor = encodeCursor(id);
    assert.match(cursor, /^[A-Za-z0-9_-]+$/);
    assert.notEqual(cursor, String(id));
    assert.equal(decodeCursor(cursor), id);
  }
});

test('anything else is an InvalidCursorError', () => {
  const canonical = encodeCursor(42);
  for (const cursor of [
    '',
    '=',
    canonical.toLowerCase() === canonical ? `${canonical}A` : canonical.toLowerCase(),
    `${canonical}.`,
    `${canonical}==`,
  ]) {
    assert.throws(() => decodeCursor(cursor), InvalidCursorError, JSON.stringify(cursor));
  }
});

test("a search's cursor is a page's or a partial page's; only a search takes the second", () => {
  assert.deepEqual(decodeSearchCursor(encodeCursor(42)), { before: 42, scanning: false });
  assert.deepEqual(decodeSearchCursor(encodeScanCursor(42)), { before: 42, scanning: true });
  assert.notEqual(encodeScanCursor(42), encodeCursor(42));
  assert.throws(() => decodeCursor(encodeScanCursor(42)), InvalidCursorError, 'the list refuses a scanning cursor');
  const forged = (text: string) => Buffer.from(text, 'ascii').toString('base64url');
  for (const cursor of [forged('s'), forged('s0'), forged('s042'), forged('s4x'), forged('ss4'), `${encodeScanCursor(42)}.`]) {
    assert.throws(() => decodeSearchCursor(cursor), InvalidCursorError, JSON.stringify(cursor));
  }
});

test('checkLimit accepts whole numbers from 1', () => {
  checkLimit(1);
  checkLimit(500);
  for (const limit of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => checkLimit(limit), RangeError);
});

test('toPage keeps limit rows and points the cursor at the last one shown', () => {
  const rows = [{ id: 9 }, { id: 7 }, { id: 4 }];
  const full = toPage(
    rows,
    2,
    (row) => row.id,
    (row) => row.id * 10,
  );
  assert.deepEqual(full.items, [90, 70]);
  assert.equal(full.nextCursor === null ? null : decodeCursor(full.nextCursor), 7);
  assert.deepEqual(
    toPage(
      rows,
      3,
      (row) => row.id,
      (row) => row.id,
    ),
    { items: [9, 7, 4], nextCursor: null },
  );
});
