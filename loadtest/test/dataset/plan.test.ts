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
import { bookmarksTable } from '../../src/dataset/tables.ts';

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
