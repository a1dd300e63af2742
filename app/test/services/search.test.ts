import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { tempDir } from '../../../test/support/index.ts';
import { createChecker } from '../../src/check/create-checker.ts';
import { DomainError } from '../../src/errors.ts';
import { createMetrics } from '../../src/metrics.ts';
import { BookmarkService } from '../../src/services/bookmarks.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { VisitCounter } from '../../src/visits.ts';
import { testConfig } from '../helpers.ts';

describe('BookmarkService.search', () => {
  it('answers 503 SEARCH_INDEXING with Retry-After 30 while an existing store is being indexed, and QUERY_TOO_SHORT below 3 characters', async (t) => {
    const file = join(tempDir(t), 'linkyard.sqlite');
    const store = new SqliteStore({ file });
    await store.migrate();
    await store.create({ name: 'old', uri: 'https://example.com/needle', title: null, checkStatus: 200 });
    // What migration 6 leaves on a store that had rows: none indexed yet.
    const db = new Database(file);
    db.exec('DELETE FROM bookmarks_search; UPDATE search_backfill SET below = (SELECT max(id) + 1 FROM bookmarks)');
    db.close();
    const checker = createChecker(testConfig());
    const visits = new VisitCounter(store, 1000, () => {});
    t.after(async () => {
      await visits.close();
      await checker.close();
      await store.close();
    });
    const service = new BookmarkService({
      store,
      checker,
      visits,
      metrics: createMetrics({ checker, visits }),
      redirectCacheMs: 0,
      redirectCacheNames: 0,
    });

    const refusedAs = (code: string, retryAfter?: number) => (error: unknown) =>
      error instanceof DomainError &&
      error.code === code &&
      error.statusCode === (code === 'SEARCH_INDEXING' ? 503 : 400) &&
      error.retryAfter === retryAfter;
    await assert.rejects(service.search('needle', 10), refusedAs('SEARCH_INDEXING', 30));
    await assert.rejects(service.search(' ne ', 10), refusedAs('QUERY_TOO_SHORT'));
    while (!(await store.searchIndexStep())) {}
    assert.deepEqual(
      (await service.search('needle', 10)).items.map((item) => item.name),
      ['old'],
    );
  });
});
