import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PERSON_USER_AGENT, startTarget } from '../../../test/support/index.ts';
import type { BookmarkJson } from '../../src/routes/api.ts';
import { htmlPage, postForm, startApp } from '../helpers.ts';

async function stored(url: string, name: string): Promise<BookmarkJson | undefined> {
  const response = await fetch(`${url}/api/bookmarks/${name}`);
  return response.status === 200 ? ((await response.json()) as BookmarkJson) : undefined;
}

describe('the create form’s expiry fields', () => {
  it('offers an expiry date and a visit limit, saves them, and leaves a link unlimited when they are empty', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url } = await startApp(t);
    const form = await (await fetch(`${url}/`)).text();
    assert.match(
      form,
      /<form class="create"[\s\S]*name="expiresat" type="datetime-local"[\s\S]*name="maxvisits" type="number"[\s\S]*<\/form>/,
    );

    const created = await postForm(url, '/', {
      longuri: `${target.url}/limited`,
      shortname: 'limited',
      expiresat: '2031-02-03T04:05',
      maxvisits: '2',
    });
    assert.equal(created.status, 303);
    const limited = await stored(url, 'limited');
    assert.equal(limited?.expiresAt, '2031-02-03T04:05:00.000Z', 'read as UTC');
    assert.equal(limited?.maxVisits, 2);
    for (const expected of [303, 303, 410]) {
      const redirect = await fetch(`${url}/limited`, { redirect: 'manual', headers: { 'user-agent': PERSON_USER_AGENT } });
      assert.equal(redirect.status, expected);
    }

    assert.equal(
      (await postForm(url, '/', { longuri: `${target.url}/plain`, shortname: 'plain', expiresat: '', maxvisits: '' })).status,
      303,
    );
    const plain = await stored(url, 'plain');
    assert.deepEqual([plain?.expiresAt, plain?.maxVisits], [null, null]);
  });

  it('refuses a past date, a malformed one, and a limit that is not a whole number from 1, as the API does: the form back with the field marked and what was typed, nothing saved', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url } = await startApp(t);
    const cases: Array<[Record<string, string>, 'expiresat' | 'maxvisits', RegExp]> = [
      [{ expiresat: '2001-01-01T00:00' }, 'expiresat', /has passed/],
      [{ expiresat: '2031-02-31T00:00' }, 'expiresat', /is not a date/],
      [{ maxvisits: '0' }, 'maxvisits', /whole number from 1/],
      [{ maxvisits: '2.5' }, 'maxvisits', /whole number from 1/],
      [{ maxvisits: 'many' }, 'maxvisits', /whole number from 1/],
    ];
    for (const [fields, marked, message] of cases) {
      const response = await postForm(url, '/', { longuri: `${target.url}/x`, shortname: 'refused', ...fields });
      assert.equal(response.status, 400, `${JSON.stringify(fields)}: ${response.status}`);
      const page = await response.text();
      assert.match(page, message, JSON.stringify(fields));
      assert.match(page, new RegExp(`name="${marked}"[^>]*aria-invalid="true"`), `${marked} marked`);
      assert.match(page, /<details class="limits" open>/, 'opened to show the field');
      const typed = Object.values(fields)[0] ?? '';
      assert.match(page, new RegExp(`name="${marked}"[^>]*value="${typed.replace('.', '\\.')}"`), 'what was typed, kept');
      assert.match(page, /name="shortname"[^>]*value="refused"/);
      assert.equal(await stored(url, 'refused'), undefined, 'nothing saved');
    }
  });
});
