import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTarget } from '../../../test/support/index.ts';
import { escapeHtml } from '../../src/views/html.ts';
import { startCheckTarget } from '../check/fixtures/target.ts';
import { form, htmlPage, startApp } from '../helpers.ts';

describe('the form page (GET / and POST /)', () => {
  it("shows the seed's page: title, the two fields, no-cache, a content-hashed stylesheet", async (t) => {
    const { url } = await startApp(t);
    const response = await fetch(`${url}/`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    const html = await response.text();
    assert.match(html, /<title>Bookmark Server<\/title>/);
    assert.match(html, /name="longuri"/);
    assert.match(html, /name="shortname"/);
    assert.match(html, /href="\/static\/style\.[0-9a-f]{8}\.css"/);
  });

  it('checks the URI by fetching it, stores it, answers 303 to /, and lists it with its page title', async (t) => {
    let hits = 0;
    const target = await startTarget(t, (request, response) => {
      hits++;
      htmlPage('Example &amp; Co')(request, response);
    });
    const { url } = await startApp(t);
    const post = await fetch(`${url}/`, {
      method: 'POST',
      redirect: 'manual',
      ...form({ longuri: `${target.url}/page`, shortname: 'ex' }),
    });
    assert.equal(post.status, 303);
    assert.equal(post.headers.get('location'), '/');
    assert.equal(hits, 1);

    const html = await (await fetch(`${url}/`)).text();
    assert.match(html, /href="\/ex">ex<\/a>/);
    assert.match(html, new RegExp(`${target.url}/page`));
    assert.match(html, /Example &amp; Co/);

    // The same name and URI again is idempotent: 303, no second fetch, nothing changes.
    const again = await fetch(`${url}/`, {
      method: 'POST',
      redirect: 'manual',
      ...form({ longuri: `${target.url}/page`, shortname: 'ex' }),
    });
    assert.equal(again.status, 303);
    assert.equal(hits, 1);
  });

  it('lists newest first and paginates instead of rendering the whole table', async (t) => {
    const target = await startTarget(t, htmlPage('t'));
    const { url } = await startApp(t, { pageSize: 3 });
    for (let i = 1; i <= 5; i++) {
      const r = await fetch(`${url}/`, {
        method: 'POST',
        redirect: 'manual',
        ...form({ longuri: `${target.url}/${i}`, shortname: `n${i}` }),
      });
      assert.equal(r.status, 303);
    }
    const first = await (await fetch(`${url}/`)).text();
    const names = [...first.matchAll(/href="\/(n\d)"/g)].map((m) => m[1]);
    assert.deepEqual(names, ['n5', 'n4', 'n3']);
    const next = /href="(\/\?cursor=[^"]+)" rel="next"/.exec(first)?.[1];
    assert.ok(next, 'an "older" link');
    const second = await (await fetch(`${url}${next.replaceAll('&amp;', '&')}`)).text();
    assert.deepEqual(
      [...second.matchAll(/href="\/(n\d)"/g)].map((m) => m[1]),
      ['n2', 'n1'],
    );
    assert.doesNotMatch(second, /rel="next"/);

    const bad = await fetch(`${url}/?cursor=not-a-cursor`);
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /cursor/);
  });

  it('names a missing field with 400 and keeps what was typed', async (t) => {
    const { url } = await startApp(t);
    const noUri = await fetch(`${url}/`, { method: 'POST', ...form({ shortname: 'kept-name' }) });
    assert.equal(noUri.status, 400);
    const html = await noUri.text();
    assert.match(html, /role="alert">Please fill out the Long URI field/);
    assert.match(html, /value="kept-name"/);

    const noName = await fetch(`${url}/`, { method: 'POST', ...form({ longuri: 'http://example.com/' }) });
    assert.equal(noName.status, 400);
    assert.match(await noName.text(), /Short name field/);
  });

  it('answers the seed\'s 404 "Couldn\'t fetch URI" for a target that is not 2xx, storing nothing', async (t) => {
    const target = await startTarget(t, (_request, response) => response.writeHead(500).end());
    const { url } = await startApp(t);
    const response = await fetch(`${url}/`, { method: 'POST', ...form({ longuri: `${target.url}/broken`, shortname: 'broken' }) });
    assert.equal(response.status, 404);
    const html = await response.text();
    assert.match(html, new RegExp(`Couldn&#39;t fetch URI &#39;${target.url}/broken&#39;`));
    assert.match(html, /HTTP 500/);
    assert.match(html, new RegExp(`value="${target.url}/broken"`));
    assert.equal((await fetch(`${url}/broken`, { redirect: 'manual' })).status, 404);
  });

  it("answers the seed's 404 with the reason for a hostile target (a compression bomb, a body dripped past the deadline), in the form and the API, storing nothing", async (t) => {
    const target = await startCheckTarget(t);
    const { url } = await startApp(t, { check: { timeoutMs: 1000 } });
    const cases: Array<[string, RegExp]> = [
      ['gzip-bomb', /the page is a compression bomb \(its gzip expands \d+×, over 100×\)/],
      ['drip', /timed out reading the page after 1000 ms/],
    ];
    for (const [path, reason] of cases) {
      const page = await fetch(`${url}/`, { method: 'POST', ...form({ longuri: `${target.origin}/${path}`, shortname: path }) });
      assert.equal(page.status, 404, path);
      const html = await page.text();
      assert.match(html, new RegExp(`Couldn&#39;t fetch URI &#39;${target.origin}/${path}&#39;`));
      assert.match(html, reason);

      const api = await fetch(`${url}/api/bookmarks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ uri: `${target.origin}/${path}`, name: path }),
      });
      assert.equal(api.status, 404, path);
      const body = (await api.json()) as { error: string; message: string };
      assert.equal(body.error, 'URI_UNREACHABLE');
      assert.match(body.message, reason);
      assert.equal((await fetch(`${url}/${path}`, { redirect: 'manual' })).status, 404, `${path} was not stored`);
    }
  });

  it('answers text it cannot fetch (not a URI, another scheme, too long) as the seed did: 404 with the reason, no fetch', async (t) => {
    let hits = 0;
    const target = await startTarget(t, (request, response) => {
      hits++;
      htmlPage('x')(request, response);
    });
    const { url } = await startApp(t);
    const tooLong = `${target.url}/${'a'.repeat(2100)}`;
    const cases: Array<[string, string]> = [
      ['javascript:alert(1)', "only http and https URIs can be bookmarked, not 'javascript:'"],
      ['data:text/html,hi', "only http and https URIs can be bookmarked, not 'data:'"],
      ['file:///etc/passwd', "only http and https URIs can be bookmarked, not 'file:'"],
      ['example.com', 'not an absolute URI: it needs http:// or https://'],
      ['  not a URI at all ', 'not an absolute URI: it needs http:// or https://'],
      [tooLong, `it is ${tooLong.length} characters; the limit is 2048`],
    ];
    for (const [longuri, reason] of cases) {
      const response = await fetch(`${url}/`, { method: 'POST', ...form({ longuri, shortname: 'kept' }) });
      assert.equal(response.status, 404, longuri.slice(0, 80));
      const html = await response.text();
      const message = escapeHtml(`Couldn't fetch URI '${longuri.trim()}'. Sorry! (${reason})`);
      assert.ok(html.includes(`role="alert">${message}<`), `${longuri.slice(0, 80)}: ${/role="alert">[^<]*/.exec(html)?.[0]}`);
      assert.ok(html.includes(`value="${escapeHtml(longuri)}"`), 'what was typed is kept');
      assert.match(html, /id="longuri"[^>]*aria-invalid="true"/);
    }
    assert.equal(hits, 0);
    assert.equal((await fetch(`${url}/kept`, { redirect: 'manual' })).status, 404, 'nothing was stored');
  });

  it('refuses bad and reserved names with 400 before any fetch', async (t) => {
    let hits = 0;
    const target = await startTarget(t, (request, response) => {
      hits++;
      htmlPage('x')(request, response);
    });
    const { url } = await startApp(t);
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ longuri: `${target.url}/`, shortname: 'has space' }, /not allowed/],
      [{ longuri: `${target.url}/`, shortname: 'x'.repeat(65) }, /not allowed/],
      [{ longuri: `${target.url}/`, shortname: 'api' }, /reserved/],
      [{ longuri: `${target.url}/`, shortname: 'Static' }, /reserved/],
    ];
    for (const [fields, message] of cases) {
      const response = await fetch(`${url}/`, { method: 'POST', ...form(fields) });
      assert.equal(response.status, 400, JSON.stringify(fields).slice(0, 80));
      assert.match(await response.text(), message);
    }
    assert.equal(hits, 0);
  });

  it('answers 409 for a taken name with another URI, and never overwrites', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url } = await startApp(t);
    await fetch(`${url}/`, { method: 'POST', redirect: 'manual', ...form({ longuri: `${target.url}/one`, shortname: 'taken' }) });
    const response = await fetch(`${url}/`, { method: 'POST', ...form({ longuri: `${target.url}/two`, shortname: 'taken' }) });
    assert.equal(response.status, 409);
    assert.match(await response.text(), /already taken/);
    assert.equal((await fetch(`${url}/taken`, { redirect: 'manual' })).headers.get('location'), `${target.url}/one`);
  });

  it('generates a short name when the field is left empty', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url } = await startApp(t);
    const response = await fetch(`${url}/`, {
      method: 'POST',
      redirect: 'manual',
      ...form({ longuri: `${target.url}/gen`, shortname: '' }),
    });
    assert.equal(response.status, 303);
    const html = await (await fetch(`${url}/`)).text();
    const name = /<td class="name"><a href="\/([A-Za-z0-9]{7})">/.exec(html)?.[1];
    assert.ok(name, 'a generated 7-character name is listed');
    const redirect = await fetch(`${url}/${name}`, { redirect: 'manual' });
    assert.equal(redirect.headers.get('location'), `${target.url}/gen`);
  });

  it('escapes everything that came from a user or a target page', async (t) => {
    const target = await startTarget(t, htmlPage('&lt;img src=x onerror=alert(1)&gt;'));
    const { url } = await startApp(t);
    const evil = `${target.url}/?q="><script>alert(1)</script>`;
    const post = await fetch(`${url}/`, { method: 'POST', redirect: 'manual', ...form({ longuri: evil, shortname: 'xss' }) });
    assert.equal(post.status, 303);
    const html = await (await fetch(`${url}/`)).text();
    assert.doesNotMatch(html, /<script>alert/);
    assert.doesNotMatch(html, /<img src=x/);
    assert.match(html, /&lt;img src=x onerror=alert\(1\)&gt;/);

    const rejected = await (
      await fetch(`${url}/`, { method: 'POST', ...form({ longuri: 'javascript:"><b>x', shortname: '"><i>' }) })
    ).text();
    assert.doesNotMatch(rejected, /"><b>|"><i>/);
  });
  it('answers a full check queue as the JSON API does: the same 503 and Retry-After, the form kept', async (t) => {
    let holding = true;
    const held: Array<() => void> = [];
    const slow = await startTarget(t, (request, response) => {
      const answer = () => htmlPage('slow')(request, response);
      if (holding) held.push(answer);
      else answer();
    });
    // One check running and one waiting fill the queue; the deadline (4 s) sets the Retry-After.
    const { url } = await startApp(t, { check: { workers: 1, concurrentPerWorker: 1, maxQueue: 1, timeoutMs: 4000 } });
    const create = (uri: string, name: string) =>
      fetch(`${url}/api/bookmarks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ uri, name }),
      });
    const filling = [create(`${slow.url}/0`, 'fill0'), create(`${slow.url}/1`, 'fill1')];
    try {
      for (let waited = 0; !/^linkyard_check_queue_depth 1$/m.test(await (await fetch(`${url}/metrics`)).text()); waited += 20) {
        assert.ok(waited < 5000, 'the second check never queued');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const viaForm = await fetch(`${url}/`, {
        method: 'POST',
        redirect: 'manual',
        ...form({ longuri: `${slow.url}/form`, shortname: 'viaform' }),
      });
      const viaApi = await create(`${slow.url}/api`, 'viaapi');
      assert.equal(viaForm.status, 503);
      assert.equal(viaApi.status, 503);
      assert.equal(viaForm.headers.get('retry-after'), '4');
      assert.equal(viaApi.headers.get('retry-after'), '4');
      const page = await viaForm.text();
      const { error, message } = (await viaApi.json()) as { error: string; message: string };
      assert.equal(error, 'CHECK_QUEUE_FULL');
      assert.ok(page.includes(escapeHtml(message)), page);
      assert.match(page, /value="viaform"/);
    } finally {
      // Answered before the target and the app close, or their close waits for these checks.
      holding = false;
      for (const answer of held) answer();
      await Promise.allSettled(filling);
    }
  });
});
