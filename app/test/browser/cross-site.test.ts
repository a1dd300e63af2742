import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startTarget } from '../../../test/support/index.ts';
import { makeKey } from '../auth/keys-support.ts';
import { htmlPage, startApp } from '../helpers.ts';
import { browserSkipReason, launchBrowser, watchConsole } from './support.ts';

// Sign-in, delete from the page, and posts from other origins, in a real browser: linkyard at
// http://127.0.0.1:P; a hostile page at http://localhost:Q (another site: SameSite=Lax keeps the
// session cookie off its posts) and at http://127.0.0.1:R (the same site, another origin: the
// cookie goes along, and only the Origin check stands between it and the link).

const skip = browserSkipReason();

/** A page that posts `fields` to `action` as soon as it loads, as a hostile site would. */
function autoPost(action: string, fields: Record<string, string>) {
  const inputs = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${value}">`)
    .join('');
  return (_request: IncomingMessage, response: ServerResponse) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(
      `<!doctype html><title>Win a prize</title><form method="POST" action="${action}">${inputs}</form><script>document.forms[0].submit()</script>`,
    );
  };
}

describe('cross-site safety in Chromium', { skip }, () => {
  let browser: Browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(() => browser?.close());

  it('signs in, deletes from the page, and refuses posts from another site and from another origin of the same site', async (t) => {
    const target = await startTarget(t, htmlPage('Target'));
    const { url, config } = await startApp(t, { publicUrl: new URL('http://127.0.0.1/') });
    const key = await makeKey(t, config.dataDir, 'alice', 'author');
    const context = await browser.newContext();
    t.after(() => context.close());
    const page: Page = await context.newPage();
    const problems = watchConsole(page);

    await page.goto(`${url}/sign-in`);
    await page.fill('#key', key);
    await Promise.all([page.waitForURL(`${url}/`), page.click('form.sign-in button[type="submit"]')]);
    assert.match((await page.textContent('footer.account')) ?? '', /Signed in as alice/);
    const [session] = (await context.cookies(url)).filter((cookie) => cookie.name === 'linkyard_session');
    assert.equal(session?.httpOnly, true);
    assert.equal(session?.sameSite, 'Lax');

    for (const name of ['kept', 'doomed']) {
      await page.fill('#longuri', `${target.url}/${name}`);
      await page.fill('#shortname', name);
      await Promise.all([page.waitForURL(`${url}/`), page.click('form.create button[type="submit"]')]);
    }

    const otherSite = await startTarget(t, (request, response) => {
      const routes: Record<string, [string, Record<string, string>]> = {
        '/plant': [`${url}/`, { longuri: `${target.url}/bait`, shortname: 'planted' }],
        '/delete': [`${url}/delete`, { name: 'kept' }],
        '/sign-out': [`${url}/sign-out`, {}],
      };
      const [action, fields] = routes[request.url ?? ''] ?? [`${url}/`, {}];
      autoPost(action, fields)(request, response);
    });
    const hostilePort = new URL(otherSite.url).port;
    const origins = [`http://localhost:${hostilePort}`, otherSite.url];
    for (const origin of origins) {
      for (const path of ['/plant', '/delete', '/sign-out']) {
        const [answer] = await Promise.all([
          page.waitForResponse((response) => response.request().method() === 'POST' && response.url().startsWith(url)),
          page.goto(`${origin}${path}`),
        ]);
        assert.equal(answer.status(), 403, `${origin}${path}`);
        await page.waitForLoadState();
        assert.match((await page.textContent('body')) ?? '', /sent from another site/, `${origin}${path}`);
      }
    }

    const names = async () =>
      ((await (await fetch(`${url}/api/bookmarks`)).json()) as { items: { name: string }[] }).items.map((item) => item.name);
    assert.deepEqual(await names(), ['doomed', 'kept'], 'nothing planted, nothing deleted');
    await page.goto(url);
    assert.match((await page.textContent('footer.account')) ?? '', /Signed in as alice/, 'still signed in');

    await Promise.all([page.waitForURL(`${url}/`), page.click('button[aria-label="Delete doomed"]')]);
    assert.deepEqual(await names(), ['kept']);
    await Promise.all([page.waitForURL(`${url}/`), page.click('footer.account button')]);
    assert.match((await page.textContent('footer.account')) ?? '', /Sign in/);
    assert.equal(await page.locator('form.delete').count(), 0, 'signed out: no delete buttons');
    assert.deepEqual(problems, []);
  });
});
