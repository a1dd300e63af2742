import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTarget } from '../../../test/support/index.ts';
import { makeKey } from '../auth/keys-support.ts';
import { htmlPage, startApp } from '../helpers.ts';

function call(url: string, method: string, path: string, key?: string, body?: unknown) {
  const headers: Record<string, string> = {};
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual' });
}

describe('query forwarding at redirect', () => {
  it('forwards the query by default, from the store and from memory; not for a link that turns it off', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url, config } = await startApp(t, { redirectCacheMs: 60_000 });
    const root = await makeKey(t, config.dataDir, 'root', 'admin');
    assert.equal((await call(url, 'POST', '/api/bookmarks', root, { uri: `${target.url}/p?id=1`, name: 'fwd' })).status, 201);
    assert.equal(
      (await call(url, 'POST', '/api/bookmarks', root, { uri: `${target.url}/p?id=1`, name: 'plain', forwardQuery: false })).status,
      201,
    );

    for (let i = 0; i < 2; i++) {
      // The first from the store, the second from memory.
      assert.equal((await call(url, 'GET', '/fwd?utm_source=mail&id=9')).headers.get('location'), `${target.url}/p?id=1&utm_source=mail`);
      assert.equal((await call(url, 'GET', '/plain?utm_source=mail')).headers.get('location'), `${target.url}/p?id=1`);
    }
    assert.equal((await call(url, 'GET', '/fwd')).headers.get('location'), `${target.url}/p?id=1`);
    assert.equal((await call(url, 'GET', '/fwd?')).headers.get('location'), `${target.url}/p?id=1`);

    // Turned off by an edit: at once on this process.
    assert.equal((await call(url, 'PATCH', '/api/bookmarks/fwd', root, { forwardQuery: false })).status, 200);
    assert.equal((await call(url, 'GET', '/fwd?utm_source=mail')).headers.get('location'), `${target.url}/p?id=1`);
  });
});
