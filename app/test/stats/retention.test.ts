import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../../test/support/index.ts';
import { classifyAgent } from '../../src/stats/classify.ts';
import { foldOldHours } from '../../src/stats/retention.ts';
import { VisitRollups } from '../../src/stats/rollups.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { DAY_MS, HOUR_MS } from '../../src/store/stats-types.ts';

const FIREFOX = classifyAgent('Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0');

test('hours older than STATS_HOURLY_DAYS whole days fold into days; the daily series and the chart stay the same', async (t) => {
  const store = new SqliteStore({ file: join(tempDir(t), 'fold.sqlite') });
  t.after(() => store.close());
  await store.migrate();
  await store.create({ name: 'a', uri: 'https://example.com/', title: null, checkStatus: 200 });
  const now = Date.UTC(2026, 11, 7, 15, 20);
  const today = Math.floor(now / DAY_MS);
  const rollups = new VisitRollups(10);
  // Three visits 40 days ago over 3 hours, two 35 days ago (kept: the cut is 35 whole days back), one today.
  for (const [daysAgo, hour] of [
    [40, 1],
    [40, 2],
    [40, 23],
    [35, 0],
    [35, 5],
    [0, 14],
  ] as const) {
    rollups.add('a', { agent: FIREFOX, referrer: 'direct' }, (today - daysAgo) * DAY_MS + hour * HOUR_MS);
  }
  await store.addVisits(new Map([['a', 6]]), 'history', rollups.rows());
  const days = () => store.visitSeries('a', 'day', today - 60, today + 1);
  const before = await days();

  assert.equal(await foldOldHours(store, 35, now), 3, 'the three hours of 40 days ago');
  assert.deepEqual(await days(), before);
  assert.deepEqual(
    (await store.visitSeries('a', 'hour', (today - 60) * 24, (today + 1) * 24)).map((bucket) => bucket.bucket - today * 24),
    [-35 * 24, -35 * 24 + 5, 14],
    'the hours within the retention stay hours',
  );
  assert.equal(await foldOldHours(store, 35, now), 0, 'nothing twice');
  assert.equal(await foldOldHours(store, 8, now), 2);
  assert.deepEqual(await days(), before);
});
