import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually, PERSON_USER_AGENT, startTarget } from '../../../test/support/index.ts';
import type { BookmarkJson } from '../../src/routes/api.ts';
import { makeKey } from '../auth/keys-support.ts';
import { htmlPage, startApp } from '../helpers.ts';

function call(url: string, method: string, path: string, key?: string, body?: unknown, headers: Record<string, string> = {}) {
  // A person's browser: the redirects here count toward the visit limit (a bot's would not).
  const all: Record<string, string> = { 'user-agent': PERSON_USER_AGENT, ...headers };
  if (key !== undefined) all.authorization = `Bearer ${key}`;
  if (body !== undefined) all['content-type'] = 'application/json';
  return fetch(`${url}${path}`, { method, headers: all, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual' });
}

async function json<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

describe('expiry by date and by visits', () => {
  it('a link with a visit limit redirects that many times, then answers 410 (a page, or LINK_EXPIRED as JSON), stays listed as expired, and is renewed by an edit', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url, config } = await startApp(t, { redirectCacheMs: 60_000, visitsFlushMs: 50 });
    const root = await makeKey(t, config.dataDir, 'root', 'admin');
    const created = await call(url, 'POST', '/api/bookmarks', root, { uri: `${target.url}/`, name: 'thrice', maxVisits: 3 });
    assert.equal(created.status, 201);
    assert.equal((await json<BookmarkJson>(created)).maxVisits, 3);

    // Concurrent redirects on one process: exactly three pass (checked and counted in one turn).
    const statuses = await Promise.all(Array.from({ length: 6 }, () => call(url, 'GET', '/thrice').then((r) => r.status)));
    assert.deepEqual(statuses.toSorted(), [303, 303, 303, 410, 410, 410]);
    const page = await call(url, 'GET', '/thrice');
    assert.equal(page.status, 410);
    assert.match(await page.text(), /I knew &#39;thrice&#39;, but it has expired|I knew 'thrice', but it has expired/);
    const asJson = await call(url, 'GET', '/thrice', undefined, undefined, { accept: 'application/json' });
    assert.equal(asJson.status, 410);
    assert.deepEqual(await json(asJson), { error: 'LINK_EXPIRED', message: "'thrice' has expired." });

    // The list shows the visits written: expired once this process has flushed them.
    const listedExpired = async () =>
      (await json<{ items: BookmarkJson[] }>(await call(url, 'GET', '/api/bookmarks'))).items.find((item) => item.name === 'thrice')
        ?.expired;
    assert.ok(await eventually(async () => (await listedExpired()) === true, 2000), 'listed as expired');
    assert.match(await (await call(url, 'GET', '/')).text(), /<span class="badge expired">Expired<\/span>/);

    const renewed = await call(url, 'PATCH', '/api/bookmarks/thrice', root, { maxVisits: 5 });
    assert.equal(renewed.status, 200);
    assert.equal((await call(url, 'GET', '/thrice')).status, 303, 'renewed at once on this process');
    assert.equal((await call(url, 'PATCH', '/api/bookmarks/thrice', root, { maxVisits: null })).status, 200);
    for (let i = 0; i < 5; i++) assert.equal((await call(url, 'GET', '/thrice')).status, 303);
  });

  it('a link past its date answers 410 from memory too, and a date in the future renews it', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url, config } = await startApp(t, { redirectCacheMs: 60_000 });
    const root = await makeKey(t, config.dataDir, 'root', 'admin');
    const soon = new Date(Date.now() + 1500).toISOString();
    assert.equal((await call(url, 'POST', '/api/bookmarks', root, { uri: `${target.url}/`, name: 'brief', expiresAt: soon })).status, 201);
    assert.equal((await call(url, 'GET', '/brief')).status, 303); // now remembered for a minute
    await new Promise((resolve) => setTimeout(resolve, Date.parse(soon) - Date.now() + 50));
    assert.equal((await call(url, 'GET', '/brief')).status, 410);
    const json1 = await json<BookmarkJson>(await call(url, 'GET', '/api/bookmarks/brief'));
    assert.deepEqual([json1.expired, json1.expiresAt], [true, soon]);

    const later = new Date(Date.now() + 3_600_000).toISOString();
    assert.equal((await call(url, 'PATCH', '/api/bookmarks/brief', root, { expiresAt: later })).status, 200);
    assert.equal((await call(url, 'GET', '/brief')).status, 303);
    assert.equal((await call(url, 'PATCH', '/api/bookmarks/brief', root, { expiresAt: null })).status, 200);
    assert.equal((await json<BookmarkJson>(await call(url, 'GET', '/api/bookmarks/brief'))).expiresAt, null);
  });

  it('refuses a past or malformed date, a max of 0, negative or not whole, with a 400 and a code, at create and edit, and changes nothing', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url, config } = await startApp(t);
    const root = await makeKey(t, config.dataDir, 'root', 'admin');
    assert.equal((await call(url, 'POST', '/api/bookmarks', root, { uri: `${target.url}/`, name: 'kept', maxVisits: 9 })).status, 201);
    const bad: [Record<string, unknown>, string][] = [
      [{ expiresAt: '2001-01-01T00:00:00Z' }, 'INVALID_EXPIRY'],
      [{ expiresAt: 'tomorrow' }, 'INVALID_EXPIRY'],
      [{ expiresAt: '5' }, 'INVALID_EXPIRY'],
      [{ expiresAt: '2030-02-31' }, 'INVALID_EXPIRY'],
      [{ maxVisits: 0 }, 'INVALID_MAX_VISITS'],
      [{ maxVisits: -3 }, 'INVALID_MAX_VISITS'],
      [{ maxVisits: 2.5 }, 'INVALID_MAX_VISITS'],
      [{ maxVisits: 'many' }, 'INVALID_REQUEST'],
      [{ forwardQuery: 'sometimes' }, 'INVALID_REQUEST'],
    ];
    for (const [fields, code] of bad) {
      const atCreate = await call(url, 'POST', '/api/bookmarks', root, { uri: `${target.url}/`, name: 'never', ...fields });
      assert.equal(atCreate.status, 400, JSON.stringify(fields));
      assert.equal((await json<{ error: string }>(atCreate)).error, code, JSON.stringify(fields));
      // With a valid new title alongside: nothing of the edit is applied.
      const atEdit = await call(url, 'PATCH', '/api/bookmarks/kept', root, { title: 'changed', ...fields });
      assert.equal(atEdit.status, 400, JSON.stringify(fields));
      assert.equal((await json<{ error: string }>(atEdit)).error, code, JSON.stringify(fields));
    }
    assert.equal((await call(url, 'GET', '/api/bookmarks/never')).status, 404);
    const kept = await json<BookmarkJson>(await call(url, 'GET', '/api/bookmarks/kept'));
    assert.deepEqual([kept.title, kept.maxVisits, kept.expiresAt], ['x', 9, null]);
  });
});
