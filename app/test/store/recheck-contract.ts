/**
 * The re-checks' part of the BookmarkStore contract (the pick, the record, the lease), one suite
 * for both engines, run by each engine's test file next to the others.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BookmarkStore, NewBookmark } from '../../src/store/types.ts';
import type { StoreHarness, StoreTarget } from './contract.ts';

async function migratedStore(t: TestContext, target: StoreTarget): Promise<BookmarkStore> {
  const store = target.open();
  t.after(() => store.close());
  await store.migrate();
  return store;
}

function link(name: string, uri = `https://example.com/${name}`): NewBookmark {
  return { name, uri, title: null, checkStatus: 200 };
}

const MINUTE = 60_000;

export function recheckContract(harness: StoreHarness): void {
  test('re-checks: a link is due once its last check is older than the cutoff, the longest unchecked first, a page at a time', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    assert.equal(await store.recheckIndexStep(), true, 'the index, built after start-up');
    assert.equal(await store.recheckIndexStep(), true, 'and found built');
    const before = Date.now();
    for (const name of ['a', 'b', 'c']) await store.create(link(name));
    const created = await store.get('a');
    assert.ok(created !== undefined);
    assert.ok(Math.abs(created.checkedAt.getTime() - before) < MINUTE, 'checked at create');
    assert.deepEqual(
      { checkFailures: created.checkFailures, failingSince: created.failingSince, checkError: created.checkError },
      { checkFailures: 0, failingSince: null, checkError: null },
    );

    assert.deepEqual(await store.dueForRecheck(new Date(before - MINUTE), 10), [], 'none checked before a minute ago');
    const all = await store.dueForRecheck(new Date(Date.now() + MINUTE), 10);
    assert.deepEqual(all.map((due) => due.name).sort(), ['a', 'b', 'c']);
    assert.deepEqual(
      all.find((due) => due.name === 'b'),
      { name: 'b', uri: 'https://example.com/b' },
    );

    // Checked later than c: b last, a in between.
    assert.equal(await store.recordRecheck('b', 'https://example.com/b', { ok: true, status: 200 }, new Date(before + 5 * MINUTE)), true);
    assert.equal(await store.recordRecheck('a', 'https://example.com/a', { ok: true, status: 200 }, new Date(before + 3 * MINUTE)), true);
    const cutoff = new Date(before + 4 * MINUTE);
    assert.deepEqual(
      (await store.dueForRecheck(cutoff, 10)).map((due) => due.name),
      ['c', 'a'],
    );
    assert.deepEqual(
      (await store.dueForRecheck(cutoff, 1)).map((due) => due.name),
      ['c'],
    );
  });

  test('re-checks: a failure counts one more and keeps when the run began; a success ends the run and sets the status', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    await store.create(link('x'));
    const uri = 'https://example.com/x';
    const first = new Date(Date.UTC(2030, 0, 1, 10));
    const second = new Date(Date.UTC(2030, 0, 8, 10));
    const third = new Date(Date.UTC(2030, 0, 15, 10));
    const state = async () => {
      const bookmark = await store.get('x');
      assert.ok(bookmark !== undefined);
      const { checkStatus, checkedAt, checkFailures, failingSince, checkError } = bookmark;
      return { checkStatus, checkedAt, checkFailures, failingSince, checkError };
    };

    assert.equal(await store.recordRecheck('x', uri, { ok: false, error: 'connection refused' }, first), true);
    assert.deepEqual(await state(), {
      checkStatus: 200,
      checkedAt: first,
      checkFailures: 1,
      failingSince: first,
      checkError: 'connection refused',
    });
    assert.equal(await store.recordRecheck('x', uri, { ok: false, error: 'timed out after 5000 ms' }, second), true);
    assert.deepEqual(await state(), {
      checkStatus: 200,
      checkedAt: second,
      checkFailures: 2,
      failingSince: first,
      checkError: 'timed out after 5000 ms',
    });
    assert.equal(await store.recordRecheck('x', uri, { ok: true, status: 403 }, third), true);
    assert.deepEqual(await state(), { checkStatus: 403, checkedAt: third, checkFailures: 0, failingSince: null, checkError: null });
  });

  test('re-checks: a result for a target edited or deleted since the pick is ignored; a new target starts the run over, other edits keep it', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    const old = 'https://example.com/old';
    const fresh = 'https://example.com/new';
    await store.create(link('y', old));
    const failed = { ok: false, error: 'connection refused' } as const;
    await store.recordRecheck('y', old, failed, new Date(Date.UTC(2030, 0, 1)));
    await store.recordRecheck('y', old, failed, new Date(Date.UTC(2030, 0, 2)));

    const limited = await store.update('y', { maxVisits: 5 });
    assert.equal(limited?.bookmark.checkFailures, 2, 'an edit that keeps the target keeps its run');
    assert.deepEqual(limited?.bookmark.failingSince, new Date(Date.UTC(2030, 0, 1)));

    const before = Date.now();
    const moved = await store.update('y', { uri: fresh, title: null, checkStatus: 200 });
    assert.ok(moved !== undefined);
    assert.deepEqual(
      { checkFailures: moved.bookmark.checkFailures, failingSince: moved.bookmark.failingSince, checkError: moved.bookmark.checkError },
      { checkFailures: 0, failingSince: null, checkError: null },
    );
    assert.ok(Math.abs(moved.bookmark.checkedAt.getTime() - before) < MINUTE, 'checked at the edit');

    assert.equal(await store.recordRecheck('y', old, failed, new Date()), false, 'the old target’s result');
    assert.equal((await store.get('y'))?.checkFailures, 0);
    assert.equal(await store.delete('y'), true);
    assert.equal(await store.recordRecheck('y', fresh, failed, new Date()), false, 'a deleted link');
  });

  test('the lease: one owner at a time, renewed by its owner, given up on release, taken over once expired', async (t) => {
    const target = await harness.fresh();
    const store = await migratedStore(t, target);
    assert.equal(await store.acquireLease('work', 'A', MINUTE), true);
    assert.equal(await store.acquireLease('work', 'B', MINUTE), false, 'held by A');
    assert.equal(await store.acquireLease('work', 'A', MINUTE), true, 'renewed by A');
    assert.equal(await store.acquireLease('other', 'B', MINUTE), true, 'leases are by name');
    await store.releaseLease('work', 'B');
    assert.equal(await store.acquireLease('work', 'B', MINUTE), false, 'only its owner releases it');
    await store.releaseLease('work', 'A');
    assert.equal(await store.acquireLease('work', 'B', MINUTE), true, 'free once released');

    // An owner that died without releasing: its lease runs out.
    assert.equal(await store.acquireLease('brief', 'A', 50), true);
    assert.equal(await store.acquireLease('brief', 'B', MINUTE), false);
    await sleep(100);
    assert.equal(await store.acquireLease('brief', 'B', MINUTE), true, 'taken over once expired');
    assert.equal(await store.acquireLease('brief', 'A', MINUTE), false, 'and the old owner has lost it');

    // Several connections asking at once: exactly one wins.
    const rivals = Array.from({ length: 8 }, () => target.open());
    t.after(() => Promise.all(rivals.map((rival) => rival.close())));
    await Promise.all(rivals.map((rival) => rival.migrate()));
    const won = await Promise.all(rivals.map((rival, index) => rival.acquireLease('contested', `owner-${index}`, MINUTE)));
    assert.equal(won.filter(Boolean).length, 1, JSON.stringify(won));
  });
}
