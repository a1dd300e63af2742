import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { describe, it } from 'node:test';
import { startTarget } from '../../../test/support/index.ts';
import { type ConfigOverrides, htmlPage, startApp } from '../helpers.ts';

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';
const SLACK = 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)';

/** An app with the bookmark `counted`, visited as `visits` says, then closed (which flushes) and started again on the same data. */
async function afterVisits(t: TestContext, visits: (url: string) => Promise<void>, overrides: ConfigOverrides = {}) {
  const target = await startTarget(t, htmlPage('A page worth counting'));
  const first = await startApp(t, { visitsFlushMs: 60_000, ...overrides });
  const created = await fetch(`${first.url}/api/bookmarks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ uri: `${target.url}/`, name: 'counted' }),
  });
  assert.equal(created.status, 201);
  await visits(first.url);
  await first.app.close();
  return startApp(t, { ...overrides, dataDir: first.config.dataDir });
}

async function visit(url: string, headers: Record<string, string>, method = 'GET'): Promise<void> {
  const answer = await fetch(`${url}/counted`, { method, headers, redirect: 'manual' });
  assert.equal(answer.status, 303);
}

interface StatsJson {
  visits: number;
  granularity: string;
  totals: { visits: number; bots: number };
  series: { start: string; visits: number; bots: number }[];
  top: Record<string, { value: string; visits: number }[]>;
  shortUrl: string;
}

describe('stats', () => {
  it('counts people apart from bots, leaves HEAD and prefetches out, and answers the API and the page', async (t) => {
    const { url } = await afterVisits(t, async (at) => {
      for (let i = 0; i < 3; i++) await visit(at, { 'user-agent': CHROME, referer: 'https://www.google.com/search?q=x' });
      await visit(at, { 'user-agent': IPHONE });
      await visit(at, { 'user-agent': SLACK });
      await visit(at, { 'user-agent': CHROME }, 'HEAD');
      await visit(at, { 'user-agent': CHROME, 'sec-purpose': 'prefetch' });
      await visit(at, { 'user-agent': CHROME, purpose: 'prefetch' });
      await visit(at, { 'user-agent': CHROME, 'x-moz': 'prefetch' });
    });

    const answer = await fetch(`${url}/api/bookmarks/counted/stats`);
    assert.equal(answer.status, 200);
    const stats = (await answer.json()) as StatsJson;
    assert.equal(stats.visits, 4, 'people only: no bot, HEAD or prefetch');
    assert.equal(stats.granularity, 'hour');
    assert.deepEqual(stats.totals, { visits: 4, bots: 1 });
    assert.equal(stats.series.length, 7 * 24 + 1, 'every hour of the last 7 days, the current one included');
    assert.equal(
      stats.series.reduce((sum, point) => sum + point.visits, 0),
      4,
    );
    assert.deepEqual(stats.top.referrer, [
      { value: 'google.com', visits: 3 },
      { value: 'direct', visits: 1 },
    ]);
    assert.deepEqual(stats.top.device, [
      { value: 'desktop', visits: 3 },
      { value: 'mobile', visits: 1 },
    ]);
    assert.deepEqual(stats.top.bot, [{ value: 'Slackbot', visits: 1 }]);
    assert.deepEqual(stats.top.country, [], 'no GeoIP database configured');

    const byDay = (await (await fetch(`${url}/api/bookmarks/counted/stats?granularity=day`)).json()) as StatsJson;
    assert.deepEqual(byDay.totals, { visits: 4, bots: 1 });
    assert.equal(byDay.series.length, 8);

    const page = await fetch(`${url}/counted+`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    const html = await page.text();
    assert.match(html, /<svg class="chart"[^>]*role="img" aria-labelledby="chart-title"/);
    assert.match(html, /4 visits by people, 1 by bots, in this range/);
    assert.match(html, /<th scope="row">google\.com<\/th><td class="count">3<\/td>/);
    assert.match(html, /<img src="\/counted\+qr\.svg"[^>]*alt="QR code of http:\/\/localhost:\d+\/counted"/);
    assert.match(html, /<a href="\/counted\+qr\.svg" download="counted-qr\.svg">/);
    assert.doesNotMatch(html, /style=/, 'the CSP forbids style attributes');
    assert.equal((await fetch(`${url}/counted+?range=365d`)).status, 200);

    const list = await (await fetch(`${url}/`)).text();
    assert.match(list, /<a href="\/counted\+"[^>]*>4<\/a>/, 'the list links each bookmark to its stats');
    assert.match(list, /<svg class="spark"/);

    const qr = await fetch(`${url}/counted+qr.svg`);
    assert.equal(qr.status, 200);
    assert.equal(qr.headers.get('content-type'), 'image/svg+xml; charset=utf-8');
    assert.match(await qr.text(), /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  });

  it('answers bad input with a 400 and a code, unknown names with 404, other methods with 405', async (t) => {
    const { url } = await afterVisits(t, async () => {});
    const bad = [
      '?granularity=minute',
      '?from=yesterday',
      '?from=2026-13-45',
      '?from=2026-12-02&to=2026-12-01',
      '?from=2001-01-01&to=2026-01-01&granularity=day',
      '?from=2001-01-01&granularity=hour',
      `?from=${'9'.repeat(50)}`,
    ];
    for (const query of bad) {
      const answer = await fetch(`${url}/api/bookmarks/counted/stats${query}`);
      assert.equal(answer.status, 400, query);
      const body = (await answer.json()) as { error: string; message: string };
      assert.ok(['INVALID_STATS_QUERY', 'INVALID_REQUEST'].includes(body.error), `${query}: ${body.error}`);
    }
    const badRange = await fetch(`${url}/counted+?range=forever`);
    assert.equal(badRange.status, 400);
    assert.match(await badRange.text(), /'range' is one of 48h, 7d, 30d, 90d, 365d/);

    for (const path of ['/api/bookmarks/nobody/stats', '/nobody+', '/nobody+qr.svg']) {
      const answer = await fetch(`${url}${path}`);
      assert.equal(answer.status, 404, path);
    }
    assert.equal(((await fetch(`${url}/api/bookmarks/nobody/stats`).then((r) => r.json())) as { error: string }).error, 'NOT_FOUND');
    for (const path of ['/api/bookmarks/counted/stats', '/counted+', '/counted+qr.svg']) {
      const head = await fetch(`${url}${path}`, { method: 'HEAD' });
      assert.equal(head.status, 200, `HEAD ${path}`);
      const post = await fetch(`${url}${path}`, { method: 'POST' });
      assert.equal(post.status, 405, `POST ${path}`);
      assert.equal(post.headers.get('allow'), 'GET, HEAD');
    }
    assert.equal((await fetch(`${url}/a+b+`)).status, 404, 'a + inside a name is no stats page');
  });

  it('with STATS=false counts the total only, HEAD still left out, and says so', async (t) => {
    const { url } = await afterVisits(
      t,
      async (at) => {
        await visit(at, { 'user-agent': CHROME });
        await visit(at, { 'user-agent': SLACK });
        await visit(at, { 'user-agent': CHROME }, 'HEAD');
      },
      { stats: { enabled: false, flushMs: 1000, hourlyDays: 35, geoipDbFile: undefined } },
    );
    const bookmark = (await (await fetch(`${url}/api/bookmarks/counted`)).json()) as { visits: number };
    assert.equal(bookmark.visits, 2, 'every GET, bots included, as before stats');
    const answer = await fetch(`${url}/api/bookmarks/counted/stats`);
    assert.equal(answer.status, 404);
    assert.equal(((await answer.json()) as { error: string }).error, 'STATS_DISABLED');
    assert.match(await (await fetch(`${url}/counted+`)).text(), /Stats beyond the total are turned off/);
  });
});
