import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyAgent } from '../../src/stats/classify.ts';
import { foldBefore } from '../../src/stats/retention.ts';
import { MAX_VALUES_PER_DIMENSION, OTHER, VisitRollups } from '../../src/stats/rollups.ts';
import { HOUR_MS } from '../../src/store/stats-types.ts';

const FIREFOX = classifyAgent('Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0');
const CURL = classifyAgent('curl/8.5.0');
const NOON = Date.UTC(2026, 11, 1, 12, 30);

describe('VisitRollups', () => {
  test('the rarest values past the bound become "other", and every visit is still counted', () => {
    const rollups = new VisitRollups(10);
    const referrers = MAX_VALUES_PER_DIMENSION + 8;
    for (let i = 0; i < referrers; i++) rollups.add('a', { agent: FIREFOX, referrer: `site-${i}.example` }, NOON);
    const { dimensions } = rollups.rows();
    const seen = dimensions.filter((row) => row.dimension === 'referrer');
    assert.equal(seen.length, MAX_VALUES_PER_DIMENSION + 1);
    assert.deepEqual(
      seen.find((row) => row.value === OTHER),
      { name: 'a', day: Math.floor(NOON / HOUR_MS / 24), dimension: 'referrer', value: OTHER, visits: 8 },
    );
    assert.equal(
      seen.reduce((sum, row) => sum + row.visits, 0),
      referrers,
    );
  });

  test('hours apart, dimension values summed per day; bots only in bots and their family', () => {
    const rollups = new VisitRollups(10);
    rollups.add('a', { agent: FIREFOX, referrer: 'direct' }, NOON);
    rollups.add('a', { agent: FIREFOX, referrer: 'direct' }, NOON + HOUR_MS);
    rollups.add('a', { agent: CURL, referrer: 'direct' }, NOON + HOUR_MS);
    const hour = Math.floor(NOON / HOUR_MS);
    const { hours, dimensions } = rollups.rows();
    assert.deepEqual(hours, [
      { name: 'a', hour, visits: 1, bots: 0 },
      { name: 'a', hour: hour + 1, visits: 1, bots: 1 },
    ]);
    assert.deepEqual(
      dimensions.map((row) => [row.dimension, row.value, row.visits]),
      [
        ['referrer', 'direct', 2],
        ['browser', 'Firefox', 2],
        ['os', 'Linux', 2],
        ['device', 'desktop', 2],
        ['bot', 'curl', 1],
      ],
    );
    assert.deepEqual(rollups.totals, { visits: 2, bots: 1 });
  });

  test('refuses links past its bound, counted over every hour it holds', () => {
    const rollups = new VisitRollups(3);
    assert.equal(rollups.add('a', { agent: FIREFOX, referrer: 'direct' }, NOON), true);
    assert.equal(rollups.add('b', { agent: FIREFOX, referrer: 'direct' }, NOON), true);
    assert.equal(rollups.add('a', { agent: FIREFOX, referrer: 'direct' }, NOON + HOUR_MS), true, 'a again, the next hour');
    assert.equal(rollups.add('c', { agent: FIREFOX, referrer: 'direct' }, NOON + HOUR_MS), false);
    assert.equal(rollups.add('b', { agent: FIREFOX, referrer: 'direct' }, NOON), true, 'a link already held is still counted');
  });
});

test('the fold keeps STATS_HOURLY_DAYS whole UTC days of hours before today', () => {
  assert.equal(foldBefore(NOON, 35), Date.UTC(2026, 11, 1) / HOUR_MS - 35 * 24);
});
