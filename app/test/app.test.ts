import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { describe, it } from 'node:test';
import { freePort, startTarget, tempDir } from '../../test/support/index.ts';
import { buildApp } from '../src/app.ts';
import { openStore } from '../src/store/open.ts';
import { form, htmlPage, startApp, testConfig } from './helpers.ts';

describe('the app as a whole', () => {
  it('answers bad requests with their 4xx and keeps serving', async (t) => {
    const { url } = await startApp(t);
    const put = await fetch(`${url}/`, { method: 'PUT' });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get('allow'), 'GET, POST, HEAD');
    const options = await fetch(`${url}/api/bookmarks`, { method: 'OPTIONS' });
    assert.equal(options.status, 204);
    assert.match(options.headers.get('allow') ?? '', /POST/);

    const huge = await fetch(`${url}/`, { method: 'POST', ...form({ longuri: 'http://example.com/', shortname: 'x'.repeat(17_000) }) });
    assert.equal(huge.status, 413);

    const longName = await fetch(`${url}/${'n'.repeat(300)}`, { redirect: 'manual' });
    assert.equal(longName.status, 414);

    const badForm = await fetch(`${url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '%%%&&&==',
    });
    assert.equal(badForm.status, 400);

    assert.equal((await fetch(`${url}/healthz`)).status, 200);
  });

  it('answers 500 for an exception inside one request, logs it, and keeps serving others', async (t) => {
    const store = await openStore({ dataDir: tempDir(t), databaseUrl: undefined });
    const { url } = await startApp(t, {}, { store });
    assert.equal((await fetch(`${url}/`)).status, 200);
    // Pull the store out from under the app: every request that touches it now throws.
    await store.close();
    const broken = await fetch(`${url}/`);
    assert.equal(broken.status, 500);
    assert.doesNotMatch(await broken.text(), /database|sqlite|stack/i, 'no internals leak to the client');
    const api = await fetch(`${url}/api/bookmarks`);
    assert.equal(api.status, 500);
    assert.equal(((await api.json()) as { error: string }).error, 'INTERNAL');
    assert.equal((await fetch(`${url}/healthz`)).status, 200, 'the process still serves');
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(((await ready.json()) as { problems: string[] }).problems, ['store unavailable']);
  });

  it('reports readiness, and turns it 503 while draining', async (t) => {
    const { app, url } = await startApp(t);
    assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { status: 'ok' });
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    app.lifecycle.draining = true;
    const draining = await fetch(`${url}/readyz`);
    assert.equal(draining.status, 503);
    assert.deepEqual(((await draining.json()) as { problems: string[] }).problems, ['draining']);
  });

  it('exports Prometheus metrics: requests by route and status, in flight, checks, visits', async (t) => {
    const target = await startTarget(t, htmlPage('x'));
    const { url } = await startApp(t);
    await fetch(`${url}/`, { method: 'POST', redirect: 'manual', ...form({ longuri: `${target.url}/`, shortname: 'm' }) });
    await fetch(`${url}/m`, { redirect: 'manual' });
    await fetch(`${url}/m`, { redirect: 'manual' });
    const response = await fetch(`${url}/metrics`);
    assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
    const text = await response.text();
    assert.match(text, /http_requests_total\{method="GET",route="\/:name",status_code="303"\} 2/);
    assert.match(text, /http_requests_total\{method="POST",route="\/",status_code="303"\} 1/);
    // The scrape itself is the one request in flight while the gauge is read.
    assert.match(text, /^http_requests_in_flight 1$/m);
    assert.match(text, /linkyard_checks_total\{outcome="accepted"\} 1/);
    assert.match(text, /^linkyard_visits_total 2$/m);
    assert.match(text, /^linkyard_check_queue_depth 0$/m);
    assert.match(text, /http_request_duration_seconds_bucket/);
    assert.match(text, /process_resident_memory_bytes/);
  });

  it('counts each answer once under its route pattern: a HEAD under its GET route, a 404 as unmatched', async (t) => {
    const { url } = await startApp(t);
    await fetch(`${url}/api/bookmarks`, { method: 'HEAD' });
    await fetch(`${url}/api/bookmarks`);
    await fetch(`${url}/no/such/thing`);
    await fetch(`${url}/no-such-name`, { redirect: 'manual' });
    const text = await (await fetch(`${url}/metrics`)).text();
    const series = (name: string) =>
      text
        .split('\n')
        .filter((line) => line.startsWith(`${name}{`))
        .sort();
    assert.deepEqual(
      series('http_requests_total').filter((line) => !line.includes('route="/metrics"')),
      [
        'http_requests_total{method="GET",route="/:name",status_code="404"} 1',
        'http_requests_total{method="GET",route="/api/bookmarks",status_code="200"} 1',
        'http_requests_total{method="GET",route="unmatched",status_code="404"} 1',
        'http_requests_total{method="HEAD",route="/api/bookmarks",status_code="200"} 1',
      ],
    );
    assert.deepEqual(
      series('http_request_duration_seconds_count').filter((line) => !line.includes('route="/metrics"')),
      [
        'http_request_duration_seconds_count{method="GET",route="/:name"} 1',
        'http_request_duration_seconds_count{method="GET",route="/api/bookmarks"} 1',
        'http_request_duration_seconds_count{method="GET",route="unmatched"} 1',
        'http_request_duration_seconds_count{method="HEAD",route="/api/bookmarks"} 1',
      ],
    );
  });

  it('takes a request the client gave up on out of flight', async (t) => {
    const { url } = await startApp(t);
    // A body promised and never sent: the request stays in flight until the client goes away.
    const given = httpRequest(`${url}/api/bookmarks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': '100' },
    });
    given.on('error', () => {});
    given.write('{');
    const inFlight = async () => Number(/^http_requests_in_flight (\d+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1]);
    let during = 0;
    for (let i = 0; i < 50 && during < 2; i++) {
      during = await inFlight();
      if (during < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(during, 2, 'the stalled request and the scrape');
    given.destroy();
    let after = during;
    for (let i = 0; i < 50 && after !== 1; i++) {
      after = await inFlight();
      if (after !== 1) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(after, 1, 'only the scrape itself');
  });

  it('takes X-Request-Id from a trusted proxy only', async (t) => {
    const trusting = await startApp(t);
    const echoed = await fetch(`${trusting.url}/healthz`, { headers: { 'x-request-id': 'from-nginx-123' } });
    assert.equal(echoed.headers.get('x-request-id'), 'from-nginx-123');

    const distrusting = await startApp(t, { trustedProxies: ['10.0.0.0/8'] });
    const ignored = await fetch(`${distrusting.url}/healthz`, { headers: { 'x-request-id': 'spoofed' } });
    assert.notEqual(ignored.headers.get('x-request-id'), 'spoofed');
    assert.match(ignored.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  it("accepts a bookmark to its own address (the seed's self-link) with private targets refused", async (t) => {
    const port = await freePort();
    const publicUrl = new URL(`http://127.0.0.1:${port}/`);
    const self = await buildApp(testConfig({ port, publicUrl, dataDir: tempDir(t), check: { allowPrivate: false } }));
    t.after(() => self.close());
    await self.listen({ port, host: '127.0.0.1' });
    const response = await fetch(`${publicUrl.href}`, {
      method: 'POST',
      redirect: 'manual',
      ...form({ longuri: publicUrl.href, shortname: 'me' }),
    });
    assert.equal(response.status, 303);
    assert.equal((await fetch(`${publicUrl.href}me`, { redirect: 'manual' })).headers.get('location'), publicUrl.href);

    // As a person types it: localhost is the same loopback address, so the same self-link.
    for (const [longuri, shortname] of [
      [`http://localhost:${port}/`, 'me-typed'],
      [`http://localhost:${port}/me`, 'me-path'],
    ] as const) {
      const typed = await fetch(`${publicUrl.href}`, { method: 'POST', redirect: 'manual', ...form({ longuri, shortname }) });
      assert.equal(typed.status, 303, longuri);
      assert.equal((await fetch(`${publicUrl.href}${shortname}`, { redirect: 'manual' })).headers.get('location'), longuri);
    }

    // Another loopback address is still refused while private targets are off, in either spelling.
    const other = await startTarget(t, htmlPage('x'));
    const otherPort = new URL(other.url).port;
    for (const longuri of [`${other.url}/`, `http://localhost:${otherPort}/`, `http://10.0.0.1:${port}/`]) {
      const refused = await fetch(`${publicUrl.href}`, { method: 'POST', ...form({ longuri, shortname: 'other' }) });
      assert.equal(refused.status, 404, longuri);
    }
  });

  it('takes 127.0.0.1 and [::1] for its own address when PUBLIC_URL says localhost', async (t) => {
    const port = await freePort();
    const publicUrl = new URL(`http://localhost:${port}/`);
    const app = await buildApp(testConfig({ port, publicUrl, dataDir: tempDir(t), check: { allowPrivate: false } }));
    t.after(() => app.close());
    await app.listen({ port, host: '127.0.0.1' });
    // The app listens on 127.0.0.1 only: [::1] is fetched at PUBLIC_URL's address, not dialled.
    for (const [uri, name] of [
      [`http://127.0.0.1:${port}/healthz`, 'v4'],
      [`http://[::1]:${port}/healthz`, 'v6'],
    ] as const) {
      const created = await fetch(`http://127.0.0.1:${port}/api/bookmarks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ uri, name }),
      });
      assert.equal(created.status, 201, `${uri}: ${await created.text()}`);
    }
  });

  it('checks its own public URL where SELF_URL says it reaches itself (compose: through nginx)', async (t) => {
    const port = await freePort();
    // A public name that resolves nowhere, as localhost:8080 is nowhere useful inside a container.
    const publicUrl = new URL('http://links.linkyard.invalid:8080/');
    const selfUrl = new URL(`http://127.0.0.1:${port}/`);
    const app = await buildApp(testConfig({ port, publicUrl, selfUrl, dataDir: tempDir(t), check: { allowPrivate: false } }));
    t.after(() => app.close());
    await app.listen({ port, host: '127.0.0.1' });
    const response = await fetch(selfUrl, {
      method: 'POST',
      redirect: 'manual',
      ...form({ longuri: `${publicUrl.href}healthz`, shortname: 'home' }),
    });
    assert.equal(response.status, 303);
    assert.equal((await fetch(`${selfUrl.href}home`, { redirect: 'manual' })).headers.get('location'), `${publicUrl.href}healthz`);
  });

  it('takes no loopback address for its own when PUBLIC_URL is a public name, even at its port', async (t) => {
    const port = await freePort();
    const publicUrl = new URL(`http://links.linkyard.invalid:${port}/`);
    const selfUrl = new URL(`http://127.0.0.1:${port}/`);
    const app = await buildApp(testConfig({ port, publicUrl, selfUrl, dataDir: tempDir(t), check: { allowPrivate: false } }));
    t.after(() => app.close());
    await app.listen({ port, host: '127.0.0.1' });
    // The app answers there, but whoever follows a bookmark to localhost reaches their own machine.
    for (const longuri of [`http://localhost:${port}/healthz`, `http://[::1]:${port}/healthz`]) {
      const refused = await fetch(selfUrl, { method: 'POST', ...form({ longuri, shortname: 'local' }) });
      assert.equal(refused.status, 404, longuri);
    }
  });

  it('answers 503 with Retry-After when the check queue is full', async (t) => {
    const slow = await startTarget(t, (_request, response) => {
      setTimeout(() => htmlPage('slow')(_request, response), 1500);
    });
    const { url } = await startApp(t, { check: { workers: 1, concurrentPerWorker: 1, maxQueue: 1, timeoutMs: 5000 } });
    const requests = Array.from({ length: 4 }, (_, i) =>
      fetch(`${url}/`, { method: 'POST', redirect: 'manual', ...form({ longuri: `${slow.url}/${i}`, shortname: `q${i}` }) }),
    );
    const responses = await Promise.all(requests);
    const statuses = responses.map((response) => response.status).sort();
    assert.deepEqual(statuses, [303, 303, 503, 503]);
    const full = responses.find((response) => response.status === 503);
    assert.ok(full);
    assert.ok(Number(full.headers.get('retry-after')) >= 1);
    assert.match(await full.text(), /Too many URI checks are waiting/);
  });

  it("closes a slow client's check when it goes away", async (t) => {
    let started = 0;
    const slow = await startTarget(t, () => {
      started++;
    });
    const { url } = await startApp(t, { check: { workers: 1, concurrentPerWorker: 1, maxQueue: 5, timeoutMs: 60_000 } });
    const body = new URLSearchParams({ longuri: `${slow.url}/hang`, shortname: 'gone' }).toString();
    await new Promise<void>((resolve) => {
      const request = httpRequest(`${url}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
      });
      request.on('error', () => resolve());
      request.end(body);
      const poll = setInterval(() => {
        if (started > 0) {
          clearInterval(poll);
          request.destroy();
          resolve();
        }
      }, 20);
    });
    // The next check can run: the abandoned one no longer holds the only slot.
    const target = await startTarget(t, htmlPage('x'));
    const next = await fetch(`${url}/`, {
      method: 'POST',
      redirect: 'manual',
      ...form({ longuri: `${target.url}/`, shortname: 'next' }),
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(next.status, 303);
  });
});
