import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildApp } from '../../src/app.ts';
import { form, htmlPage, startApp, startTarget, tempDir, testConfig } from '../helpers.ts';

describe('GET /<name>', () => {
  it('answers 303 See Other with the long URI, and the seed\'s 404 for an unknown name', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url } = await startApp(t);
    await fetch(`${url}/`, { method: 'POST', redirect: 'manual', ...form({ longuri: `${target.url}/long/path?q=1`, shortname: 'short' }) });

    const hit = await fetch(`${url}/short`, { redirect: 'manual' });
    assert.equal(hit.status, 303);
    assert.equal(hit.headers.get('location'), `${target.url}/long/path?q=1`);

    const miss = await fetch(`${url}/nobody`, { redirect: 'manual' });
    assert.equal(miss.status, 404);
    assert.equal(miss.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(await miss.text(), "I don't know 'nobody'.");

    const head = await fetch(`${url}/short`, { method: 'HEAD', redirect: 'manual' });
    assert.equal(head.status, 303);

    const post = await fetch(`${url}/short`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  it('counts visits without writing on the hot path, and keeps them across a graceful restart', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const dataDir = tempDir(t);
    // A flush interval far longer than the test: only the graceful close can write the visits.
    const config = testConfig({ dataDir, visitsFlushMs: 60_000, check: { allowPrivate: true } });

    const first = await buildApp(config);
    const created = await first.inject({ method: 'POST', url: '/api/bookmarks', payload: { uri: `${target.url}/`, name: 'counted' } });
    assert.equal(created.statusCode, 201);
    for (let i = 0; i < 5; i++) assert.equal((await first.inject('/counted')).statusCode, 303);
    const before = (await first.inject('/api/bookmarks/counted')).json<{ visits: number }>();
    assert.equal(before.visits, 0, 'not yet flushed: no store write per redirect');
    await first.close();

    const second = await buildApp(config);
    t.after(() => second.close());
    assert.equal((await second.inject('/api/bookmarks/counted')).json<{ visits: number }>().visits, 5);
    assert.match((await second.inject('/')).body, /<td class="visits">5<\/td>/);
  });
});
