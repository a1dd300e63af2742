/** The stats part of the BookmarkStore contract (decision 0019), run by storeContract on both engines. */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import { classifyAgent } from '../../src/stats/classify.ts';
import { VisitRollups } from '../../src/stats/rollups.ts';
import { HOUR_MS } from '../../src/store/stats-types.ts';
import type { BookmarkStore } from '../../src/store/types.ts';
import type { StoreHarness } from './contract.ts';

const CHROME = classifyAgent(
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
);
const IPHONE = classifyAgent(
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
);
const SLACK = classifyAgent('Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)');

/** 2026-12-01T00:00Z in epoch hours: a day boundary. */
const DAY_START_HOUR = Date.UTC(2026, 11, 1) / HOUR_MS;
const DAY = DAY_START_HOUR / 24;

async function storeWith(t: TestContext, harness: StoreHarness, names: string[]): Promise<BookmarkStore> {
  const target = await harness.fresh();
  const store = target.open();
  t.after(() => store.close());
  await store.migrate();
  for (const name of names) await store.create({ name, uri: `https://example.com/${name}`, title: null, checkStatus: 200 });
  return store;
}

/** Folds hour by hour, as the retention timer does, until nothing is left before `beforeHour`. */
async function foldAll(store: BookmarkStore, beforeHour: number): Promise<number> {
  let moved = 0;
  for (let rows = await store.foldHours(beforeHour); rows > 0; rows = await store.foldHours(beforeHour)) moved += rows;
  return moved;
}

/** A batch as VisitCounter makes it: people from Chrome (search) and an iPhone (direct), one Slack unfurl, over two hours. */
function sampleBatch(name: string) {
  const rollups = new VisitRollups(1000);
  const at = (hour: number) => (DAY_START_HOUR + hour) * HOUR_MS + 1234;
  rollups.add(name, { agent: CHROME, referrer: 'google.com' }, at(0));
  rollups.add(name, { agent: CHROME, referrer: 'google.com' }, at(0));
  rollups.add(name, { agent: IPHONE, referrer: 'direct' }, at(1));
  rollups.add(name, { agent: SLACK, referrer: 'direct' }, at(1));
  rollups.add('ghost', { agent: CHROME, referrer: 'direct' }, at(1));
  return rollups.rows();
}

export function statsContract(harness: StoreHarness): void {
  test('stats: a batch writes hours and dimension values with its counts; names gone are ignored', async (t) => {
    const store = await storeWith(t, harness, ['a']);
    await store.addVisits(new Map([['a', 3]]), 'batch-1', sampleBatch('a'));

    assert.equal((await store.get('a'))?.visits, 3);
    assert.deepEqual(await store.visitSeries('a', 'hour', DAY_START_HOUR, DAY_START_HOUR + 24), [
      { bucket: DAY_START_HOUR, visits: 2, bots: 0 },
      { bucket: DAY_START_HOUR + 1, visits: 1, bots: 1 },
    ]);
    assert.deepEqual(await store.visitSeries('a', 'day', DAY - 1, DAY + 1), [{ bucket: DAY, visits: 3, bots: 1 }]);
    assert.deepEqual(await store.visitSeries('a', 'hour', DAY_START_HOUR + 1, DAY_START_HOUR + 2), [
      { bucket: DAY_START_HOUR + 1, visits: 1, bots: 1 },
    ]);
    assert.deepEqual(await store.topValues('a', DAY, DAY + 1), [
      { dimension: 'bot', value: 'Slackbot', visits: 1 },
      { dimension: 'browser', value: 'Chrome', visits: 2 },
      { dimension: 'browser', value: 'Mobile Safari', visits: 1 },
      { dimension: 'device', value: 'desktop', visits: 2 },
      { dimension: 'device', value: 'mobile', visits: 1 },
      { dimension: 'os', value: 'Windows', visits: 2 },
      { dimension: 'os', value: 'iOS', visits: 1 },
      { dimension: 'referrer', value: 'google.com', visits: 2 },
      { dimension: 'referrer', value: 'direct', visits: 1 },
    ]);
    assert.deepEqual(await store.topValues('a', DAY + 1, DAY + 2), []);
    assert.deepEqual(await store.visitSeries('ghost', 'day', DAY - 1, DAY + 1), []);
  });

  test('stats: a batch retried under the same id adds its rollups once, from any connection', async (t) => {
    const target = await harness.fresh();
    const store = target.open();
    const other = target.open();
    t.after(() => Promise.all([store.close(), other.close()]));
    await store.migrate();
    await other.migrate();
    await store.create({ name: 'a', uri: 'https://example.com/a', title: null, checkStatus: 200 });
    const batch = sampleBatch('a');
    await store.addVisits(new Map([['a', 3]]), 'retried', batch);
    await other.addVisits(new Map([['a', 3]]), 'retried', batch);
    // Only bots in a batch: nothing for the total, the rollups all the same.
    const bots = new VisitRollups(10);
    bots.add('a', { agent: SLACK, referrer: 'direct' }, DAY_START_HOUR * HOUR_MS);
    await other.addVisits(new Map(), 'bots-only', bots.rows());
    assert.equal((await store.get('a'))?.visits, 3);
    assert.deepEqual(await store.visitSeries('a', 'day', DAY, DAY + 1), [{ bucket: DAY, visits: 3, bots: 2 }]);
  });

  test('stats: folding old hours into days keeps every day total, once however many processes fold', async (t) => {
    const target = await harness.fresh();
    const store = target.open();
    const other = target.open();
    t.after(() => Promise.all([store.close(), other.close()]));
    await store.migrate();
    await other.migrate();
    await store.create({ name: 'a', uri: 'https://example.com/a', title: null, checkStatus: 200 });
    await store.addVisits(new Map([['a', 3]]), 'day-1', sampleBatch('a'));
    const nextDay = new VisitRollups(10);
    nextDay.add('a', { agent: CHROME, referrer: 'direct' }, (DAY_START_HOUR + 24 + 5) * HOUR_MS);
    await store.addVisits(new Map([['a', 1]]), 'day-2', nextDay.rows());
    const before = await store.visitSeries('a', 'day', DAY - 1, DAY + 3);

    const moved = await Promise.all([foldAll(store, DAY_START_HOUR + 24), foldAll(other, DAY_START_HOUR + 24)]);
    assert.equal(moved[0] + moved[1], 2, 'the two hour rows of the first day, moved once');
    assert.deepEqual(await store.visitSeries('a', 'day', DAY - 1, DAY + 3), before);
    assert.deepEqual(before, [
      { bucket: DAY, visits: 3, bots: 1 },
      { bucket: DAY + 1, visits: 1, bots: 0 },
    ]);
    assert.deepEqual(await store.visitSeries('a', 'hour', DAY_START_HOUR, DAY_START_HOUR + 48), [
      { bucket: DAY_START_HOUR + 29, visits: 1, bots: 0 },
    ]);

    // A late batch for a folded day lands in its hours and still adds up.
    await store.addVisits(new Map([['a', 3]]), 'late', sampleBatch('a'));
    assert.equal(await store.foldHours(DAY_START_HOUR + 24), 1, 'one hour a call');
    assert.equal(await foldAll(store, DAY_START_HOUR + 24), 1);
    assert.deepEqual(await store.visitSeries('a', 'day', DAY, DAY + 1), [{ bucket: DAY, visits: 6, bots: 2 }]);
  });

  test('stats: daily people of several links in one call; a deleted link takes its stats along', async (t) => {
    const store = await storeWith(t, harness, ['a', 'b', 'c']);
    const rollups = new VisitRollups(10);
    for (const [name, hour] of [
      ['a', 0],
      ['a', 1],
      ['a', 30],
      ['b', 2],
    ] as const) {
      rollups.add(name, { agent: CHROME, referrer: 'direct' }, (DAY_START_HOUR + hour) * HOUR_MS);
    }
    rollups.add('b', { agent: SLACK, referrer: 'direct' }, DAY_START_HOUR * HOUR_MS);
    await store.addVisits(
      new Map([
        ['a', 3],
        ['b', 1],
      ]),
      'batch',
      rollups.rows(),
    );
    assert.deepEqual(await store.dailyVisits(['a', 'b', 'c', 'ghost'], DAY), [
      { name: 'a', day: DAY, visits: 2 },
      { name: 'a', day: DAY + 1, visits: 1 },
      { name: 'b', day: DAY, visits: 1 },
    ]);
    assert.deepEqual(await store.dailyVisits(['a'], DAY + 1), [{ name: 'a', day: DAY + 1, visits: 1 }]);
    assert.deepEqual(await store.dailyVisits([], DAY), []);

    assert.equal(await store.delete('a'), true);
    await store.create({ name: 'a', uri: 'https://example.com/again', title: null, checkStatus: 200 });
    assert.deepEqual(await store.visitSeries('a', 'day', DAY - 1, DAY + 3), []);
    assert.deepEqual(await store.topValues('a', DAY - 1, DAY + 3), []);
  });
}
