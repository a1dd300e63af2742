import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTarget } from '../../../test/support/index.ts';
import { makeKey } from '../auth/keys-support.ts';
import { form, htmlPage, startApp } from '../helpers.ts';

function call(url: string, method: string, path: string, key?: string, body?: unknown) {
  const headers: Record<string, string> = {};
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual' });
}

async function errorOf(response: Response): Promise<string> {
  return ((await response.json()) as { error: string }).error;
}

describe('blocklist, disabled links and the audit trail through the API', () => {
  it('disables a link (410, kept) and enables it again: admin only', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url, config } = await startApp(t);
    const root = await makeKey(t, config.dataDir, 'root', 'admin');
    const alice = await makeKey(t, config.dataDir, 'alice', 'author');
    assert.equal((await call(url, 'POST', '/api/bookmarks', alice, { uri: `${target.url}/`, name: 'hers' })).status, 201);
    assert.equal((await call(url, 'GET', '/hers')).status, 303);

    assert.equal((await call(url, 'POST', '/api/bookmarks/hers/disable')).status, 401);
    const forbidden = await call(url, 'POST', '/api/bookmarks/hers/disable', alice);
    assert.equal(forbidden.status, 403);
    assert.equal(await errorOf(forbidden), 'FORBIDDEN');
    assert.equal((await call(url, 'GET', '/hers')).status, 303, 'an author cannot disable, even its own');
    assert.equal((await call(url, 'POST', '/api/bookmarks/nobody/disable', root)).status, 404);
    assert.equal((await call(url, 'GET', '/api/bookmarks/hers/disable', root)).status, 405);

    assert.equal((await call(url, 'POST', '/api/bookmarks/hers/disable', root)).status, 204);
    const gone = await call(url, 'GET', '/hers');
    assert.equal(gone.status, 410);
    assert.match(await gone.text(), /I knew 'hers', but it is switched off/);
    assert.equal((await call(url, 'GET', '/api/bookmarks/hers')).status, 200, 'kept and listed');
    assert.equal((await call(url, 'POST', '/api/bookmarks/hers/enable', root)).status, 204);
    assert.equal((await call(url, 'GET', '/hers')).status, 303);
  });

  it('blocks a host: refused at create (403 HOST_BLOCKED, no fetch), 410 for its links; unblocked, they redirect again', async (t) => {
    let fetches = 0;
    const target = await startTarget(t, (request, response) => {
      fetches++;
      htmlPage('x')(request, response);
    });
    const { url, config } = await startApp(t);
    const root = await makeKey(t, config.dataDir, 'root', 'admin');
    assert.equal((await call(url, 'POST', '/api/bookmarks', undefined, { uri: `${target.url}/`, name: 'before' })).status, 201);

    const added = await call(url, 'POST', '/api/blocklist', root, { host: '127.0.0.1' });
    assert.equal(added.status, 201);
    assert.deepEqual(await added.json(), { host: '127.0.0.1' });
    assert.equal((await call(url, 'POST', '/api/blocklist', root, { host: '127.0.0.1.' })).status, 200, 'listed already');

    assert.equal((await call(url, 'GET', '/before')).status, 410);
    const fetchesBefore = fetches;
    const refused = await call(url, 'POST', '/api/bookmarks', root, { uri: `${target.url}/x`, name: 'after' });
    assert.equal(refused.status, 403);
    assert.equal(await errorOf(refused), 'HOST_BLOCKED');
    assert.equal(fetches, fetchesBefore, 'refused before any fetch');
    assert.equal((await call(url, 'GET', '/api/bookmarks/after')).status, 404);
    const { body, headers } = form({ longuri: `${target.url}/y`, shortname: 'from-form' });
    const refusedForm = await fetch(url, { method: 'POST', body, headers, redirect: 'manual' });
    assert.equal(refusedForm.status, 403);
    assert.match(await refusedForm.text(), /id="longuri"[^>]*aria-invalid="true"/);

    const listed = (await (await call(url, 'GET', '/api/blocklist', root)).json()) as { items: { host: string; addedBy: string }[] };
    assert.deepEqual(
      listed.items.map((entry) => [entry.host, entry.addedBy]),
      [['127.0.0.1', 'root']],
    );
    assert.equal((await call(url, 'DELETE', '/api/blocklist/127.0.0.1', root)).status, 204);
    assert.equal((await call(url, 'DELETE', '/api/blocklist/127.0.0.1', root)).status, 404);
    assert.equal((await call(url, 'GET', '/before')).status, 303);
  });

  it('answers bad blocklist input with 4xx and lists nothing half-applied', async (t) => {
    const { url, config } = await startApp(t);
    const root = await makeKey(t, config.dataDir, 'root', 'admin');
    const alice = await makeKey(t, config.dataDir, 'alice', 'author');
    for (const host of ['https://spam.example/', '*.spam.example', 'spam.example:80', 'no host']) {
      const refused = await call(url, 'POST', '/api/blocklist', root, { host });
      assert.equal(refused.status, 400, host);
      assert.equal(await errorOf(refused), 'INVALID_HOST');
    }
    assert.equal((await call(url, 'POST', '/api/blocklist', root, {})).status, 400);
    assert.equal((await call(url, 'POST', '/api/blocklist', root, { host: '' })).status, 400);
    assert.equal((await call(url, 'DELETE', '/api/blocklist/not%20a%20host', root)).status, 400);
    assert.equal((await call(url, 'GET', '/api/blocklist')).status, 401);
    assert.equal((await call(url, 'GET', '/api/blocklist', alice)).status, 403);
    assert.equal((await call(url, 'POST', '/api/blocklist', alice, { host: 'a.example' })).status, 403);
    assert.equal((await call(url, 'PUT', '/api/blocklist', root)).status, 405);
    assert.deepEqual(await (await call(url, 'GET', '/api/blocklist', root)).json(), { items: [] });
  });

  it('lists the audit trail for admins, newest first, keyset-paginated', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url, config } = await startApp(t, { apiToken: 'operator-token' });
    const root = await makeKey(t, config.dataDir, 'root', 'admin');
    const alice = await makeKey(t, config.dataDir, 'alice', 'author');
    await call(url, 'POST', '/api/bookmarks', alice, { uri: `${target.url}/`, name: 'a1' });
    await call(url, 'POST', '/api/bookmarks', undefined, { uri: `${target.url}/`, name: 'a2' });
    await call(url, 'POST', '/api/bookmarks/a1/disable', root);
    await call(url, 'POST', '/api/blocklist', root, { host: 'spam.example' });
    await call(url, 'DELETE', '/api/bookmarks/a2', 'operator-token');

    assert.equal((await call(url, 'GET', '/api/audit')).status, 401);
    assert.equal((await call(url, 'GET', '/api/audit', alice)).status, 403);
    assert.equal((await call(url, 'GET', '/api/audit?cursor=forged', root)).status, 400);
    assert.equal((await call(url, 'GET', '/api/audit?limit=0', root)).status, 400);

    const first = (await (await call(url, 'GET', '/api/audit?limit=3', root)).json()) as {
      items: { at: string; actor: string; action: string; subject: string }[];
      nextCursor: string;
    };
    assert.deepEqual(
      first.items.map((entry) => [entry.actor, entry.action, entry.subject]),
      [
        ['API_TOKEN', 'bookmark.delete', 'a2'],
        ['root', 'blocklist.add', 'spam.example'],
        ['root', 'bookmark.disable', 'a1'],
      ],
    );
    assert.ok(first.items.every((entry) => !Number.isNaN(Date.parse(entry.at))));
    const rest = (await (await call(url, 'GET', `/api/audit?limit=10&cursor=${first.nextCursor}`, root)).json()) as {
      items: { actor: string; action: string; subject: string }[];
      nextCursor: string | null;
    };
    assert.deepEqual(
      rest.items.map((entry) => [entry.actor, entry.action, entry.subject]),
      [
        ['anonymous', 'bookmark.create', 'a2'],
        ['alice', 'bookmark.create', 'a1'],
        ['command', 'key.create', 'alice'],
        ['command', 'key.create', 'root'],
      ],
    );
    assert.equal(rest.nextCursor, null);
  });
});
