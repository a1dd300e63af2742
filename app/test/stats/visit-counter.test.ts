import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../../test/support/index.ts';
import { classifyAgent } from '../../src/stats/classify.ts';
import { ROLLUP_LINKS_DUE } from '../../src/stats/rollups.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { HOUR_MS } from '../../src/store/stats-types.ts';
import { VisitCounter } from '../../src/visits.ts';

const FIREFOX = classifyAgent('Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0');
const SLACK = classifyAgent('Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)');

test('totals go with every flush, rollups every STATS_FLUSH_MS and at close; bots never in the total', async (t) => {
  const store = new SqliteStore({ file: join(tempDir(t), 'visits.sqlite') });
  t.after(() => store.close());
  await store.migrate();
  await store.create({ name: 'a', uri: 'https://example.com/', title: null, checkStatus: 200 });
  const errors: unknown[] = [];
  const visits = new VisitCounter(store, 60_000, (error) => errors.push(error), { stats: true, statsFlushMs: 60_000 });
  visits.record('a', { agent: FIREFOX, referrer: 'direct' });
  visits.record('a', { agent: FIREFOX, referrer: 'direct' });
  visits.record('a', { agent: SLACK, referrer: 'direct' });
  assert.equal(visits.pending, 3, 'people and bots waiting');

  const hour = Math.floor(Date.now() / HOUR_MS);
  const series = () => store.visitSeries('a', 'hour', hour - 1, hour + 2);
  await visits.flush();
  assert.equal((await store.get('a'))?.visits, 2, 'the total: people only');
  assert.deepEqual(await series(), [], 'the rollups wait for their interval');
  assert.equal(visits.pending, 1, 'the bot, counted in the rollups only');

  visits.record('a', { agent: FIREFOX, referrer: 'direct' });
  await visits.close();
  assert.equal((await store.get('a'))?.visits, 3);
  const buckets = await series();
  assert.equal(
    buckets.reduce((sum, bucket) => sum + bucket.visits, 0),
    3,
    'close carried every rollup',
  );
  assert.equal(
    buckets.reduce((sum, bucket) => sum + bucket.bots, 0),
    1,
  );
  assert.deepEqual(errors, []);
});

test('rollups holding ROLLUP_LINKS_DUE links go with the next flush, before STATS_FLUSH_MS', async (t) => {
  const store = new SqliteStore({ file: join(tempDir(t), 'visits.sqlite') });
  t.after(() => store.close());
  await store.migrate();
  await store.create({ name: 'a', uri: 'https://example.com/', title: null, checkStatus: 200 });
  const errors: unknown[] = [];
  const visits = new VisitCounter(store, 60_000, (error) => errors.push(error), { stats: true, statsFlushMs: 3_600_000 });
  t.after(() => visits.close());
  const hour = Math.floor(Date.now() / HOUR_MS);
  const rollupVisits = async () =>
    (await store.visitSeries('a', 'hour', hour - 1, hour + 2)).reduce((sum, bucket) => sum + bucket.visits, 0);

  // Names the store does not hold count towards the bound like any other (traffic over many links).
  visits.record('a', { agent: FIREFOX, referrer: 'direct' });
  for (let i = 1; i < ROLLUP_LINKS_DUE - 1; i++) visits.record(`absent-${i}`, { agent: FIREFOX, referrer: 'direct' });
  await visits.flush();
  assert.equal(await rollupVisits(), 0, `${ROLLUP_LINKS_DUE - 1} links: the rollups wait`);

  visits.record(`absent-${ROLLUP_LINKS_DUE}`, { agent: FIREFOX, referrer: 'direct' });
  await visits.flush();
  assert.equal(await rollupVisits(), 1, `${ROLLUP_LINKS_DUE} links: written with the flush`);
  assert.equal((await store.get('a'))?.visits, 1);
  assert.deepEqual(errors, []);
});
