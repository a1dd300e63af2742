/** The export's and the import's part of the BookmarkStore contract (exportLinks, importLinks), run on both engines. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BookmarkStore, LinkRecord } from '../../src/store/types.ts';
import { InvalidCursorError } from '../../src/store/types.ts';
import { linkRecord } from '../cli/transfer-support.ts';
import type { StoreHarness } from './contract.ts';

/** A link with every field of its own: a title and a creator to carry, besides linkRecord's. */
function link(name: string, overrides: Partial<LinkRecord> = {}): LinkRecord {
  return linkRecord(name, { title: `Title of ${name}`, createdAt: new Date('2025-03-04T05:06:07.089Z'), createdBy: 'alice', ...overrides });
}

const ROLLED = {
  visits: 9,
  hours: [
    { hour: 480_000, visits: 2, bots: 1 },
    { hour: 480_001, visits: 3, bots: 0 },
  ],
  days: [{ day: 19_999, visits: 4, bots: 1 }],
  dimensions: [
    { day: 19_999, dimension: 'browser', value: 'Chrome', visits: 1 },
    { day: 19_999, dimension: 'browser', value: 'Firefox', visits: 3 },
    { day: 19_999, dimension: 'country', value: 'ÖS', visits: 4 },
  ],
} satisfies Partial<LinkRecord>;

async function exportAll(store: BookmarkStore, limit: number): Promise<{ links: LinkRecord[]; pages: number }> {
  const links: LinkRecord[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await store.exportLinks({ limit, cursor });
    links.push(...page.items);
    pages += 1;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return { links, pages };
}

export function transferContract(harness: StoreHarness): void {
  async function migrated(t: import('node:test').TestContext): Promise<BookmarkStore> {
    const store = (await harness.fresh()).open();
    t.after(() => store.close());
    await store.migrate();
    return store;
  }

  test('importLinks writes links whole (created time, creator, expiry, visits, rollups); exportLinks reads them back oldest first, a page at a time', async (t) => {
    const store = await migrated(t);
    const links = [
      link('first', { ...ROLLED, createdBy: null, forwardQuery: false }),
      link('second', { title: null, checkStatus: 403, expiresAt: new Date('2020-01-01T00:00:00.000Z'), maxVisits: 5 }),
      link('third', { createdBy: 'form', createdAt: new Date('2019-12-31T23:59:59.999Z') }),
    ];
    assert.deepEqual(await store.importLinks(links, { overwrite: false }), [
      { kind: 'imported' },
      { kind: 'imported' },
      { kind: 'imported' },
    ]);
    await store.create({ name: 'made-here', uri: 'https://example.com/here', title: null, checkStatus: 200 });
    await store.delete('second');

    const { links: exported, pages } = await exportAll(store, 2);
    assert.equal(pages, 2);
    assert.deepEqual(
      exported.map((item) => item.name),
      ['first', 'third', 'made-here'],
      'oldest first by insertion, whatever the created time; a deleted link leaves a gap only',
    );
    assert.deepEqual(exported[0], links[0]);
    assert.deepEqual(exported[1], links[2]);
    assert.equal((await store.get('first'))?.visits, 9);
    assert.deepEqual(await store.visitSeries('first', 'hour', 480_000, 480_002), [
      { bucket: 480_000, visits: 2, bots: 1 },
      { bucket: 480_001, visits: 3, bots: 0 },
    ]);
    await assert.rejects(store.exportLinks({ limit: 2, cursor: 'forged' }), InvalidCursorError);
  });

  test('a re-import skips a name with the same target and reports another target as a conflict; overwrite replaces the link and its rollups', async (t) => {
    const store = await migrated(t);
    await store.importLinks([link('kept', ROLLED), link('other')], { overwrite: false });
    const again = await store.importLinks(
      [
        link('kept', { visits: 1 }),
        link('other', { uri: 'https://example.org/moved' }),
        link('new'),
        link('new', { uri: 'https://example.org/x' }),
      ],
      { overwrite: false },
    );
    assert.deepEqual(again, [
      { kind: 'skipped' },
      { kind: 'conflict', existingUri: 'https://example.com/other' },
      { kind: 'imported' },
      { kind: 'conflict', existingUri: 'https://example.com/new' },
    ]);
    assert.equal((await store.get('kept'))?.visits, 9, 'a skipped link is not touched');
    assert.equal(await store.resolve('other'), 'https://example.com/other');

    const replacement = link('kept', { uri: 'https://example.org/kept', visits: 1, hours: [{ hour: 480_005, visits: 1, bots: 0 }] });
    assert.deepEqual(await store.importLinks([replacement], { overwrite: true }), [
      { kind: 'overwritten', previousUri: 'https://example.com/kept' },
    ]);
    const { links } = await exportAll(store, 10);
    assert.deepEqual(links[0], replacement, 'the same row (first still), every field and rollup replaced');
    assert.equal(await store.count(), 3);
  });

  test('a batch is one transaction: a link the store refuses leaves none of its batch written', async (t) => {
    const store = await migrated(t);
    const duplicateHour = link('broken', {
      hours: [
        { hour: 1, visits: 1, bots: 0 },
        { hour: 1, visits: 2, bots: 0 },
      ],
    });
    await assert.rejects(store.importLinks([link('fine'), duplicateHour], { overwrite: false }));
    assert.equal(await store.count(), 0);
    assert.equal(await store.get('fine'), undefined);
    assert.deepEqual(await store.importLinks([link('fine')], { overwrite: false }), [{ kind: 'imported' }], 'the store still works');
  });

  test('two imports of the same names at once (two connections): each name is written once, the other import skips it or reports the conflict', async (t) => {
    const target = await harness.fresh();
    const [first, second] = [target.open(), target.open()];
    t.after(() => Promise.all([first.close(), second.close()]));
    await first.migrate();
    await second.migrate();
    const batch = Array.from({ length: 300 }, (_, index) => link(`n${index}`));
    const rival = batch.map((item, index) => (index % 2 === 0 ? item : { ...item, uri: `${item.uri}/rival` }));

    const [mine, theirs] = await Promise.all([
      first.importLinks(batch, { overwrite: false }),
      second.importLinks(rival, { overwrite: false }),
    ]);
    for (const [index, outcome] of mine.entries()) {
      const kinds = [outcome.kind, theirs[index]?.kind].sort();
      assert.deepEqual(kinds, index % 2 === 0 ? ['imported', 'skipped'] : ['conflict', 'imported'], `n${index}`);
    }
    assert.equal(await first.count(), 300);
  });
}
