import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startTarget } from '../../../test/support/index.ts';
import type { BookmarkJson } from '../../src/routes/api.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { makeKey, revokeKey } from '../auth/keys-support.ts';
import { htmlPage, startApp } from '../helpers.ts';

function create(url: string, body: unknown, key?: string) {
  return fetch(`${url}/api/bookmarks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { authorization: `Bearer ${key}` }) },
    body: JSON.stringify(body),
  });
}

function remove(url: string, name: string, authorization?: string) {
  return fetch(`${url}/api/bookmarks/${name}`, { method: 'DELETE', headers: authorization === undefined ? {} : { authorization } });
}

async function errorOf(response: Response): Promise<string> {
  return ((await response.json()) as { error: string }).error;
}

describe('API keys and roles', () => {
  it('records who created a link: the key, or anonymous', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url, config } = await startApp(t);
    const alice = await makeKey(t, config.dataDir, 'alice', 'author');
    const mine = (await (await create(url, { uri: `${target.url}/`, name: 'mine' }, alice)).json()) as BookmarkJson;
    assert.equal(mine.createdBy, 'alice');
    const anon = (await (await create(url, { uri: `${target.url}/`, name: 'anon' })).json()) as BookmarkJson;
    assert.equal(anon.createdBy, 'anonymous');
    assert.equal(((await (await fetch(`${url}/api/bookmarks/mine`)).json()) as BookmarkJson).createdBy, 'alice');
  });

  it('a bad key is refused with 401 and WWW-Authenticate: Bearer, on create too, and nothing is created', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url } = await startApp(t);
    for (const key of ['not-a-key', 'lyk_short', `lyk_${'A'.repeat(43)}`]) {
      const refused = await create(url, { uri: `${target.url}/`, name: 'sneaky' }, key);
      assert.equal(refused.status, 401, key);
      assert.equal(refused.headers.get('www-authenticate'), 'Bearer');
      assert.equal(await errorOf(refused), 'UNAUTHORIZED');
    }
    assert.equal((await fetch(`${url}/api/bookmarks/sneaky`)).status, 404);
    const basic = await remove(url, 'sneaky', 'Basic dXNlcjpwYXNz');
    assert.equal(basic.status, 401);
  });

  it('an author deletes its own links only (403 FORBIDDEN for another’s); an admin and API_TOKEN delete any', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url, config } = await startApp(t, { apiToken: 'operator-token' });
    const alice = await makeKey(t, config.dataDir, 'alice', 'author');
    const bob = await makeKey(t, config.dataDir, 'bob', 'author');
    const root = await makeKey(t, config.dataDir, 'root', 'admin');
    for (const name of ['a1', 'a2', 'a3']) assert.equal((await create(url, { uri: `${target.url}/`, name }, alice)).status, 201);
    assert.equal((await create(url, { uri: `${target.url}/`, name: 'anon' })).status, 201);

    const forbidden = await remove(url, 'a1', `Bearer ${bob}`);
    assert.equal(forbidden.status, 403);
    assert.equal(await errorOf(forbidden), 'FORBIDDEN');
    assert.equal((await remove(url, 'anon', `Bearer ${bob}`)).status, 403, 'an anonymous link is no author’s');
    assert.equal((await fetch(`${url}/a1`, { redirect: 'manual' })).status, 303, 'still there');

    assert.equal((await remove(url, 'a1', `Bearer ${alice}`)).status, 204);
    assert.equal((await remove(url, 'a2', `Bearer ${root}`)).status, 204);
    assert.equal((await remove(url, 'a3', 'Bearer operator-token')).status, 204);
    assert.equal((await remove(url, 'anon', `Bearer ${root}`)).status, 204);
    const gone = await remove(url, 'a1', `Bearer ${root}`);
    assert.equal(gone.status, 404);
  });

  it('a revoked key stops working (KEY_CACHE_MS 0: at once)', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url, config } = await startApp(t, { keyCacheMs: 0 });
    const alice = await makeKey(t, config.dataDir, 'alice', 'author');
    assert.equal((await create(url, { uri: `${target.url}/`, name: 'a1' }, alice)).status, 201);
    await revokeKey(t, config.dataDir, 'alice');
    const refused = await remove(url, 'a1', `Bearer ${alice}`);
    assert.equal(refused.status, 401);
    assert.equal(await errorOf(refused), 'UNAUTHORIZED');
  });

  it('records when a key was last used, written in a batch off the request (here: when the app closes)', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { app, url, config } = await startApp(t);
    const alice = await makeKey(t, config.dataDir, 'alice', 'author');
    const before = Date.now();
    for (let i = 0; i < 5; i++) assert.equal((await create(url, { uri: `${target.url}/`, name: `n${i}` }, alice)).status, 201);
    const store = new SqliteStore({ file: join(config.dataDir, 'linkyard.sqlite') });
    t.after(() => store.close());
    await store.migrate();
    // The batch goes every 10 s (Authenticator); on a machine slow enough to pass that, it may have gone.
    if (Date.now() - before < 8000) assert.equal((await store.access.listKeys())[0]?.lastUsedAt, null, 'not written per request');
    await app.close();
    const lastUsed = (await store.access.listKeys())[0]?.lastUsedAt;
    assert.ok(lastUsed instanceof Date && lastUsed.getTime() >= before - 1000 && lastUsed.getTime() <= Date.now(), String(lastUsed));
  });
});
