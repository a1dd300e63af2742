import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTarget } from '../../../test/support/index.ts';
import type { BookmarkJson } from '../../src/routes/api.ts';
import { htmlPage, startApp } from '../helpers.ts';

function post(url: string, body: unknown) {
  return fetch(`${url}/api/bookmarks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('JSON API', () => {
  it('creates (201), repeats idempotently (200), and refuses another URI under a taken name (409)', async (t) => {
    const target = await startTarget(t, htmlPage('API target'));
    const { url, config } = await startApp(t);
    const created = await post(url, { uri: `${target.url}/a`, name: 'api-a' });
    assert.equal(created.status, 201);
    const bookmark = (await created.json()) as BookmarkJson;
    assert.equal(bookmark.name, 'api-a');
    assert.equal(bookmark.uri, `${target.url}/a`);
    assert.equal(bookmark.shortUrl, new URL('api-a', config.publicUrl).href);
    assert.equal(bookmark.title, 'API target');
    assert.equal(bookmark.checkStatus, 200);
    assert.equal(bookmark.visits, 0);

    assert.equal((await post(url, { uri: `${target.url}/a`, name: 'api-a' })).status, 200);
    const conflict = await post(url, { uri: `${target.url}/b`, name: 'api-a' });
    assert.equal(conflict.status, 409);
    assert.deepEqual(Object.keys((await conflict.json()) as object).sort(), ['error', 'message']);

    const generated = (await (await post(url, { uri: `${target.url}/c` })).json()) as BookmarkJson;
    assert.match(generated.name, /^[A-Za-z0-9]{7}$/);
  });

  it('answers bad input with JSON errors and the right status', async (t) => {
    const target = await startTarget(t, (_request, response) => response.writeHead(404).end());
    const { url } = await startApp(t);
    const cases: Array<[RequestInit, number, string]> = [
      [{ body: '{"uri":', headers: { 'content-type': 'application/json' } }, 400, 'FST_ERR_CTP_INVALID_JSON_BODY'],
      [{ body: '{}', headers: { 'content-type': 'application/json' } }, 400, 'INVALID_REQUEST'],
      [{ body: JSON.stringify({ uri: 'javascript:alert(1)' }), headers: { 'content-type': 'application/json' } }, 400, 'INVALID_URI'],
      [
        { body: JSON.stringify({ uri: `${target.url}/`, name: 'no/slash' }), headers: { 'content-type': 'application/json' } },
        400,
        'INVALID_NAME',
      ],
      [{ body: JSON.stringify({ uri: `${target.url}/gone` }), headers: { 'content-type': 'application/json' } }, 404, 'URI_UNREACHABLE'],
      [
        { body: JSON.stringify({ uri: `${target.url}/`, pad: 'x'.repeat(20_000) }), headers: { 'content-type': 'application/json' } },
        413,
        'FST_ERR_CTP_BODY_TOO_LARGE',
      ],
      [{ body: 'uri=x', headers: { 'content-type': 'text/csv' } }, 415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE'],
    ];
    for (const [init, status, error] of cases) {
      const response = await fetch(`${url}/api/bookmarks`, { method: 'POST', ...init });
      assert.equal(response.status, status, error);
      const body = (await response.json()) as { error: string; message: string };
      assert.equal(body.error, error);
      assert.ok(body.message.length > 0);
    }
  });

  it('lists with cursor pagination and reads one bookmark', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url } = await startApp(t);
    for (let i = 0; i < 5; i++) assert.equal((await post(url, { uri: `${target.url}/${i}`, name: `p${i}` })).status, 201);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
      const page = (await (await fetch(`${url}/api/bookmarks?limit=2${query}`)).json()) as {
        items: BookmarkJson[];
        nextCursor: string | null;
      };
      assert.ok(page.items.length <= 2);
      seen.push(...page.items.map((item) => item.name));
      cursor = page.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(seen, ['p4', 'p3', 'p2', 'p1', 'p0']);

    const one = await fetch(`${url}/api/bookmarks/p2`);
    assert.equal(((await one.json()) as BookmarkJson).uri, `${target.url}/2`);
    const missing = await fetch(`${url}/api/bookmarks/nope`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: string }).error, 'NOT_FOUND');
    assert.equal((await fetch(`${url}/api/bookmarks?limit=0`)).status, 400);
    assert.equal((await fetch(`${url}/api/bookmarks?cursor=garbage`)).status, 400);
  });

  it('deletes only with the configured bearer token (or a key: keys.test.ts), and refuses anything else with 401', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const tokenless = await startApp(t);
    assert.equal((await post(tokenless.url, { uri: `${target.url}/`, name: 'keep' })).status, 201);
    const refused = await fetch(`${tokenless.url}/api/bookmarks/keep`, { method: 'DELETE', headers: { authorization: 'Bearer anything' } });
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as { error: string }).error, 'UNAUTHORIZED');

    const { url } = await startApp(t, { apiToken: 's3cret-token' });
    assert.equal((await post(url, { uri: `${target.url}/`, name: 'doomed' })).status, 201);
    const anonymous = await fetch(`${url}/api/bookmarks/doomed`, { method: 'DELETE' });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer');
    assert.equal(
      (await fetch(`${url}/api/bookmarks/doomed`, { method: 'DELETE', headers: { authorization: 'Bearer wrong' } })).status,
      401,
    );
    const deleted = await fetch(`${url}/api/bookmarks/doomed`, { method: 'DELETE', headers: { authorization: 'Bearer s3cret-token' } });
    assert.equal(deleted.status, 204);
    assert.equal((await fetch(`${url}/doomed`, { redirect: 'manual' })).status, 404);
    assert.equal(
      (await fetch(`${url}/api/bookmarks/doomed`, { method: 'DELETE', headers: { authorization: 'Bearer s3cret-token' } })).status,
      404,
    );
  });

  it('lets exactly one of many concurrent creates of one name win', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url } = await startApp(t);
    const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => post(url, { uri: `${target.url}/${i}`, name: 'contested' })));
    const statuses = responses.map((response) => response.status).sort();
    assert.deepEqual(statuses, [201, ...Array(11).fill(409)]);
  });
});
