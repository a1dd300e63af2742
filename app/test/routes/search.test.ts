import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { escapeIdentifier } from 'pg';
import { eventually, startTarget } from '../../../test/support/index.ts';
import type { BookmarkJson } from '../../src/routes/api.ts';
import { PostgresStore } from '../../src/store/postgres.ts';
import { htmlPage, startApp } from '../helpers.ts';
import { postgresSkip, scratchSchema, testDatabaseUrl } from '../store/pg-env.ts';

interface Page {
  items: BookmarkJson[];
  nextCursor: string | null;
  partial: boolean;
}

async function create(url: string, uri: string, name: string): Promise<void> {
  const response = await fetch(`${url}/api/bookmarks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ uri, name }),
  });
  assert.equal(response.status, 201);
}

describe('search: GET /api/bookmarks?q= and the page’s search box', () => {
  it('finds by name, target or title, newest first, paginated; too short is 400; the page shows the results', async (t) => {
    const target = await startTarget(t, htmlPage('Quarterly Report'));
    const { url } = await startApp(t);
    await create(url, `${target.url}/one`, 'alpha');
    await create(url, `${target.url}/needle/two`, 'beta');
    await create(url, `${target.url}/three`, 'needle-gamma');
    const found = (await (await fetch(`${url}/api/bookmarks?q=NEEDLE`)).json()) as Page;
    assert.deepEqual(
      found.items.map((item) => item.name),
      ['needle-gamma', 'beta'],
    );
    const byTitle = (await (await fetch(`${url}/api/bookmarks?q=quarterly&limit=2`)).json()) as Page;
    assert.deepEqual(
      byTitle.items.map((item) => item.name),
      ['needle-gamma', 'beta'],
    );
    const rest = (await (await fetch(`${url}/api/bookmarks?q=quarterly&limit=2&cursor=${byTitle.nextCursor}`)).json()) as Page;
    assert.deepEqual([rest.items.map((item) => item.name), rest.nextCursor], [['alpha'], null]);

    const short = await fetch(`${url}/api/bookmarks?q=ne`);
    assert.equal(short.status, 400);
    assert.equal(((await short.json()) as { error: string }).error, 'QUERY_TOO_SHORT');
    assert.equal((await fetch(`${url}/api/bookmarks?q=${'x'.repeat(201)}`)).status, 400);

    const page = await (await fetch(`${url}/?q=needle`)).text();
    assert.match(page, /<input id="q" name="q" type="search"[^>]* value="needle"/);
    assert.match(page, /href="\/needle-gamma"/);
    assert.doesNotMatch(page, /href="\/alpha"/);
    assert.match(await (await fetch(`${url}/?q=zzzzz`)).text(), /Nothing matches &#39;zzzzz&#39;|Nothing matches 'zzzzz'/);
  });

  it('indexes an existing store in the background after start-up, then finds its links', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const first = await startApp(t);
    await create(first.url, `${target.url}/needle`, 'old');
    await first.app.close();
    // What migration 6 leaves on a store that had rows: none indexed yet.
    const db = new Database(join(first.config.dataDir, 'linkyard.sqlite'));
    db.exec('DELETE FROM bookmarks_search; UPDATE search_backfill SET below = (SELECT max(id) + 1 FROM bookmarks)');
    db.close();
    const { url } = await startApp(t, { dataDir: first.config.dataDir });
    const found = async () => {
      const response = await fetch(`${url}/api/bookmarks?q=needle`);
      return response.status === 200 && ((await response.json()) as Page).items.length === 1;
    };
    assert.ok(await eventually(found, 5000), 'indexed in the background');
  });
});

describe('search within its budget (PostgreSQL, SEARCH_BUDGET_MS=0: one window of ids a request)', { skip: postgresSkip }, () => {
  it('answers partial pages that say so, in the API and on the page, and reaches every match by their cursors', async (t) => {
    const { schema, admin } = await scratchSchema(t);
    const store = new PostgresStore({ connectionString: testDatabaseUrl, schema });
    await store.migrate();
    // Two matches 2 900 ids apart: the window between them (FIRST_SCAN_WINDOW, 1 024 ids) holds none.
    await admin.query(
      `INSERT INTO ${escapeIdentifier(schema)}.bookmarks (name, uri, title, check_status)
       SELECT 'n' || i, 'https://example.com/' || i, CASE WHEN i IN (100, 3000) THEN 'Kernel tuning report' ELSE 'Kernel notes' END, 200
       FROM generate_series(1, 3000) AS i`,
    );
    assert.equal(await store.searchIndexStep(), true);
    const { url } = await startApp(t, { searchBudgetMs: 0 }, { store });

    const q = encodeURIComponent('kernel tuning report');
    const pages: Page[] = [];
    for (let cursor = ''; pages.length < 10; ) {
      const page = (await (await fetch(`${url}/api/bookmarks?q=${q}${cursor}`)).json()) as Page;
      pages.push(page);
      if (page.nextCursor === null) break;
      cursor = `&cursor=${page.nextCursor}`;
    }
    assert.deepEqual(
      pages.map((page) => [page.items.map((item) => item.name), page.partial]),
      [
        [['n3000'], true],
        [[], true],
        [['n100'], false],
      ],
    );
    const list = (await (await fetch(`${url}/api/bookmarks?limit=1`)).json()) as Page;
    assert.equal(list.partial, false, 'the list is never partial');
    const listAtScan = await fetch(`${url}/api/bookmarks?cursor=${pages[0]?.nextCursor}`);
    assert.equal(listAtScan.status, 400, "a partial search's cursor is not the list's");
    assert.equal(((await listAtScan.json()) as { error: string }).error, 'INVALID_CURSOR');
    for (const forged of ['s0', 's12x', 'ss1'].map((text) => Buffer.from(text).toString('base64url'))) {
      const refused = await fetch(`${url}/api/bookmarks?q=${q}&cursor=${forged}`);
      assert.equal(refused.status, 400, `a forged scanning cursor ${forged}`);
      assert.equal(((await refused.json()) as { error: string }).error, 'INVALID_CURSOR');
    }

    const first = await (await fetch(`${url}/?q=${q}`)).text();
    assert.match(first, /href="\/n3000"/);
    assert.match(first, /<p class="partial" role="status">The search stopped here to stay quick: older links may match/);
    assert.match(
      first,
      new RegExp(`<a class="older" href="/\\?q=${q}&amp;cursor=${pages[0]?.nextCursor}" rel="next">Search older links →</a>`),
    );
    const empty = await (await fetch(`${url}/?q=${q}&cursor=${pages[0]?.nextCursor}`)).text();
    assert.doesNotMatch(empty, /Nothing matches/, 'an empty partial page is not "nothing matches"');
    assert.match(empty, /class="partial"/);
    const last = await (await fetch(`${url}/?q=${q}&cursor=${pages[1]?.nextCursor}`)).text();
    assert.match(last, /href="\/n100"/);
    assert.doesNotMatch(last, /class="partial"|Search older links/);
  });
});
