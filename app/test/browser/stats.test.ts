import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { type Stack, startStack } from '../../../stack/src/stack.ts';
import { eventually, SuiteCleanups, tempDir } from '../../../test/support/index.ts';
import { classifyAgent } from '../../src/stats/classify.ts';
import { VisitRollups } from '../../src/stats/rollups.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { HOUR_MS } from '../../src/store/stats-types.ts';
import { browserSkipReason, contrastProblems, horizontalOverflow, launchBrowser, screenshotPath, watchConsole } from './support.ts';

// The stats page (/<name>+) as a person meets it: Chromium through nginx, the chart and its
// table, the top lists, the QR code read back by zbarimg, and docs/stats.png.

const ZBARIMG = '/usr/bin/zbarimg';
/** docs/stats.png is refreshed only when asked (UPDATE_DOCS_SCREENSHOT=1), so a test run leaves the tree as it was. */
const DOCS_SCREENSHOT = fileURLToPath(new URL('../../../docs/stats.png', import.meta.url));
const PHONE_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';

const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  PHONE_UA,
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
].map(classifyAgent);
const REFERRERS = ['direct', 'news.ycombinator.com', 'google.com', 'mastodon.social', 'direct', 'lobste.rs'];
const SLACK = classifyAgent('Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)');

/** Without zbarimg the QR code cannot be read back: skipped with a notice, but under CI=true (which installs it) a failure. */
function zbarimgSkipReason(): string | undefined {
  if (existsSync(ZBARIMG)) return undefined;
  const reason = `${ZBARIMG} is missing (apt-get install zbar-tools)`;
  if (process.env.CI === 'true') throw new Error(`${reason}, which CI does not allow`);
  return `NOTICE: ${reason}`;
}

const skip = browserSkipReason() ?? zbarimgSkipReason();

describe('the stats page in a real browser, through nginx', { skip, timeout: 90_000 }, () => {
  let stack: Stack;
  let browser: Browser;
  let dataDir: string;
  const fixtures = new SuiteCleanups();

  before(async () => {
    const dir = tempDir(fixtures, 'linkyard-browser-stats-');
    chmodSync(dir, 0o755);
    dataDir = join(dir, 'data');
    const starts = [
      startStack({
        port: 0,
        quiet: true,
        instances: 2,
        dataDir,
        stateDir: join(dir, 'state'),
        env: { LOG_LEVEL: 'warn', VISITS_FLUSH_MS: '100', STATS_FLUSH_MS: '100' },
        rateLimit: '1000r/s',
      }).then((started) => (stack = started)),
      launchBrowser().then((started) => (browser = started)),
    ];
    await Promise.allSettled(starts);
    await Promise.all(starts);
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
    await fixtures.run();
  });

  it('shows the chart, its numbers, where visits came from and a QR code that reads back as the short URL', async (t) => {
    const created = await fetch(`${stack.url}/api/bookmarks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uri: `${stack.url}/?a-page-people-share`, name: 'launch' }),
    });
    assert.equal(created.status, 201);
    // A week of history, written through the store's own batch write as the apps' flushes write it.
    const store = new SqliteStore({ file: join(dataDir, 'linkyard.sqlite') });
    t.after(() => store.close());
    const history = new VisitRollups();
    const thisHour = Math.floor(Date.now() / HOUR_MS);
    let people = 0;
    for (let hoursAgo = 1; hoursAgo < 7 * 24; hoursAgo++) {
      // A launch two days ago, then a slow decay, with a daily rhythm.
      const wave = Math.max(0, 60 - Math.abs(hoursAgo - 48) * 1.2) + 6 * (1 + Math.sin((hoursAgo / 24) * 2 * Math.PI));
      const visits = Math.round(wave);
      for (let i = 0; i < visits; i++) {
        const agent = AGENTS[(i + hoursAgo) % AGENTS.length] ?? SLACK;
        history.add(
          'launch',
          { agent, referrer: REFERRERS[(i * 7 + hoursAgo) % REFERRERS.length] ?? 'direct' },
          (thisHour - hoursAgo) * HOUR_MS,
        );
        people++;
      }
      if (hoursAgo % 5 === 0) history.add('launch', { agent: SLACK, referrer: 'direct' }, (thisHour - hoursAgo) * HOUR_MS);
    }
    await store.addVisits(new Map([['launch', people]]), 'browser-test-history', history.rows());

    // And one visit now, from a phone, through nginx.
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, userAgent: PHONE_UA });
    t.after(() => context.close());
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    const problems = watchConsole(page);
    const visited = await fetch(`${stack.url}/launch`, {
      redirect: 'manual',
      headers: { 'user-agent': PHONE_UA, referer: 'https://lobste.rs/s/x' },
    });
    assert.equal(visited.status, 303);
    assert.ok(
      await eventually(async () => {
        const bookmark = (await (await fetch(`${stack.url}/api/bookmarks/launch`)).json()) as { visits: number };
        return bookmark.visits === people + 1;
      }, 5_000),
      'the visit through nginx is flushed',
    );

    const answer = await page.goto(`${stack.url}/launch+`);
    assert.equal(answer?.status(), 200);
    assert.equal(await page.title(), 'Stats of launch: Bookmark Server');

    // The chart: an image with a name; its bars are people only.
    const chart = page.getByRole('img', { name: /People who followed .*\/launch by hour over the last 7 days/ });
    assert.equal(await chart.count(), 1);
    assert.ok((await page.locator('svg.chart rect.bar').count()) > 100, 'a bar for each hour with visits');
    // The numbers: a table with a caption and headers, in a region the keyboard can scroll.
    const numbers = page.getByRole('table', { name: /Visits by hour \(UTC\)/ });
    assert.deepEqual(await numbers.locator('thead th').allTextContents(), ['Hour', 'People', 'Bots']);
    const rows = await numbers.locator('tbody tr td.count').allTextContents();
    const counted = rows.filter((_, index) => index % 2 === 0).reduce((sum, cell) => sum + Number(cell), 0);
    assert.equal(counted, people + 1, 'the table adds up to every visit of the week');
    // The top lists.
    const referrers = page.getByRole('table', { name: 'Referrers' });
    assert.match((await referrers.locator('tbody').textContent()) ?? '', /news\.ycombinator\.com/);
    assert.match((await page.getByRole('table', { name: 'Bots' }).textContent()) ?? '', /Slackbot/);
    assert.match((await page.getByRole('table', { name: 'Devices' }).textContent()) ?? '', /mobile/);

    assert.equal(await horizontalOverflow(page), 0);
    assert.deepEqual(await contrastProblems(page), []);
    await page.screenshot({
      path: process.env.UPDATE_DOCS_SCREENSHOT === '1' ? DOCS_SCREENSHOT : screenshotPath('stats.png'),
      fullPage: true,
    });

    // Keyboard: the range links and the QR download are reached with Tab.
    const reached: string[] = [];
    for (let i = 0; i < 15; i++) {
      await page.keyboard.press('Tab');
      reached.push(await page.evaluate<string>('document.activeElement?.textContent?.trim() ?? ""'));
    }
    assert.ok(reached.includes('Download the QR code (SVG)'), reached.join(' | '));
    assert.ok(reached.includes('30 days'), reached.join(' | '));

    // The QR code, as drawn on the page, decodes to the short URL.
    const qrShot = screenshotPath('stats-qr.png');
    await page.locator('figure.qr img').screenshot({ path: qrShot });
    const decoded = execFileSync(ZBARIMG, ['-q', '--raw', qrShot], { encoding: 'utf8' }).trim();
    assert.equal(decoded, `${stack.url}/launch`);

    // Another range: by day.
    await page.getByRole('link', { name: '30 days' }).click();
    await page.waitForURL(/range=30d/);
    assert.equal(await page.getByRole('table', { name: /Visits by day \(UTC\)/ }).count(), 1);
    assert.deepEqual(problems, []);
  });
});
