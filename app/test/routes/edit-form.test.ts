import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTarget } from '../../../test/support/index.ts';
import type { BookmarkJson } from '../../src/routes/api.ts';
import { makeKey } from '../auth/keys-support.ts';
import { htmlPage, postForm, sessionCookie, startApp } from '../helpers.ts';

async function bookmark(url: string, name: string): Promise<BookmarkJson> {
  return (await (await fetch(`${url}/api/bookmarks/${name}`)).json()) as BookmarkJson;
}

describe('the edit form on the page', () => {
  it('shows Edit on the signed-in person’s links only, saves a new target and title, and refuses others’ links and other sites', async (t) => {
    const before = await startTarget(t, htmlPage('Before'));
    const after = await startTarget(t, htmlPage('After'));
    const { url, config } = await startApp(t);
    const alice = await makeKey(t, config.dataDir, 'alice', 'author');
    const signedIn = await postForm(url, '/sign-in', { key: alice });
    const cookie = sessionCookie(signedIn);
    assert.equal((await postForm(url, '/', { longuri: `${before.url}/`, shortname: 'hers' }, { cookie })).status, 303);
    assert.equal((await postForm(url, '/', { longuri: `${before.url}/`, shortname: 'anons' })).status, 303);

    const page = await (await fetch(url, { headers: { cookie } })).text();
    assert.match(page, /<summary aria-label="Edit hers">Edit<\/summary>/);
    assert.doesNotMatch(page, /aria-label="Edit anons"/);
    assert.doesNotMatch(await (await fetch(url)).text(), /<details class="edit">/, 'signed out: no edit forms');

    // The title sent back as shown is no change: the new target takes its own title.
    const moved = await postForm(url, '/edit', { name: 'hers', longuri: `${after.url}/`, title: 'Before' }, { cookie });
    assert.equal(moved.status, 303);
    assert.deepEqual([(await bookmark(url, 'hers')).uri, (await bookmark(url, 'hers')).title], [`${after.url}/`, 'After']);
    assert.equal((await postForm(url, '/edit', { name: 'hers', longuri: `${after.url}/`, title: 'Mine' }, { cookie })).status, 303);
    assert.equal((await bookmark(url, 'hers')).title, 'Mine');

    const theirs = await postForm(url, '/edit', { name: 'anons', longuri: `${after.url}/`, title: 'x' }, { cookie });
    assert.equal(theirs.status, 403);
    assert.equal((await postForm(url, '/edit', { name: 'hers', title: 'x' })).status, 401, 'signed out');
    const bad = await postForm(url, '/edit', { name: 'hers', longuri: 'not a uri', title: 'Mine' }, { cookie });
    assert.equal(bad.status, 404, 'text that is not a URI, as the create form answers it');
    assert.match(await bad.text(), /Couldn&#39;t fetch URI|Couldn't fetch URI/);
    const crossSite = await postForm(
      url,
      '/edit',
      { name: 'hers', title: 'planted' },
      { cookie, origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' },
    );
    assert.equal(crossSite.status, 403);
    assert.equal((await bookmark(url, 'anons')).uri, `${before.url}/`);
    assert.equal((await bookmark(url, 'hers')).title, 'Mine');
    assert.equal((await fetch(`${url}/edit`, { redirect: 'manual' })).status, 405);
  });
});
