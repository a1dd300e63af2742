import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startTarget } from '../../../test/support/index.ts';
import { buildApp } from '../../src/app.ts';
import { PostgresStore } from '../../src/store/postgres.ts';
import type { RedirectTarget } from '../../src/store/types.ts';
import { htmlPage, startApp, testConfig } from '../helpers.ts';
import { postgresSkip, testDatabaseUrl, uniqueSchema } from '../store/pg-env.ts';

/** The real PostgreSQL store, counting the reads it is asked for. */
class CountingStore extends PostgresStore {
  reads = 0;
  override resolveTarget(name: string): Promise<RedirectTarget | undefined> {
    this.reads++;
    return super.resolveTarget(name);
  }
}

describe('GET /<name> reads of the store', { skip: postgresSkip }, () => {
  it('share one read among the requests for a name that arrive while it is being read', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const store = new CountingStore({ connectionString: testDatabaseUrl, schema: uniqueSchema() });
    await store.migrate();
    // No cache: every redirect is a miss, so only the sharing can spare reads.
    const app = await buildApp(testConfig({ redirectCacheMs: 0, check: { allowPrivate: true } }), { store });
    t.after(() => app.close());
    await app.inject({ method: 'POST', url: '/api/bookmarks', payload: { uri: `${target.url}/`, name: 'busy' } });

    const answers = await Promise.all(Array.from({ length: 20 }, () => app.inject('/busy')));
    assert.deepEqual(
      answers.map((answer) => answer.statusCode),
      Array(20).fill(303),
    );
    assert.ok(store.reads < 20, `20 concurrent redirects of one name read the store ${store.reads} times`);
    const text = (await app.inject('/metrics')).body;
    assert.match(text, /^linkyard_visits_total 20$/m, 'each request still counts its visit');

    const before = store.reads;
    assert.equal((await app.inject('/busy')).statusCode, 303);
    assert.equal(store.reads, before + 1, 'a read once settled is not reused: the next miss reads again');
  });
});

describe('GET /<name> reads of SQLite', () => {
  it('answer a miss read at once, and a read that throws through the error handler as the API’s read (as the promise’s rejection did), then redirect again', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    // No cache: every redirect is a miss, read from the file.
    const { url, config } = await startApp(t, { redirectCacheMs: 0 });
    const created = await fetch(`${url}/api/bookmarks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uri: `${target.url}/`, name: 'moved' }),
    });
    assert.equal(created.status, 201);
    const redirect = () => fetch(`${url}/moved`, { redirect: 'manual' });
    assert.equal((await redirect()).status, 303);
    assert.equal((await fetch(`${url}/nobody`, { redirect: 'manual' })).status, 404);

    // The table gone from under the app (another process renamed it): every read of it fails.
    const rival = new Database(join(config.dataDir, 'linkyard.sqlite'));
    t.after(() => rival.close());
    rival.exec('ALTER TABLE bookmarks RENAME TO bookmarks_away');
    const failed = await redirect();
    const apiRead = await fetch(`${url}/api/bookmarks/moved`);
    assert.equal(failed.status, 500);
    assert.equal(apiRead.status, 500);

    rival.exec('ALTER TABLE bookmarks_away RENAME TO bookmarks');
    const again = await redirect();
    assert.equal(again.status, 303);
    assert.equal(again.headers.get('location'), `${target.url}/`);
  });
});
