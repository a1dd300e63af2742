import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTarget, tempDir } from '../../../test/support/index.ts';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { form, htmlPage, startApp, testConfig } from '../helpers.ts';

/** The settings a process would read from these variables (the rest defaults). */
function loadConfigFrom(env: Record<string, string>): { redirectCacheNames: number } {
  return { redirectCacheNames: loadConfig({ LOG_LEVEL: 'silent', PORT: '0', ...env }).redirectCacheNames };
}

describe('GET /<name>', () => {
  it("answers 303 See Other with the long URI, and the seed's 404 for an unknown name", async (t) => {
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

  it('answers busy names from memory: new names at once everywhere, a delete elsewhere within REDIRECT_CACHE_MS', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const dataDir = tempDir(t);
    // Two app processes' worth of apps on one SQLite file, as behind nginx.
    const cached = { dataDir, apiToken: 'tok', redirectCacheMs: 1500 };
    const a = await buildApp(testConfig({ ...cached, check: { allowPrivate: true } }));
    const b = await buildApp(testConfig({ ...cached, check: { allowPrivate: true } }));
    const uncached = await buildApp(testConfig({ ...cached, redirectCacheMs: 0, check: { allowPrivate: true } }));
    t.after(() => Promise.all([a.close(), b.close(), uncached.close()]));

    assert.equal((await b.inject('/fresh')).statusCode, 404, 'unknown on b');
    await a.inject({ method: 'POST', url: '/api/bookmarks', payload: { uri: `${target.url}/`, name: 'fresh' } });
    assert.equal((await b.inject('/fresh')).statusCode, 303, 'a miss is not remembered: created on a, found on b at once');
    assert.equal((await uncached.inject('/fresh')).statusCode, 303);

    const deleted = await a.inject({ method: 'DELETE', url: '/api/bookmarks/fresh', headers: { authorization: 'Bearer tok' } });
    assert.equal(deleted.statusCode, 204);
    assert.equal((await a.inject('/fresh')).statusCode, 404, 'gone at once where it was deleted');
    assert.equal((await uncached.inject('/fresh')).statusCode, 404, 'gone at once without the cache');
    assert.equal((await b.inject('/fresh')).statusCode, 303, 'b still answers from memory');
    const deadline = Date.now() + 10_000;
    let status = 303;
    while (status === 303 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await b.inject('/fresh')).statusCode;
    }
    assert.equal(status, 404, 'b forgets it once its entry expires');
    assert.equal((await b.inject('/api/bookmarks/fresh')).statusCode, 404);
  });

  it('counts redirect cache hits and misses in /metrics: a miss asks the store, a hit does not', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const dataDir = tempDir(t);
    const cached = await buildApp(testConfig({ dataDir, redirectCacheMs: 60_000, check: { allowPrivate: true } }));
    const uncached = await buildApp(testConfig({ dataDir, redirectCacheMs: 0, check: { allowPrivate: true } }));
    t.after(() => Promise.all([cached.close(), uncached.close()]));
    await cached.inject({ method: 'POST', url: '/api/bookmarks', payload: { uri: `${target.url}/`, name: 'often' } });
    const cacheCounts = async (app: typeof cached) => {
      const text = (await app.inject('/metrics')).body;
      const value = (name: string) => Number(new RegExp(`^linkyard_redirect_cache_${name}_total (\\d+)$`, 'm').exec(text)?.[1]);
      return { hits: value('hits'), misses: value('misses') };
    };
    assert.deepEqual(await cacheCounts(cached), { hits: 0, misses: 0 });

    for (let i = 0; i < 3; i++) assert.equal((await cached.inject('/often')).statusCode, 303);
    assert.equal((await cached.inject('/nobody')).statusCode, 404);
    assert.equal((await cached.inject('/nobody')).statusCode, 404);
    // The first redirect reads the store and remembers the name; unknown names are never remembered.
    assert.deepEqual(await cacheCounts(cached), { hits: 2, misses: 3 });

    for (let i = 0; i < 3; i++) assert.equal((await uncached.inject('/often')).statusCode, 303);
    assert.deepEqual(await cacheCounts(uncached), { hits: 0, misses: 3 }, 'with the cache off every redirect asks the store');
  });

  it('keeps at most REDIRECT_CACHE_NAMES names: the least recently used one is asked of the store again', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const app = await buildApp(
      testConfig({
        ...loadConfigFrom({ REDIRECT_CACHE_NAMES: '1' }),
        dataDir: tempDir(t),
        redirectCacheMs: 60_000,
        check: { allowPrivate: true },
      }),
    );
    t.after(() => app.close());
    for (const name of ['first', 'second']) {
      await app.inject({ method: 'POST', url: '/api/bookmarks', payload: { uri: `${target.url}/${name}`, name } });
    }
    for (const name of ['first', 'first', 'second', 'first']) assert.equal((await app.inject(`/${name}`)).statusCode, 303);
    const text = (await app.inject('/metrics')).body;
    // first: miss, hit; second: miss (first evicted); first: miss.
    assert.match(text, /^linkyard_redirect_cache_hits_total 1$/m);
    assert.match(text, /^linkyard_redirect_cache_misses_total 3$/m);
  });

  it('counts visits without writing on the hot path, and keeps them across a graceful restart', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const dataDir = tempDir(t);
    // A flush interval far longer than the test: only the graceful close can write the visits.
    const config = testConfig({ dataDir, visitsFlushMs: 60_000, check: { allowPrivate: true } });

    const first = await buildApp(config);
    const created = await first.inject({ method: 'POST', url: '/api/bookmarks', payload: { uri: `${target.url}/`, name: 'counted' } });
    assert.equal(created.statusCode, 201);
    // A browser's user agent: bots are counted apart from visits (docs/stats.md).
    const browser = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0' };
    for (let i = 0; i < 5; i++) assert.equal((await first.inject({ url: '/counted', headers: browser })).statusCode, 303);
    const before = (await first.inject('/api/bookmarks/counted')).json<{ visits: number }>();
    assert.equal(before.visits, 0, 'not yet flushed: no store write per redirect');
    await first.close();

    const second = await buildApp(config);
    t.after(() => second.close());
    assert.equal((await second.inject('/api/bookmarks/counted')).json<{ visits: number }>().visits, 5);
    assert.match((await second.inject('/')).body, /<td class="visits">.*>5<\/a><\/td>/);
  });
});
