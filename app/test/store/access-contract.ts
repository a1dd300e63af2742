/**
 * The AccessStore contract (keys, sessions, the audit trail, links' authors), one suite for both
 * engines, run by each engine's test file next to the BookmarkStore contract.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import type { BookmarkStore } from '../../src/store/types.ts';
import { InvalidCursorError } from '../../src/store/types.ts';
import type { StoreHarness, StoreTarget } from './contract.ts';

async function migratedStore(t: TestContext, target: StoreTarget): Promise<BookmarkStore> {
  const store = target.open();
  t.after(() => store.close());
  await store.migrate();
  return store;
}

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

export function accessContract(harness: StoreHarness): void {
  test('keys: created once per name, found by hash, listed without their hash, revoked once', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    const before = Date.now();
    assert.equal(await store.access.createKey({ name: 'alice', role: 'author', hash: HASH_A }, 'command'), 'created');
    assert.equal(await store.access.createKey({ name: 'alice', role: 'admin', hash: HASH_B }, 'command'), 'taken');
    assert.equal(await store.access.createKey({ name: 'root', role: 'admin', hash: HASH_B }, 'command'), 'created');

    const found = await store.access.keyByHash(HASH_A);
    assert.deepEqual(
      { ...found, createdAt: undefined },
      { name: 'alice', role: 'author', hash: HASH_A, createdAt: undefined, lastUsedAt: null },
    );
    assert.ok(Math.abs((found?.createdAt.getTime() ?? 0) - before) < 60_000);
    assert.equal(await store.access.keyByHash('c'.repeat(64)), undefined);

    const listed = await store.access.listKeys();
    assert.deepEqual(
      listed.map((key) => [key.name, key.role, Object.hasOwn(key, 'hash')]),
      [
        ['alice', 'author', false],
        ['root', 'admin', false],
      ],
    );

    assert.equal(await store.access.revokeKey('alice', 'command'), true);
    assert.equal(await store.access.revokeKey('alice', 'command'), false);
    assert.equal(await store.access.revokeKey('nobody', 'command'), false);
    assert.equal(await store.access.keyByHash(HASH_A), undefined);
    // The name is free again.
    assert.equal(await store.access.createKey({ name: 'alice', role: 'author', hash: 'c'.repeat(64) }, 'command'), 'created');
  });

  test('a role other than admin or author is refused by the store, and nothing is written', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    const bogus = { name: 'x', role: 'owner', hash: HASH_A } as unknown as Parameters<typeof store.access.createKey>[0];
    await assert.rejects(store.access.createKey(bogus, 'command'));
    assert.deepEqual(await store.access.listKeys(), []);
    assert.deepEqual((await store.access.listAudit({ limit: 10 })).items, []);
  });

  test('last-used times move forward only', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    await store.access.createKey({ name: 'alice', role: 'author', hash: HASH_A }, 'command');
    const later = new Date(Date.now() + 60_000);
    await store.access.touchKeys(
      new Map([
        ['alice', later],
        ['ghost', later],
      ]),
    );
    assert.equal((await store.access.keyByHash(HASH_A))?.lastUsedAt?.getTime(), later.getTime());
    await store.access.touchKeys(new Map([['alice', new Date(later.getTime() - 30_000)]]));
    assert.equal((await store.access.keyByHash(HASH_A))?.lastUsedAt?.getTime(), later.getTime());
    await store.access.touchKeys(new Map());
  });

  test('sessions: live until they expire, end on sign-out, and die with their key', async (t) => {
    const target = await harness.fresh();
    const store = await migratedStore(t, target);
    const other = await migratedStore(t, target);
    await store.access.createKey({ name: 'alice', role: 'author', hash: HASH_A }, 'command');
    const now = new Date();
    const inAnHour = new Date(now.getTime() + 3_600_000);
    await store.access.createSession({ hash: 's1'.padEnd(64, '0'), keyName: 'alice', expiresAt: inAnHour });
    await store.access.createSession({ hash: 's2'.padEnd(64, '0'), keyName: 'alice', expiresAt: inAnHour });

    const owner = await other.access.sessionByHash('s1'.padEnd(64, '0'), now);
    assert.deepEqual(owner, { keyName: 'alice', role: 'author', expiresAt: inAnHour });
    assert.equal(await other.access.sessionByHash('s1'.padEnd(64, '0'), new Date(inAnHour.getTime() + 1)), undefined, 'expired');
    assert.equal(await other.access.sessionByHash('nope'.padEnd(64, '0'), now), undefined);

    assert.equal(await store.access.deleteSession('s1'.padEnd(64, '0')), true);
    assert.equal(await store.access.deleteSession('s1'.padEnd(64, '0')), false);
    assert.equal(await other.access.sessionByHash('s1'.padEnd(64, '0'), now), undefined, 'signed out everywhere');

    await store.access.revokeKey('alice', 'command');
    assert.equal(await other.access.sessionByHash('s2'.padEnd(64, '0'), now), undefined, 'the key revoked ends its sessions');
  });

  test('the audit trail records key changes with who and when, newest first, keyset-paginated', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    const before = Date.now();
    await store.access.createKey({ name: 'alice', role: 'author', hash: HASH_A }, 'command');
    await store.access.createKey({ name: 'alice', role: 'author', hash: HASH_B }, 'command');
    await store.access.revokeKey('alice', 'root');
    await store.access.revokeKey('alice', 'root');
    await store.access.audit({ actor: 'form', action: 'bookmark.create', subject: 'docs', detail: 'https://example.com/' });

    const first = await store.access.listAudit({ limit: 2 });
    assert.deepEqual(
      first.items.map((entry) => [entry.actor, entry.action, entry.subject, entry.detail]),
      [
        ['form', 'bookmark.create', 'docs', 'https://example.com/'],
        ['root', 'key.revoke', 'alice', null],
      ],
    );
    assert.ok(first.items.every((entry) => entry.at instanceof Date && Math.abs(entry.at.getTime() - before) < 60_000));
    const second = await store.access.listAudit({ limit: 2, cursor: first.nextCursor ?? undefined });
    assert.deepEqual(
      second.items.map((entry) => [entry.actor, entry.action, entry.subject, entry.detail]),
      [['command', 'key.create', 'alice', 'author']],
    );
    assert.equal(second.nextCursor, null);
    await assert.rejects(store.access.listAudit({ limit: 2, cursor: 'forged' }), InvalidCursorError);
  });

  test('a link records who created it', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    const outcome = await store.create({ name: 'mine', uri: 'https://example.com/', title: null, checkStatus: 200, createdBy: 'alice' });
    assert.equal(outcome.kind === 'created' ? outcome.bookmark.createdBy : 'not created', 'alice');
    await store.create({ name: 'anon', uri: 'https://example.com/', title: null, checkStatus: 200 });
    assert.equal((await store.get('mine'))?.createdBy, 'alice');
    assert.equal((await store.get('anon'))?.createdBy, null);
    assert.deepEqual(
      (await store.list({ limit: 10 })).items.map((item) => item.createdBy),
      [null, 'alice'],
    );
  });

  test('blocklist: hosts added once (one audit entry per call), listed sorted, matched by any of a set, removed once', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    assert.equal(await store.access.addBlockedHosts(['spam.example'], 'root', 'spam.example'), 1);
    assert.equal(await store.access.addBlockedHosts(['spam.example'], 'root', 'spam.example'), 0, 'already listed');
    assert.equal(
      await store.access.addBlockedHosts(['b.example', 'a.example', 'spam.example', 'a.example'], 'command', '4 hosts from list.txt'),
      2,
    );

    assert.deepEqual(
      (await store.access.listBlockedHosts()).map((entry) => [entry.host, entry.addedBy]),
      [
        ['a.example', 'command'],
        ['b.example', 'command'],
        ['spam.example', 'root'],
      ],
    );
    assert.equal(await store.access.anyHostBlocked(['www.spam.example', 'spam.example', 'example']), true);
    assert.equal(await store.access.anyHostBlocked(['fine.example', 'example']), false);
    assert.equal(await store.access.anyHostBlocked([]), false);
    assert.deepEqual((await store.access.denials()).hosts.toSorted(), ['a.example', 'b.example', 'spam.example']);

    assert.equal(await store.access.removeBlockedHost('a.example', 'root'), true);
    assert.equal(await store.access.removeBlockedHost('a.example', 'root'), false);
    assert.deepEqual(
      (await store.access.listAudit({ limit: 10 })).items.map((entry) => [entry.actor, entry.action, entry.subject, entry.detail]),
      [
        ['root', 'blocklist.remove', 'a.example', null],
        ['command', 'blocklist.add', '4 hosts from list.txt', '2 new of 4'],
        ['root', 'blocklist.add', 'spam.example', null],
      ],
    );
  });

  test('a disabled link is denied by name until enabled; deleted and made again, it starts enabled', async (t) => {
    const target = await harness.fresh();
    const store = await migratedStore(t, target);
    const other = await migratedStore(t, target);
    await store.create({ name: 'bait', uri: 'https://example.com/', title: null, checkStatus: 200 });
    assert.equal(await store.access.setLinkDisabled('bait', true, 'root'), true);
    assert.equal(await store.access.setLinkDisabled('bait', true, 'root'), false, 'no change');
    assert.equal(await store.access.setLinkDisabled('ghost', true, 'root'), false, 'unknown name');
    assert.deepEqual((await other.access.denials()).disabledNames, ['bait']);
    assert.equal(await store.access.setLinkDisabled('bait', false, 'root'), true);
    assert.equal(await store.access.setLinkDisabled('bait', false, 'root'), false);
    assert.deepEqual((await other.access.denials()).disabledNames, []);

    await store.access.setLinkDisabled('bait', true, 'root');
    await store.delete('bait');
    await store.create({ name: 'bait', uri: 'https://example.com/new', title: null, checkStatus: 200 });
    assert.deepEqual((await other.access.denials()).disabledNames, []);
    assert.deepEqual(
      (await store.access.listAudit({ limit: 10 })).items.map((entry) => [entry.action, entry.subject]),
      [
        ['bookmark.disable', 'bait'],
        ['bookmark.enable', 'bait'],
        ['bookmark.disable', 'bait'],
      ],
    );
  });
}
