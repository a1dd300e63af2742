import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTarget } from '../../../test/support/index.ts';
import { loadConfig } from '../../src/config.ts';
import { makeKey } from '../auth/keys-support.ts';
import { htmlPage, postForm, sessionCookie, startApp } from '../helpers.ts';

function postApi(url: string, body: unknown, key?: string) {
  return fetch(`${url}/api/bookmarks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { authorization: `Bearer ${key}` }) },
    body: JSON.stringify(body),
  });
}

describe('PRIVATE=true', () => {
  it('is off unless asked for, and refuses a value that is not a boolean', () => {
    assert.equal(loadConfig({}).private, false);
    assert.equal(loadConfig({ PRIVATE: 'true' }).private, true);
    assert.throws(() => loadConfig({ PRIVATE: 'maybe' }), /PRIVATE: expected true or false/);
  });

  it('shows the anonymous a sign-in instead of the list, refuses their creations and API reads (401), and keeps redirects public', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url, config } = await startApp(t, { private: true });
    const key = await makeKey(t, config.dataDir, 'alice', 'author');

    const created = await postApi(url, { uri: `${target.url}/`, name: 'hers' }, key);
    assert.equal(created.status, 201);

    const page = await fetch(url);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /private: sign in with your key/);
    assert.match(html, /action="\/sign-in"/);
    assert.doesNotMatch(html, /hers/, 'no list');

    const refusedForm = await postForm(url, '/', { longuri: `${target.url}/`, shortname: 'anon' });
    assert.equal(refusedForm.status, 401);
    assert.match(await refusedForm.text(), /action="\/sign-in"/);
    for (const response of [
      await postApi(url, { uri: `${target.url}/`, name: 'anon' }),
      await fetch(`${url}/api/bookmarks`),
      await fetch(`${url}/api/bookmarks/hers`),
    ]) {
      assert.equal(response.status, 401, response.url);
      assert.equal(response.headers.get('www-authenticate'), 'Bearer');
    }
    assert.equal((await fetch(`${url}/anon`, { redirect: 'manual' })).status, 404, 'nothing created');
    assert.equal((await fetch(`${url}/hers`, { redirect: 'manual' })).status, 303, 'redirects stay public');

    assert.equal((await fetch(`${url}/api/bookmarks`, { headers: { authorization: `Bearer ${key}` } })).status, 200);
    const signedIn = await postForm(url, '/sign-in', { key });
    const cookie = sessionCookie(signedIn);
    assert.match(await (await fetch(url, { headers: { cookie } })).text(), /hers/, 'signed in: the list');
    assert.equal((await postForm(url, '/', { longuri: `${target.url}/`, shortname: 'mine' }, { cookie })).status, 303);
    assert.equal(
      ((await (await fetch(`${url}/api/bookmarks/mine`, { headers: { authorization: `Bearer ${key}` } })).json()) as { createdBy: string })
        .createdBy,
      'alice',
    );
  });
  it('hides the stats as it hides the list: the page shows a sign-in, the API and the QR code answer 401', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url, config } = await startApp(t, { private: true });
    const key = await makeKey(t, config.dataDir, 'alice', 'author');
    assert.equal((await postApi(url, { uri: `${target.url}/`, name: 'hers' }, key)).status, 201);

    const page = await fetch(`${url}/hers+`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /action="\/sign-in"/);
    assert.doesNotMatch(html, /<svg/, 'no chart, no QR code');
    const api = await fetch(`${url}/api/bookmarks/hers/stats`);
    assert.equal(api.status, 401);
    assert.equal(api.headers.get('www-authenticate'), 'Bearer');
    assert.equal((await fetch(`${url}/hers+qr.svg`)).status, 401);

    assert.equal((await fetch(`${url}/api/bookmarks/hers/stats`, { headers: { authorization: `Bearer ${key}` } })).status, 200);
    const signedIn = await postForm(url, '/sign-in', { key });
    const cookie = sessionCookie(signedIn);
    assert.match(await (await fetch(`${url}/hers+`, { headers: { cookie } })).text(), /hers/, 'signed in: the stats page');
    const qr = await fetch(`${url}/hers+qr.svg`, { headers: { cookie } });
    assert.equal(qr.status, 200);
    assert.equal(qr.headers.get('cache-control'), 'private, max-age=86400', 'never in a shared cache');
  });
});
