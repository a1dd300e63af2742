import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PERSON_USER_AGENT, startTarget } from '../../../test/support/index.ts';
import type { BookmarkJson } from '../../src/routes/api.ts';
import { makeKey } from '../auth/keys-support.ts';
import { htmlPage, startApp } from '../helpers.ts';

function call(url: string, method: string, path: string, key?: string, body?: unknown) {
  // A person's browser: the redirects here count as visits (a bot's would not).
  const headers: Record<string, string> = { 'user-agent': PERSON_USER_AGENT };
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual' });
}

async function errorOf(response: Response): Promise<string> {
  return ((await response.json()) as { error: string }).error;
}

describe('PATCH /api/bookmarks/<name>', () => {
  it('retargets a link in place: checked like a new one, visits kept, redirects at once on this process, audited', async (t) => {
    const before = await startTarget(t, htmlPage('Before'));
    const after = await startTarget(t, htmlPage('After'));
    const { app, url, config } = await startApp(t, { redirectCacheMs: 60_000 });
    const root = await makeKey(t, config.dataDir, 'root', 'admin');
    const alice = await makeKey(t, config.dataDir, 'alice', 'author');
    assert.equal((await call(url, 'POST', '/api/bookmarks', alice, { uri: `${before.url}/`, name: 'hers' })).status, 201);
    for (let i = 0; i < 3; i++) assert.equal((await call(url, 'GET', '/hers')).headers.get('location'), `${before.url}/`);
    await app.close(); // flushes the visits
    const { url: url2 } = await startApp(t, { dataDir: config.dataDir, redirectCacheMs: 60_000 });
    // Remembered here for a minute; a HEAD, so that no visit of this process's can be flushed
    // before the edit reads the count (a GET made it 4 when the flush timer fired in between).
    assert.equal((await call(url2, 'HEAD', '/hers')).status, 303);

    const edited = await call(url2, 'PATCH', '/api/bookmarks/hers', alice, { uri: `${after.url}/` });
    assert.equal(edited.status, 200);
    const json = (await edited.json()) as BookmarkJson;
    assert.equal(json.uri, `${after.url}/`);
    assert.equal(json.title, 'After');
    assert.equal(json.visits, 3);
    assert.equal(json.createdBy, 'alice');
    assert.equal((await call(url2, 'GET', '/hers')).headers.get('location'), `${after.url}/`);

    const retitled = (await (await call(url2, 'PATCH', '/api/bookmarks/hers', root, { title: '  My own  ' })).json()) as BookmarkJson;
    assert.equal(retitled.title, 'My own');
    assert.equal(retitled.uri, `${after.url}/`);
    const cleared = (await (await call(url2, 'PATCH', '/api/bookmarks/hers', root, { title: null })).json()) as BookmarkJson;
    assert.equal(cleared.title, null);

    const audit = (await (await call(url2, 'GET', '/api/audit?limit=10', root)).json()) as {
      items: { actor: string; action: string; subject: string; detail: string | null }[];
    };
    const edits = audit.items.filter((entry) => entry.action === 'bookmark.edit');
    assert.deepEqual(
      edits.map((entry) => [entry.actor, entry.subject, entry.detail]),
      [
        ['root', 'hers', 'title: "My own" → null'],
        ['root', 'hers', 'title: "After" → "My own"'],
        ['alice', 'hers', `${before.url}/ → ${after.url}/; title: "Before" → "After"`],
      ],
    );
  });

  it('needs a key; an author edits only its own links (403 FORBIDDEN); unknown names are 404', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url, config } = await startApp(t, { apiToken: 'operator-token' });
    const alice = await makeKey(t, config.dataDir, 'alice', 'author');
    const bob = await makeKey(t, config.dataDir, 'bob', 'author');
    assert.equal((await call(url, 'POST', '/api/bookmarks', alice, { uri: `${target.url}/`, name: 'hers' })).status, 201);

    const anonymous = await call(url, 'PATCH', '/api/bookmarks/hers', undefined, { title: 'x' });
    assert.equal(anonymous.status, 401);
    const other = await call(url, 'PATCH', '/api/bookmarks/hers', bob, { title: 'x' });
    assert.equal(other.status, 403);
    assert.equal(await errorOf(other), 'FORBIDDEN');
    assert.equal((await call(url, 'PATCH', '/api/bookmarks/hers', 'operator-token', { title: 'ok' })).status, 200);
    const unknown = await call(url, 'PATCH', '/api/bookmarks/nobody', 'operator-token', { title: 'x' });
    assert.equal(unknown.status, 404);
    assert.equal(await errorOf(unknown), 'NOT_FOUND');
  });

  it('refuses bad input with a 400 and a code, a blocked or unreachable target too, and changes nothing', async (t) => {
    const target = await startTarget(t, htmlPage('Kept'));
    const { url, config } = await startApp(t);
    const root = await makeKey(t, config.dataDir, 'root', 'admin');
    assert.equal((await call(url, 'POST', '/api/bookmarks', root, { uri: `${target.url}/`, name: 'kept' })).status, 201);
    assert.equal((await call(url, 'POST', '/api/blocklist', root, { host: 'spam.example' })).status, 201);

    const refusals: [unknown, number, string][] = [
      [{}, 400, 'VALIDATION'],
      [{ name: 'renamed' }, 400, 'MISSING_FIELD'],
      [{ uri: 42 }, 400, 'VALIDATION'],
      [{ uri: '' }, 400, 'VALIDATION'],
      [{ title: 'x'.repeat(501) }, 400, 'VALIDATION'],
      [{ uri: 'ftp://example.com/' }, 400, 'INVALID_URI'],
      [{ uri: 'https://www.spam.example/x', title: 'bait' }, 403, 'HOST_BLOCKED'],
      [{ uri: 'http://127.0.0.1:1/', title: 'dead' }, 404, 'URI_UNREACHABLE'],
    ];
    for (const [body, status, code] of refusals) {
      const refused = await call(url, 'PATCH', '/api/bookmarks/kept', root, body);
      assert.equal(refused.status, status, JSON.stringify(body));
      const error = await errorOf(refused);
      if (code !== 'VALIDATION') assert.equal(error, code, JSON.stringify(body));
    }
    const unchanged = (await (await call(url, 'GET', '/api/bookmarks/kept')).json()) as BookmarkJson;
    assert.equal(unchanged.uri, `${target.url}/`);
    assert.equal(unchanged.title, 'Kept');
  });
});
