import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BrowserCache, freshnessLifetimeMs, parseCacheControl } from '../src/browser-cache.ts';

const CSS = '/static/style.0123abcd.css';
const IMMUTABLE = { 'cache-control': 'public, max-age=31536000, immutable', etag: '"65f1-1a2b"' };
const YEAR = 31_536_000_000;

test('Cache-Control directives', () => {
  const directives = parseCacheControl('public, max-age=31536000, Immutable, foo="a,b"');
  assert.equal(directives.get('max-age'), '31536000');
  assert.equal(directives.get('immutable'), true);
  assert.equal(directives.get('public'), true);
  assert.equal(freshnessLifetimeMs({ 'cache-control': 'max-age=60' }), 60_000);
  assert.equal(freshnessLifetimeMs({ expires: 'Thu, 01 Jan 2026 00:10:00 GMT', date: 'Thu, 01 Jan 2026 00:00:00 GMT' }), 600_000);
  assert.equal(freshnessLifetimeMs({ 'cache-control': 'max-age=5', expires: 'Thu, 01 Jan 2026 00:10:00 GMT', date: 'Thu, 01 Jan 2026 00:00:00 GMT' }), 5000);
  assert.equal(freshnessLifetimeMs({}), 0);
});

test('browser: the first visit fetches, then no request while fresh, then revalidation', () => {
  const cache = new BrowserCache('browser');
  assert.deepEqual(cache.decide(CSS, 0), { kind: 'fetch' });
  cache.update(CSS, 200, IMMUTABLE, 0);
  assert.deepEqual(cache.decide(CSS, 1000), { kind: 'from-cache' });
  assert.deepEqual(cache.decide(CSS, YEAR - 1), { kind: 'from-cache' });
  assert.deepEqual(cache.decide(CSS, YEAR), { kind: 'revalidate', headers: { 'if-none-match': '"65f1-1a2b"' } });
  // A 304 makes the copy fresh again without a body.
  cache.update(CSS, 304, IMMUTABLE, YEAR);
  assert.deepEqual(cache.decide(CSS, YEAR + 1), { kind: 'from-cache' });
});

test('browser: Age counts against freshness', () => {
  const cache = new BrowserCache('browser');
  cache.update('/a', 200, { 'cache-control': 'max-age=60', age: '50', etag: '"x"' }, 0);
  assert.deepEqual(cache.decide('/a', 9_000), { kind: 'from-cache' });
  assert.equal(cache.decide('/a', 10_000).kind, 'revalidate');
});

test('no-cache means revalidate every time; with no validator, fetch every time', () => {
  const cache = new BrowserCache('browser');
  cache.update('/with-etag', 200, { 'cache-control': 'no-cache', etag: 'W/"1"' }, 0);
  assert.deepEqual(cache.decide('/with-etag', 1), { kind: 'revalidate', headers: { 'if-none-match': 'W/"1"' } });
  // The app's page: no-cache and no validator, so there is nothing to keep.
  cache.update('/', 200, { 'cache-control': 'no-cache' }, 0);
  assert.deepEqual(cache.decide('/', 1), { kind: 'fetch' });
  assert.equal(cache.size, 1);
});

test('no-store and the redirect: never kept, and a stored copy is dropped', () => {
  const cache = new BrowserCache('browser');
  cache.update('/x', 200, { 'cache-control': 'max-age=60', 'last-modified': 'Thu, 01 Jan 2026 00:00:00 GMT' }, 0);
  assert.equal(cache.decide('/x', 1).kind, 'from-cache');
  cache.update('/x', 200, { 'cache-control': 'no-store' }, 2);
  assert.deepEqual(cache.decide('/x', 3), { kind: 'fetch' });
  cache.update('/name', 303, { 'cache-control': 'no-store', location: 'https://example.com/' }, 0);
  assert.deepEqual(cache.decide('/name', 1), { kind: 'fetch' });
});

test('a 304 for something not stored changes nothing; an error answer drops the copy', () => {
  const cache = new BrowserCache('browser');
  cache.update(CSS, 304, IMMUTABLE, 0);
  assert.equal(cache.size, 0);
  cache.update(CSS, 200, IMMUTABLE, 0);
  cache.update(CSS, 500, {}, 1);
  assert.deepEqual(cache.decide(CSS, 2), { kind: 'fetch' });
});

test('validate: a fresh copy is still revalidated (If-None-Match and If-Modified-Since)', () => {
  const cache = new BrowserCache('validate');
  cache.update(CSS, 200, { ...IMMUTABLE, 'last-modified': 'Thu, 01 Jan 2026 00:00:00 GMT' }, 0);
  assert.deepEqual(cache.decide(CSS, 1), {
    kind: 'revalidate',
    headers: { 'if-none-match': '"65f1-1a2b"', 'if-modified-since': 'Thu, 01 Jan 2026 00:00:00 GMT' },
  });
});

test('none: nothing is kept, every visit fetches', () => {
  const cache = new BrowserCache('none');
  cache.update(CSS, 200, IMMUTABLE, 0);
  assert.deepEqual(cache.decide(CSS, 1), { kind: 'fetch' });
  assert.equal(cache.size, 0);
});
