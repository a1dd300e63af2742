import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import { type Stack, startStack } from '../../../stack/src/stack.ts';
import { freePort, SuiteCleanups, tempDir } from '../../../test/support/index.ts';
import {
  appRequestsByRoute,
  browserSkipReason,
  computedStyle,
  contrastProblems,
  horizontalOverflow,
  launchBrowser,
  recordLoads,
  requestsNginxSaw,
  screenshotPath,
  startTargetSite,
  TARGET_TITLES,
  type TargetSite,
  watchConsole,
} from './support.ts';

// linkyard as a person meets it: headless Chromium in front of the native stack (nginx and the
// app processes), bookmarking pages of a local target site. Two stacks: `main` for everything a
// person normally does, `strict` with one check slot, no check queue and a rate limit of one
// form post a minute, to reach the "busy" and "too many requests" answers on purpose.

const BRAND = 'rgb(29, 92, 88)';
const DESKTOP = { width: 1280, height: 800 };
const PHONE: BrowserContextOptions = {
  viewport: { width: 375, height: 740 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
};

const skip = browserSkipReason();

describe('the page in a real browser, through nginx', { skip, timeout: 90_000 }, () => {
  let target: TargetSite;
  let main: Stack;
  let strict: Stack;
  let browser: Browser;

  const fixtures = new SuiteCleanups();

  before(async () => {
    const dir = tempDir(fixtures, 'linkyard-browser-');
    // nginx started by root runs its workers as nobody, who must reach the state folders.
    chmodSync(dir, 0o755);
    target = await startTargetSite(fixtures);
    const common = { port: 0, quiet: true, accessLog: true };
    const env = { CHECK_ALLOW_PRIVATE: 'true', LOG_LEVEL: 'warn', VISITS_FLUSH_MS: '100' };
    // Each kept as soon as it is up, and every start waited for: if one fails, after() still stops
    // the others (a Promise.all destructured nothing on a failure, and left two stacks running).
    const starts = [
      startStack({
        ...common,
        instances: 2,
        dataDir: join(dir, 'main-data'),
        stateDir: join(dir, 'main-state'),
        env,
        // A person never posts this fast, but the tests do.
        rateLimit: '1000r/s',
      }).then((started) => (main = started)),
      startStack({
        ...common,
        instances: 1,
        dataDir: join(dir, 'strict-data'),
        stateDir: join(dir, 'strict-state'),
        env: { ...env, CHECK_WORKERS: '1', CHECK_CONCURRENCY_PER_WORKER: '1', CHECK_MAX_QUEUE: '0' },
        rateLimit: '1r/m',
      }).then((started) => (strict = started)),
      launchBrowser().then((started) => (browser = started)),
    ];
    await Promise.allSettled(starts);
    await Promise.all(starts);
  });

  after(async () => {
    await browser?.close();
    await Promise.all([main?.stop(), strict?.stop()]);
    await fixtures.run();
  });

  /** A page in a fresh browser context (its own cache and cookies), closed when the test ends. */
  async function openPage(t: TestContext, options: BrowserContextOptions = {}): Promise<{ page: Page; problems: string[] }> {
    const context = await browser.newContext({ viewport: DESKTOP, ...options });
    t.after(() => context.close());
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    return { page, problems: watchConsole(page) };
  }

  /** Fills the form as a person would (by its labels), sends it and waits for the page it gets back. */
  async function submit(page: Page, longuri: string, shortname: string): Promise<number> {
    await page.getByLabel('Long URI').fill(longuri);
    await page.getByLabel('Short name').fill(shortname);
    const posted = page.waitForResponse((response) => response.request().method() === 'POST');
    const loaded = page.waitForEvent('load');
    await page.getByRole('button', { name: 'Save it!' }).click();
    const status = (await posted).status();
    await loaded;
    return status;
  }

  /** Makes sure a bookmark exists, without the browser (as another person would have added it). */
  async function ensureBookmark(stack: Stack, shortname: string, longuri: string): Promise<void> {
    const response = await fetch(`${stack.url}/`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ longuri, shortname }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(response.status, 303, `creating ${shortname}`);
  }

  function rowOf(page: Page, name: string) {
    return page.locator('table.bookmarks tbody tr').filter({ has: page.getByRole('link', { name, exact: true }) });
  }

  it('serves the styled, accessible page: stylesheet applied, landmarks, labels, focus, contrast', async (t) => {
    const { page, problems } = await openPage(t);
    const response = await page.goto(`${main.url}/`);
    assert.equal(response?.status(), 200);
    assert.match(response?.headers()['content-security-policy'] ?? '', /script-src 'self'; style-src 'self'/);

    // Styled, not just served: these values exist only in style.css.
    assert.equal(await computedStyle(page, 'header.site', 'background-color'), BRAND);
    assert.equal(await computedStyle(page, 'header.site', 'color'), 'rgb(255, 255, 255)');
    assert.equal(await computedStyle(page, 'main', 'max-width'), '1088px');

    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.equal(await page.title(), 'Bookmark Server');
    await page.getByRole('banner').waitFor();
    await page.getByRole('main').waitFor();
    assert.deepEqual(await page.evaluate<string[]>('[...document.querySelectorAll("h1, h2, h3, h4, h5, h6")].map((h) => h.tagName)'), [
      'H1',
      'H2',
      'H2',
    ]);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Bookmark Server');

    // Labels name the fields; the hints describe them.
    assert.equal(await page.getByLabel('Long URI').getAttribute('id'), 'longuri');
    assert.equal(await page.getByLabel('Short name').getAttribute('id'), 'shortname');
    assert.equal(await page.getByLabel('Long URI').getAttribute('aria-describedby'), 'longuri-hint');

    // The keyboard reaches the form first, and the focus is plain to see.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate<string>('document.activeElement.id'), 'longuri');
    assert.equal(await computedStyle(page, '#longuri', 'outline-style'), 'solid');
    assert.equal(await computedStyle(page, '#longuri', 'outline-width'), '3px');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate<string>('document.activeElement.textContent'), 'Save it!');
    assert.equal(await computedStyle(page, 'button[type="submit"]', 'outline-style'), 'solid');

    assert.deepEqual(await contrastProblems(page), []);
    assert.deepEqual(problems, []);
  });

  it('saves bookmarks from the form and lists each with its title, visits and check', async (t) => {
    const { page, problems } = await openPage(t);
    await page.goto(`${main.url}/`);

    assert.equal(await submit(page, `${target.url}/garden`, 'garden'), 303);
    assert.equal(page.url(), `${main.url}/`);
    const garden = rowOf(page, 'garden');
    assert.equal(await garden.locator('.title').textContent(), TARGET_TITLES['/garden']);
    assert.equal(await garden.locator('a.uri').textContent(), `${target.url}/garden`);
    assert.equal(await garden.locator('td.visits').textContent(), '0');
    assert.equal(await garden.locator('.badge').textContent(), '✓ HTTP 200');

    // A site that answers 403 is up but keeps robots out: saved, with a warning a person can read.
    assert.equal(await submit(page, `${target.url}/members-only`, 'members'), 303);
    const members = rowOf(page, 'members');
    assert.equal(await members.locator('.badge.warn').textContent(), '⚠ HTTP 403');
    assert.match((await members.locator('td.status').textContent()) ?? '', /refuses robots/);

    // A very long URI stays inside its cell: at most two lines, never a wider table.
    const long = `${target.url}/recipes/bread?${'ingredient=flour&'.repeat(30)}end`;
    assert.equal(await submit(page, long, 'bread'), 303);
    const bread = rowOf(page, 'bread');
    assert.equal(await bread.locator('.title').textContent(), TARGET_TITLES['/recipes/bread']);
    assert.equal(await bread.locator('a.uri').getAttribute('href'), long);
    const cell = await bread.locator('td.target').boundingBox();
    const link = await bread.locator('a.uri').boundingBox();
    assert.ok(cell && link, 'the target cell and its link are laid out');
    assert.ok(link.x + link.width <= cell.x + cell.width + 0.5, 'the URI does not stick out of its cell');
    const lineHeight = parseFloat(await computedStyle(page, 'td.target a.uri', 'line-height'));
    assert.ok(link.height <= 2 * lineHeight + 1, `the URI takes at most two lines (${link.height}px)`);
    assert.equal(
      await page.evaluate<number>(
        'document.querySelector("table.bookmarks").scrollWidth - document.querySelector("table.bookmarks").clientWidth',
      ),
      0,
    );
    assert.equal(await horizontalOverflow(page), 0);

    // Newest first.
    const names = await page.locator('td.name > a').allTextContents();
    assert.deepEqual(names.slice(0, 3), ['bread', 'members', 'garden']);
    assert.deepEqual(await contrastProblems(page), []);

    // The search box finds a link by part of its target, and "Show all" lists every link again.
    await page.getByLabel('Search').fill('recipes');
    await Promise.all([page.waitForURL(/\?q=recipes$/), page.getByRole('button', { name: 'Search', exact: true }).click()]);
    assert.deepEqual(await page.locator('td.name > a').allTextContents(), ['bread']);
    assert.equal(await page.getByLabel('Search').inputValue(), 'recipes', 'the query stays in the box');
    await Promise.all([page.waitForURL(`${main.url}/`), page.getByRole('link', { name: 'Show all' }).click()]);
    assert.deepEqual((await page.locator('td.name > a').allTextContents()).slice(0, 3), ['bread', 'members', 'garden']);
    assert.deepEqual(problems, []);
  });

  it('follows a short link to the target page, and the visit is counted', async (t) => {
    await ensureBookmark(main, 'landing', `${target.url}/landing`);
    // Headless Chromium says "HeadlessChrome", which is counted as a bot: this is a person's Chrome.
    const { page, problems } = await openPage(t, {
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    });
    await page.goto(`${main.url}/`);
    const visitsBefore = Number(await rowOf(page, 'landing').locator('td.visits').textContent());

    await page.getByRole('link', { name: 'landing', exact: true }).click();
    await page.waitForURL(`${target.url}/landing`);
    assert.equal(await page.title(), TARGET_TITLES['/landing']);

    await page.goto(`${main.url}/`);
    // Visits are counted in memory and flushed every 100 ms here.
    const deadline = Date.now() + 5_000;
    let visits = visitsBefore;
    while (visits === visitsBefore && Date.now() < deadline) {
      await sleep(150);
      await page.reload();
      visits = Number(await rowOf(page, 'landing').locator('td.visits').textContent());
    }
    assert.equal(visits, visitsBefore + 1);
    assert.deepEqual(problems, []);
  });

  it('shows each mistake as a readable message on the page, keeping what was typed', async (t) => {
    await ensureBookmark(main, 'garden', `${target.url}/garden`);
    const unreachable = `http://127.0.0.1:${await freePort()}/nothing-here`;
    const cases = [
      { what: 'missing field', longuri: '', shortname: 'lonely', status: 400, message: /^Please fill out the Long URI field\.$/ },
      { what: 'unreachable URI', longuri: unreachable, shortname: 'nowhere', status: 404, message: /^Couldn't fetch URI '.*nothing-here'/ },
      {
        what: 'not a URI',
        longuri: 'my favourite recipe',
        shortname: 'words',
        status: 404,
        message: /^Couldn't fetch URI 'my favourite recipe'\. Sorry! \(not an absolute URI/,
      },
      {
        what: 'name taken',
        longuri: `${target.url}/recipes/bread`,
        shortname: 'garden',
        status: 409,
        message: /short name 'garden' is already taken/,
      },
      { what: 'bad name', longuri: `${target.url}/garden`, shortname: 'has space', status: 400, message: /not allowed/ },
    ];
    const { page, problems } = await openPage(t);
    for (const { what, longuri, shortname, status, message } of cases) {
      await page.goto(`${main.url}/`);
      assert.equal(await submit(page, longuri, shortname), status, what);
      const alert = page.getByRole('alert');
      assert.match((await alert.textContent()) ?? '', message, what);
      assert.equal(await computedStyle(page, '.message.error', 'color'), 'rgb(138, 28, 18)', what);
      assert.equal(await page.title(), 'Error: Bookmark Server', what);
      assert.equal(await page.getByLabel('Long URI').inputValue(), longuri, `${what}: the URI is kept`);
      assert.equal(await page.getByLabel('Short name').inputValue(), shortname, `${what}: the name is kept`);
      // The list is still there under the form.
      await rowOf(page, 'garden').waitFor();
      assert.deepEqual(await contrastProblems(page), [], what);
      if (what === 'name taken') await page.screenshot({ path: screenshotPath('desktop-error.png'), fullPage: true });
    }
    assert.deepEqual(problems, []);
  });

  it('ties the message to the field at fault (aria-invalid, described by it, focused)', async (t) => {
    const { page } = await openPage(t);
    await page.goto(`${main.url}/`);
    await submit(page, '', 'lonely');
    const uri = page.getByLabel('Long URI');
    assert.equal(await uri.getAttribute('aria-invalid'), 'true');
    assert.equal(await uri.getAttribute('aria-describedby'), 'form-message longuri-hint');
    assert.equal(await page.evaluate<string>('document.activeElement.id'), 'longuri');
    assert.equal(await page.getByLabel('Short name').getAttribute('aria-invalid'), null);
  });

  it('says the server is busy when its check queue is full (503), keeping what was typed', async (t) => {
    // The strict stack's only check slot is taken by a check of a page that does not answer yet.
    const held = fetch(`${strict.appUrls[0]}/`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ longuri: `${target.url}/slow`, shortname: 'slow' }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    t.after(async () => {
      target.releaseSlow();
      await held.catch(() => undefined);
    });
    await target.slowArrived();

    const { page, problems } = await openPage(t);
    await page.goto(`${strict.url}/`);
    const longuri = `${target.url}/recipes/bread`;
    assert.equal(await submit(page, longuri, 'busy'), 503);
    assert.match((await page.getByRole('alert').textContent()) ?? '', /Too many URI checks are waiting; try again shortly\./);
    assert.equal(await page.getByLabel('Long URI').inputValue(), longuri);
    assert.equal(await page.getByLabel('Short name').inputValue(), 'busy');
    assert.equal(await computedStyle(page, 'header.site', 'background-color'), BRAND);

    target.releaseSlow();
    assert.equal((await held).status, 303);
    assert.deepEqual(problems, []);
  });

  it('shows nginx\'s readable "too many requests" page (429), and Back returns to the typed form', async (t) => {
    // One form post a minute after a burst of 20: use the burst up without the browser.
    let refused = false;
    for (let i = 0; i < 40 && !refused; i++) {
      const response = await fetch(`${strict.url}/`, {
        method: 'POST',
        body: 'shortname=burst',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      await response.arrayBuffer();
      refused = response.status === 429;
    }
    assert.ok(refused, 'nginx refuses form posts past the burst');

    const { page, problems } = await openPage(t);
    await page.goto(`${strict.url}/`);
    const longuri = `${target.url}/garden`;
    assert.equal(await submit(page, longuri, 'too-fast'), 429);
    assert.match(await page.title(), /Too many requests/);
    assert.equal(await computedStyle(page, 'header.site', 'background-color'), BRAND);
    assert.match((await page.getByRole('main').textContent()) ?? '', /Wait a few seconds/);
    assert.match((await page.getByRole('main').textContent()) ?? '', /Back button/);
    assert.equal(await page.getByRole('link', { name: /bookmarks/i }).getAttribute('href'), '/');
    assert.deepEqual(await contrastProblems(page), []);
    await page.screenshot({ path: screenshotPath('rate-limited.png'), fullPage: true });

    // The browser's Back button brings the form back with what was typed in it.
    await page.goBack();
    assert.equal(await page.getByLabel('Long URI').inputValue(), longuri);
    assert.equal(await page.getByLabel('Short name').inputValue(), 'too-fast');
    assert.deepEqual(problems, []);
  });

  it('takes the stylesheet from the browser cache on a reload and a new visit: neither nginx nor an app sees it', async (t) => {
    const context = await browser.newContext({ viewport: DESKTOP });
    t.after(() => context.close());
    const page = await context.newPage();
    const loads = await recordLoads(context, page);
    const stylesheet = async () => new URL((await page.getAttribute('link[rel="stylesheet"]', 'href')) ?? '', main.url).href;
    const cssLoads = async () => {
      const css = await stylesheet();
      return loads.take().filter((load) => load.url === css);
    };

    // The first visit fetches it from nginx (so the checks below can fail).
    const firstSeen = await requestsNginxSaw(main, async () => {
      await page.goto(`${main.url}/`);
    });
    const cssPath = new URL(await stylesheet()).pathname;
    assert.match(cssPath, /^\/static\/style\.[0-9a-f]{8}\.css$/);
    assert.deepEqual(
      (await cssLoads()).map((load) => load.source),
      ['network'],
    );
    assert.ok(firstSeen.includes(cssPath), `nginx served ${cssPath} on the first visit`);

    const appBefore = await appRequestsByRoute(main);
    const visits: Array<[string, () => Promise<unknown>]> = [
      ['reload', () => page.reload()],
      ['a new visit to the page', () => page.goto(`${main.url}/`)],
    ];
    for (const [how, visit] of visits) {
      const seen = await requestsNginxSaw(main, async () => {
        await visit();
        await page.waitForLoadState('load');
      });
      const css = await cssLoads();
      assert.equal(css.length, 1, `${how}: the page uses the stylesheet`);
      assert.notEqual(css[0]?.source, 'network', `${how}: the stylesheet comes from the cache`);
      assert.ok(!seen.includes(cssPath), `${how}: nginx was not asked for ${cssPath} (it saw ${seen.join(', ')})`);
      assert.ok(
        seen.some((uri) => uri.startsWith('/')),
        `${how}: nginx saw the page itself`,
      );
      assert.equal(await computedStyle(page, 'header.site', 'background-color'), BRAND, `${how}: still styled`);
    }

    // A new tab has an empty memory cache: the stylesheet comes from the disk cache.
    const tab = await context.newPage();
    const tabLoads = await recordLoads(context, tab);
    const seen = await requestsNginxSaw(main, async () => {
      await tab.goto(`${main.url}/`);
    });
    const css = await stylesheet();
    assert.deepEqual(
      tabLoads
        .take()
        .filter((load) => load.url === css)
        .map((load) => load.source),
      ['disk-cache'],
    );
    assert.ok(!seen.includes(cssPath), 'a new tab: nginx was not asked for the stylesheet');

    // nginx answers static files itself: no app process ever saw one, now or before.
    const appAfter = await appRequestsByRoute(main);
    for (const route of appAfter.keys()) assert.doesNotMatch(route, /^\/static/, 'an app process answered a static file');
    // With SERVE_STATIC off, a stray /static request would land in the app's not-found handler.
    assert.equal(appAfter.get('unmatched') ?? 0, appBefore.get('unmatched') ?? 0, 'no request fell through to an app');
  });

  it('works without JavaScript: the form posts and re-renders, the copy buttons stay hidden', async (t) => {
    const { page, problems } = await openPage(t, { javaScriptEnabled: false });
    await page.goto(`${main.url}/`);
    assert.equal(await computedStyle(page, 'header.site', 'background-color'), BRAND);

    assert.equal(await submit(page, `${target.url}/recipes/bread`, 'no-script'), 303);
    const row = rowOf(page, 'no-script');
    assert.equal(await row.locator('.title').textContent(), TARGET_TITLES['/recipes/bread']);
    const copyButtons = page.locator('button.copy');
    assert.ok((await copyButtons.count()) > 0);
    for (const button of await copyButtons.all()) assert.equal(await button.isVisible(), false);

    assert.equal(await submit(page, `${target.url}/garden`, 'no-script'), 409);
    assert.match((await page.getByRole('alert').textContent()) ?? '', /already taken/);
    assert.equal(await page.getByLabel('Short name').inputValue(), 'no-script');
    assert.deepEqual(problems, []);
  });

  it('with JavaScript, shows a copy button that puts the full short link on the clipboard', async (t) => {
    await ensureBookmark(main, 'garden', `${target.url}/garden`);
    const { page, problems } = await openPage(t, { permissions: ['clipboard-read', 'clipboard-write'] });
    await page.goto(`${main.url}/`);
    const copy = rowOf(page, 'garden').getByRole('button', { name: /^Copy/ });
    assert.equal(await copy.isVisible(), true);
    assert.equal(await copy.getAttribute('aria-label'), `Copy the short link ${main.url}/garden`);
    await copy.click();
    // The clipboard write is asynchronous: wait for the button to say it is done.
    await copy.filter({ hasText: /^Copied$/ }).waitFor();
    assert.equal(await page.evaluate<string>('navigator.clipboard.readText()'), `${main.url}/garden`);
    assert.equal(await page.getByRole('status').textContent(), `Copied ${main.url}/garden`);
    assert.deepEqual(problems, []);
  });

  it('fits a phone: no horizontal scrolling, with rows and with an error; screenshots of both sizes', async (t) => {
    await ensureBookmark(main, 'garden', `${target.url}/garden`);
    await ensureBookmark(main, 'members', `${target.url}/members-only`);
    const { page, problems } = await openPage(t, PHONE);
    await page.goto(`${main.url}/`);
    assert.equal(await horizontalOverflow(page), 0);
    assert.ok((await page.locator('table.bookmarks tbody tr').count()) >= 2);
    // Each bookmark is a small card: no table header, the name on a line of its own.
    assert.equal(await page.locator('table.bookmarks thead').isVisible(), false);

    assert.equal(await submit(page, `${target.url}/${'very-long-path-segment/'.repeat(12)}`, 'bad name!'), 400);
    assert.equal(await horizontalOverflow(page), 0);
    await page.getByRole('alert').waitFor();
    const input = await page.getByLabel('Long URI').boundingBox();
    assert.ok(input && input.x >= 0 && input.x + input.width <= 375, 'the field fits the screen');
    assert.deepEqual(await contrastProblems(page), []);
    await page.screenshot({ path: screenshotPath('phone-error.png'), fullPage: true });

    const desktop = await openPage(t);
    await desktop.page.goto(`${main.url}/`);
    assert.equal(await submit(desktop.page, `${target.url}/garden`, 'garden!'), 400);
    assert.equal(await horizontalOverflow(desktop.page), 0);
    await desktop.page.screenshot({ path: screenshotPath('desktop.png'), fullPage: true });
    assert.deepEqual([...problems, ...desktop.problems], []);
  });
});
