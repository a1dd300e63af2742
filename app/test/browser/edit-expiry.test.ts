import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { eventually, PERSON_USER_AGENT, startTarget } from '../../../test/support/index.ts';
import { makeKey } from '../auth/keys-support.ts';
import { htmlPage, startApp } from '../helpers.ts';
import { browserSkipReason, launchBrowser, watchConsole } from './support.ts';

// The edit form and expiry on the page, in a real browser: sign in, open Edit on one's link,
// change its target and set a visit limit; the link expires after it, shows Expired, and an edit
// that clears the limit renews it.

const skip = browserSkipReason();

describe('edit and expiry on the page in Chromium', { skip }, () => {
  let browser: Browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(() => browser?.close());

  it('edits a link’s target and visit limit from the page; the expired link shows Expired and 410, and is renewed', async (t) => {
    const before = await startTarget(t, htmlPage('Before'));
    const after = await startTarget(t, htmlPage('After'));
    const { url, config } = await startApp(t, { publicUrl: new URL('http://127.0.0.1/'), visitsFlushMs: 50 });
    const key = await makeKey(t, config.dataDir, 'alice', 'author');
    // A person's browser: Headless Chrome is a bot, whose redirects do not count toward the visit limit.
    const context = await browser.newContext({ userAgent: PERSON_USER_AGENT });
    t.after(() => context.close());
    const page: Page = await context.newPage();
    const problems = watchConsole(page);

    await page.goto(`${url}/sign-in`);
    await page.fill('#key', key);
    await Promise.all([page.waitForURL(`${url}/`), page.click('form.sign-in button[type="submit"]')]);
    await page.fill('#longuri', `${before.url}/`);
    await page.fill('#shortname', 'campaign');
    await Promise.all([page.waitForURL(`${url}/`), page.click('form.create button[type="submit"]')]);

    await page.click('summary[aria-label="Edit campaign"]');
    await page.fill('#edit-campaign-uri', `${after.url}/`);
    await page.fill('#edit-campaign-max', '1');
    await Promise.all([page.waitForURL(`${url}/`), page.click('form.edit button[type="submit"]')]);
    assert.match((await page.textContent('td.target')) ?? '', /After/);
    assert.match((await page.textContent('td.status')) ?? '', /1 visits at most/);

    const visit = await context.request.get(`${url}/campaign`, { maxRedirects: 0 });
    assert.equal(visit.status(), 303);
    assert.equal(visit.headers().location, `${after.url}/`);
    const gone = await page.goto(`${url}/campaign`);
    assert.equal(gone?.status(), 410);
    assert.match((await page.textContent('h2')) ?? '', /but it has expired/);

    // Listed as expired once the visit is written (every VISITS_FLUSH_MS).
    const expiredShown = async () => {
      await page.goto(`${url}/`);
      return (await page.locator('span.badge.expired').count()) === 1;
    };
    assert.ok(await eventually(expiredShown, 3000), 'shown as Expired');

    await page.click('summary[aria-label="Edit campaign"]');
    await page.fill('#edit-campaign-max', '');
    await Promise.all([page.waitForURL(`${url}/`), page.click('form.edit button[type="submit"]')]);
    assert.equal(await page.locator('span.badge.expired').count(), 0, 'renewed');
    assert.equal((await context.request.get(`${url}/campaign`, { maxRedirects: 0 })).status(), 303);

    // The create form has the same limits, folded under Expiry.
    await page.fill('#longuri', `${before.url}/limited`);
    await page.fill('#shortname', 'limited');
    await page.click('details.limits > summary');
    await page.fill('#expiresat', '2031-02-03T04:05');
    await page.fill('#maxvisits', '2');
    await Promise.all([page.waitForURL(`${url}/`), page.click('form.create button[type="submit"]')]);
    const limitedRow = page.locator('tr', { has: page.locator('a[href="/limited"]') });
    assert.match((await limitedRow.locator('td.status').textContent()) ?? '', /until 2031-02-03 04:05 UTC, 2 visits at most/);
    assert.deepEqual(problems, []);
  });
});
