import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTarget } from '../../../test/support/index.ts';
import { makeKey, revokeKey } from '../auth/keys-support.ts';
import { form, htmlPage, postForm, sessionCookie, startApp } from '../helpers.ts';

describe('sign-in, sessions and the page', () => {
  it('signs in with a key: an HttpOnly, SameSite=Lax session cookie; the page then shows who and delete for their links only', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url, config } = await startApp(t);
    const alice = await makeKey(t, config.dataDir, 'alice', 'author');
    await makeKey(t, config.dataDir, 'bob', 'author');

    const signInPage = await fetch(`${url}/sign-in`);
    assert.equal(signInPage.status, 200);
    assert.match(await signInPage.text(), /<input id="key" name="key" type="password"/);

    const signedIn = await postForm(url, '/sign-in', { key: alice });
    assert.equal(signedIn.status, 303);
    assert.equal(signedIn.headers.get('location'), '/');
    const setCookie = signedIn.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /^linkyard_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=2592000; HttpOnly; SameSite=Lax$/);
    const cookie = sessionCookie(signedIn);

    assert.equal((await postForm(url, '/', { longuri: `${target.url}/a`, shortname: 'hers' }, { cookie })).status, 303);
    assert.equal((await postForm(url, '/', { longuri: `${target.url}/b`, shortname: 'anons' })).status, 303);
    const page = await (await fetch(url, { headers: { cookie } })).text();
    assert.match(page, /Signed in as <strong>alice<\/strong>/);
    assert.match(page, /name="name" value="hers"/);
    assert.doesNotMatch(page, /name="name" value="anons"/, 'no delete for a link that is not hers');
    assert.match(await (await fetch(url)).text(), /<a href="\/sign-in">Sign in<\/a> to edit or delete/);

    const api = (await (await fetch(`${url}/api/bookmarks/hers`)).json()) as { createdBy: string };
    assert.equal(api.createdBy, 'alice');
    assert.equal(((await (await fetch(`${url}/api/bookmarks/anons`)).json()) as { createdBy: string }).createdBy, 'form');

    const forbidden = await postForm(url, '/delete', { name: 'anons' }, { cookie });
    assert.equal(forbidden.status, 403);
    assert.equal((await fetch(`${url}/anons`, { redirect: 'manual' })).status, 303);
    const deleted = await postForm(url, '/delete', { name: 'hers' }, { cookie });
    assert.equal(deleted.status, 303);
    assert.equal((await fetch(`${url}/hers`, { redirect: 'manual' })).status, 404);

    const signedOut = await postForm(url, '/sign-out', {}, { cookie });
    assert.equal(signedOut.status, 303);
    assert.match(signedOut.headers.get('set-cookie') ?? '', /^linkyard_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Lax$/);
    assert.doesNotMatch(await (await fetch(url, { headers: { cookie } })).text(), /Signed in as/, 'the old cookie is dead');
    assert.equal((await postForm(url, '/delete', { name: 'anons' }, { cookie })).status, 401);
  });

  it('refuses a malformed, unknown or revoked key with 401 and the form again; the cookie is Secure behind https', async (t) => {
    const { url, config } = await startApp(t, { publicUrl: new URL('https://links.example/'), keyCacheMs: 0 });
    for (const key of ['', 'hunter2', `lyk_${'A'.repeat(43)}`]) {
      const refused = await postForm(url, '/sign-in', { key }, { origin: 'https://links.example' });
      assert.equal(refused.status, 401, key);
      assert.equal(refused.headers.get('set-cookie'), null);
      assert.match(await refused.text(), /role="alert"/);
    }
    const alice = await makeKey(t, config.dataDir, 'alice', 'admin');
    const signedIn = await postForm(url, '/sign-in', { key: alice }, { origin: 'https://links.example' });
    assert.match(signedIn.headers.get('set-cookie') ?? '', /; Secure$/);
    const cookie = sessionCookie(signedIn);
    assert.match(await (await fetch(url, { headers: { cookie } })).text(), /Signed in as/);
    await revokeKey(t, config.dataDir, 'alice');
    assert.doesNotMatch(await (await fetch(url, { headers: { cookie } })).text(), /Signed in as/, 'revoking the key ends its sessions');
    assert.equal((await postForm(url, '/sign-in', { key: alice }, { origin: 'https://links.example' })).status, 401);
  });

  it('refuses every state-changing form from another origin (403 CROSS_SITE), and changes nothing', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url, config } = await startApp(t);
    const alice = await makeKey(t, config.dataDir, 'alice', 'admin');
    const cookie = sessionCookie(await postForm(url, '/sign-in', { key: alice }));
    assert.equal((await postForm(url, '/', { longuri: `${target.url}/`, shortname: 'kept' }, { cookie })).status, 303);

    const hostile: Record<string, string>[] = [
      { origin: 'http://evil.example' },
      { origin: 'null' },
      { origin: url.replace('127.0.0.1', 'localhost') },
      { origin: '', 'sec-fetch-site': 'cross-site' },
      { origin: '', referer: 'http://evil.example/page', 'sec-fetch-site': 'cross-site' },
      { origin: '', referer: 'http://evil.example/page', 'sec-fetch-site': '' },
      { origin: '', 'sec-fetch-site': 'same-site' },
    ];
    for (const headers of hostile) {
      const clean = Object.fromEntries(Object.entries({ cookie, ...headers }).filter(([, value]) => value !== ''));
      const attempts: [string, Record<string, string>][] = [
        ['/', { longuri: `${target.url}/`, shortname: 'planted' }],
        ['/delete', { name: 'kept' }],
        ['/sign-in', { key: alice }],
        ['/sign-out', {}],
      ];
      for (const [path, fields] of attempts) {
        const { body, headers: formHeaders } = form(fields);
        const refused = await fetch(`${url}${path}`, { method: 'POST', body, redirect: 'manual', headers: { ...formHeaders, ...clean } });
        assert.equal(refused.status, 403, `${path} ${JSON.stringify(headers)}`);
        assert.equal(refused.headers.get('set-cookie'), null);
      }
    }
    assert.equal((await fetch(`${url}/planted`, { redirect: 'manual' })).status, 404, 'nothing planted');
    assert.equal((await fetch(`${url}/kept`, { redirect: 'manual' })).status, 303, 'nothing deleted');
    assert.match(await (await fetch(url, { headers: { cookie } })).text(), /Signed in as/, 'not signed out');

    // The public URL's origin and a Referer from the page itself pass; so does a program with no browser headers.
    assert.equal(
      (await postForm(url, '/', { longuri: `${target.url}/`, shortname: 'p1' }, { origin: config.publicUrl.origin })).status,
      303,
    );
    const fromPage = form({ longuri: `${target.url}/`, shortname: 'p2' });
    const referred = { ...fromPage.headers, referer: `${url}/`, 'sec-fetch-site': 'same-origin' };
    assert.equal((await fetch(url, { method: 'POST', body: fromPage.body, headers: referred, redirect: 'manual' })).status, 303);
    const { body, headers } = form({ longuri: `${target.url}/`, shortname: 'p3' });
    assert.equal((await fetch(url, { method: 'POST', body, headers, redirect: 'manual' })).status, 303);
  });

  it('answers other methods on the new page routes with 405, and a delete of an unknown name with 404', async (t) => {
    const { url, config } = await startApp(t);
    const alice = await makeKey(t, config.dataDir, 'alice', 'admin');
    const cookie = sessionCookie(await postForm(url, '/sign-in', { key: alice }));
    for (const [method, path] of [
      ['PUT', '/sign-in'],
      ['GET', '/sign-out'],
      ['GET', '/delete'],
      ['DELETE', '/delete'],
    ] as const) {
      const answer = await fetch(`${url}${path}`, { method, redirect: 'manual' });
      assert.equal(answer.status, 405, `${method} ${path}`);
    }
    const unknown = await postForm(url, '/delete', { name: 'never-made' }, { cookie });
    assert.equal(unknown.status, 404);
    assert.match(await unknown.text(), /I don&#39;t know &#39;never-made&#39;/);
    assert.equal((await postForm(url, '/delete', {}, { cookie })).status, 404, 'no name at all');
  });
});
