import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NAME_PATTERN, RESERVED_NAMES } from '../../../app/src/services/validation.ts';
import {
  createdAtOf,
  type DatasetPlan,
  DEFAULT_END_MS,
  harmonic,
  indexOfRank,
  nameKey,
  nameOf,
  rankOf,
  SPAN_MS,
  visitsOf,
} from '../../src/dataset/plan.ts';
import { bookmarksTable, HOURLY_DAYS, hourlyDaysFor, linkRollups, rollupTables } from '../../src/dataset/tables.ts';

const plan: DatasetPlan = { links: 50_000, visits: 1_000_000, seed: 7, endMs: DEFAULT_END_MS };

describe('dataset plan', () => {
  it('names every link uniquely, 6–12 valid characters, none reserved', () => {
    const key = nameKey(plan);
    const names = new Set<string>();
    for (let index = 0; index < plan.links; index++) {
      const name = nameOf(key, index);
      assert.ok(NAME_PATTERN.test(name) && name.length >= 6 && name.length <= 12, name);
      assert.ok(!RESERVED_NAMES.has(name.toLowerCase()), name);
      names.add(name);
    }
    assert.equal(names.size, plan.links);
  });

  it('maps Zipf ranks to links one to one, and back', () => {
    const key = nameKey(plan);
    const seen = new Set<number>();
    for (let rank = 1; rank <= plan.links; rank++) {
      const index = indexOfRank(key, plan.links, rank);
      assert.equal(rankOf(key, plan.links, index), rank);
      seen.add(index);
    }
    assert.equal(seen.size, plan.links);
  });

  it('spreads the visits by rank (s = 1) to about the planned total, and created_at over 90 days in id order', () => {
    const key = nameKey(plan);
    const normaliser = harmonic(plan.links);
    let total = 0;
    for (let index = 0; index < plan.links; index++) total += visitsOf(plan, key, normaliser, index);
    assert.ok(Math.abs(total - plan.visits) < plan.visits * 0.01, `total ${total}`);
    const top = visitsOf(plan, key, normaliser, indexOfRank(key, plan.links, 1));
    const tenth = visitsOf(plan, key, normaliser, indexOfRank(key, plan.links, 10));
    assert.ok(Math.abs(top / tenth - 10) < 0.01, `${top} / ${tenth}`);
    assert.ok(createdAtOf(plan, 0) >= plan.endMs - SPAN_MS && createdAtOf(plan, plan.links - 1) < plan.endMs);
    assert.ok(createdAtOf(plan, 1000) < createdAtOf(plan, 1001));
  });

  it('makes the same rows from the same seed, in any order, and other rows from another', () => {
    const table = bookmarksTable(plan);
    const forward = [0, 1, 2, 49_999].map((index) => table.row(index));
    const again = bookmarksTable({ ...plan }).row(49_999);
    assert.deepEqual(again, forward[3]);
    assert.notDeepEqual(bookmarksTable({ ...plan, seed: 8 }).row(0), forward[0]);
    for (const row of forward) {
      const uri = String(row[2]);
      assert.ok(uri.length >= 40 && uri.length <= 200 && URL.canParse(uri), uri);
    }
  });
});

describe('dataset rollups', () => {
  it("spreads each link's visits over its rollups from its creation to the plan's end, hours for the last 35 days", () => {
    const key = nameKey(plan);
    const normaliser = harmonic(plan.links);
    const hourlyFrom = plan.endMs - HOURLY_DAYS * 86_400_000;
    for (const index of [indexOfRank(key, plan.links, 1), indexOfRank(key, plan.links, 2000), 0, plan.links - 1]) {
      const visits = visitsOf(plan, key, normaliser, index);
      const rollups = linkRollups(plan, visits, index);
      const counted = [...rollups.hours.values(), ...rollups.days.values()].reduce((sum, counts) => sum + counts.visits + counts.bots, 0);
      assert.equal(counted, visits);
      const createdHour = Math.floor(createdAtOf(plan, index) / 3_600_000);
      for (const hour of rollups.hours.keys())
        assert.ok(hour >= Math.floor(hourlyFrom / 3_600_000) && hour >= createdHour && hour * 3_600_000 < plan.endMs);
      for (const day of rollups.days.keys()) assert.ok(day * 86_400_000 < hourlyFrom && day >= Math.floor(createdHour / 24));
      // People carry four dimensions a visit, bots one.
      const bots = [...rollups.hours.values(), ...rollups.days.values()].reduce((sum, counts) => sum + counts.bots, 0);
      const dimensionVisits = [...rollups.dimensions.values()].flatMap((values) => [...values.values()]).reduce((a, b) => a + b, 0);
      assert.equal(dimensionVisits, 4 * (visits - bots) + bots);
    }
    const top = linkRollups(plan, visitsOf(plan, key, normaliser, indexOfRank(key, plan.links, 1)), indexOfRank(key, plan.links, 1));
    assert.ok(top.hours.size > 100, `the most visited link has visits in ${top.hours.size} hours`);
  });

  it('makes the same rollup rows again for a link, as a resumed run does', () => {
    const tables = rollupTables(plan);
    const again = rollupTables({ ...plan });
    for (const [i, table] of tables.entries()) {
      assert.deepEqual(again[i]?.rowsOf(1234), table.rowsOf(1234));
      for (const row of table.rowsOf(1234)) assert.equal(row[0], 1235);
    }
  });

  it("moves the apps' fold back to the plan's end: no hour of the plan is folded on any later day", () => {
    const now = Date.UTC(2026, 11, 7, 13);
    const hourlyDays = hourlyDaysFor(plan, now);
    const oldestKept = (Math.floor(now / 86_400_000) - hourlyDays) * 24;
    assert.ok(oldestKept * 3_600_000 <= plan.endMs - HOURLY_DAYS * 86_400_000);
  });
});
