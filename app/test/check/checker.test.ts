/**
 * What a check finds, against real targets on loopback, for both checkers: the worker pool and the
 * inline one must give the same verdicts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { queryObjects } from 'node:v8';
import { freePort } from '../../../test/support/index.ts';
import { createChecker } from '../../src/check/create-checker.ts';
import type { CheckAccepted, CheckRejected, CheckResult, UriChecker } from '../../src/check/types.ts';
import { checkConfig, startCheckTarget, type Target, TITLE_TEXT } from './fixtures/target.ts';

function accepted(result: CheckResult): CheckAccepted {
  assert.equal(result.ok, true, `expected acceptance, got ${JSON.stringify(result)}`);
  return result as CheckAccepted;
}

function rejected(result: CheckResult): CheckRejected {
  assert.equal(result.ok, false, `expected rejection, got ${JSON.stringify(result)}`);
  return result as CheckRejected;
}

for (const mode of ['pool', 'inline'] as const) {
  describe(`${mode} checker`, () => {
    let checker: UriChecker;
    /** Same, with a short deadline for the one test that waits for it. */
    let impatient: UriChecker;
    before(() => {
      const env = { CHECK_MODE: mode, CHECK_MAX_REDIRECTS: '5', CHECK_MAX_BODY_BYTES: '65536' };
      checker = createChecker(checkConfig({ ...env, CHECK_TIMEOUT_MS: '5000' }));
      impatient = createChecker(checkConfig({ ...env, CHECK_TIMEOUT_MS: '300' }));
    });
    after(() => Promise.all([checker.close(), impatient.close()]));

    test('200 with a <title>: accepted, title decoded and collapsed', async (t) => {
      const target = await startCheckTarget(t);
      const result = accepted(await checker.check(`${target.origin}/title`));
      assert.equal(result.status, 200);
      assert.equal(result.title, TITLE_TEXT);
      assert.equal(result.warning, null);
      assert.equal(result.redirects, 0);
      assert.equal(result.finalUri, `${target.origin}/title`);
    });

    test('a very long title is capped', async (t) => {
      const target = await startCheckTarget(t);
      const { title } = accepted(await checker.check(`${target.origin}/long-title`));
      assert.equal(Array.from(title ?? '').length, 300);
      assert.match(title ?? '', /^word word .*…$/);
    });

    test('a body that is not HTML is not parsed', async (t) => {
      const target = await startCheckTarget(t);
      assert.equal(accepted(await checker.check(`${target.origin}/plain`)).title, null);
    });

    test('404 and 500 are rejected with the status', async (t) => {
      const target = await startCheckTarget(t);
      for (const status of [404, 500]) {
        const result = rejected(await checker.check(`${target.origin}/status/${status}`));
        assert.equal(result.reason, 'http_status');
        assert.equal(result.detail, `HTTP ${status}`);
        assert.equal(result.status, status);
      }
    });

    test('401/403/405/429 are accepted with a warning', async (t) => {
      const target = await startCheckTarget(t);
      for (const status of [401, 403, 405, 429]) {
        const result = accepted(await checker.check(`${target.origin}/status/${status}`));
        assert.equal(result.status, status);
        assert.match(result.warning ?? '', new RegExp(`^HTTP ${status}`));
        assert.equal(result.title, null);
      }
    });

    test('a server that never answers times out within the deadline', async (t) => {
      const target = await startCheckTarget(t);
      const started = performance.now();
      const result = rejected(await impatient.check(`${target.origin}/slow`));
      const elapsed = performance.now() - started;
      assert.equal(result.reason, 'timeout');
      assert.equal(result.detail, 'timed out after 300 ms');
      assert.ok(result.durationMs >= 290, `durationMs ${result.durationMs}`);
      assert.ok(elapsed < 2000, `took ${elapsed} ms`);
    });

    // Inline, the check's timers are this isolate's to count; the pool runs the same code on its thread.
    if (mode === 'inline')
      test('a finished check leaves no timer waiting for its deadline', async (t) => {
        const target = await startCheckTarget(t);
        const probe = setTimeout(() => {}, 0);
        clearTimeout(probe);
        const timers = (): number => queryObjects(probe.constructor, { format: 'count' });
        // Warm: the first check builds the agent, whose own timers are not the checks'.
        accepted(await checker.check(`${target.origin}/title`));
        const before = timers();
        for (let i = 0; i < 50; i++) accepted(await checker.check(`${target.origin}/title`));
        // queryObjects counts after a full GC: a timer still set for the 5 s deadline is reachable.
        const left = timers() - before;
        assert.ok(left < 10, `${left} more timers alive after 50 checks`);
      });

    test('a 3-hop redirect chain is followed to the final URI', async (t) => {
      const target = await startCheckTarget(t);
      const result = accepted(await checker.check(`${target.origin}/hop/3`));
      assert.equal(result.redirects, 3);
      assert.equal(result.finalUri, `${target.origin}/title`);
      assert.equal(result.title, TITLE_TEXT);
      assert.deepEqual(target.requests, ['/hop/3', '/hop/2', '/hop/1', '/title']);
    });

    test('a redirect loop and a chain longer than maxRedirects are too_many_redirects', async (t) => {
      const target = await startCheckTarget(t);
      const loop = rejected(await checker.check(`${target.origin}/loop/a`));
      assert.equal(loop.reason, 'too_many_redirects');
      assert.equal(loop.detail, 'redirect loop');
      assert.deepEqual(target.requests, ['/loop/a', '/loop/b']);

      const long = rejected(await checker.check(`${target.origin}/hop/6`));
      assert.equal(long.reason, 'too_many_redirects');
      assert.equal(long.detail, 'more than 5 redirects');
      assert.ok(accepted(await checker.check(`${target.origin}/hop/5`)));
    });

    test('redirects to other schemes or nowhere are bad_redirect', async (t) => {
      const target = await startCheckTarget(t);
      const cases = [
        ['javascript:alert(1)', 'redirect to a javascript: URI'],
        ['ftp://127.0.0.1/file', 'redirect to a ftp: URI'],
        ['file:///etc/passwd', 'redirect to a file: URI'],
        ['http://[', "redirect to an invalid URI 'http://['"],
      ];
      for (const [to, detail] of cases) {
        const result = rejected(await checker.check(`${target.origin}/redirect?to=${encodeURIComponent(to ?? '')}`));
        assert.deepEqual([result.reason, result.detail], ['bad_redirect', detail]);
      }
      const missing = rejected(await checker.check(`${target.origin}/no-location`));
      assert.deepEqual([missing.reason, missing.detail], ['bad_redirect', 'HTTP 302 without a Location header']);
    });

    test('an endless page: the title is found and reading stops', async (t) => {
      const target = await startCheckTarget(t);
      const result = accepted(await checker.check(`${target.origin}/endless`));
      assert.equal(result.title, 'Endless');
      assert.ok(result.durationMs < 2500, `took ${result.durationMs} ms: it waited for the deadline`);
    });

    test('an endless page without a title: reading stops at maxBodyBytes', async (t) => {
      const target = await startCheckTarget(t);
      const result = accepted(await checker.check(`${target.origin}/endless/untitled`));
      assert.equal(result.title, null);
      assert.ok(result.durationMs < 2500, `took ${result.durationMs} ms: it waited for the deadline`);
      // The server was cut off: it wrote the 64 KiB read plus what socket buffers held, not more.
      const sent = target.endlessBytes;
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(target.endlessBytes, sent, 'the server is no longer sending');
      assert.ok(sent < 16 * 1024 * 1024, `sent ${sent} bytes`);
    });

    test('a closed port is refused', async () => {
      const result = rejected(await checker.check(`http://127.0.0.1:${await freePort()}/`));
      assert.equal(result.reason, 'refused');
      assert.equal(result.detail, 'connection refused');
    });

    test('a URI that is not http(s) is rejected without a fetch', async () => {
      const result = rejected(await checker.check('mailto:someone@example.com'));
      assert.equal(result.reason, 'network');
    });
  });

  describe(`${mode} checker with private addresses refused`, () => {
    let self: Target;
    let other: Target;
    let v6: Target;
    let checker: UriChecker;
    const cleanups: Array<() => Promise<void>> = [];
    const suite = { after: (cleanup: () => Promise<void>) => void cleanups.push(cleanup) };
    before(async () => {
      self = await startCheckTarget(suite);
      other = await startCheckTarget(suite);
      v6 = await startCheckTarget(suite, '::1');
      checker = createChecker(
        checkConfig({
          CHECK_MODE: mode,
          CHECK_ALLOW_PRIVATE: 'false',
          CHECK_TIMEOUT_MS: '1000',
          PUBLIC_URL: self.origin,
        }),
      );
    });
    after(async () => {
      await checker.close();
      await Promise.all(cleanups.map((cleanup) => cleanup()));
    });

    test('loopback, link-local and mapped literals are refused without a connection', async () => {
      const uris = [
        `${other.origin}/title`,
        `http://2130706433:${other.port}/title`,
        `http://0x7f.1:${other.port}/title`,
        `http://[::ffff:127.0.0.1]:${other.port}/title`,
        `http://localhost:${other.port}/title`,
        `${v6.origin}/title`,
        'http://169.254.169.254/latest/meta-data/',
        'http://[fe80::1]/',
        'http://10.0.0.1/',
        'http://0/',
      ];
      for (const uri of uris) {
        const result = rejected(await checker.check(uri));
        assert.equal(result.reason, 'forbidden_address', uri);
        assert.match(result.detail, /not a public address$/, uri);
      }
      assert.equal(other.connections, 0);
      assert.equal(v6.connections, 0);
    });

    test("the service's own origin is allowed", async () => {
      const result = accepted(await checker.check(`${self.origin}/title`));
      assert.equal(result.title, TITLE_TEXT);
    });

    test('a loopback PUBLIC_URL is the self-link in its other loopback spellings, fetched at its own address', async (t) => {
      // Another server on ::1 at the same port: an alias goes to PUBLIC_URL's address, never dialled as itself.
      const impostor = await startCheckTarget(t, '::1', self.port);
      for (const uri of [
        `http://localhost:${self.port}/title`,
        `http://[::1]:${self.port}/title`,
        `http://LOCALHOST:${self.port}/redirect?to=%2Ftitle`,
      ]) {
        const result = accepted(await checker.check(uri));
        assert.equal(result.title, TITLE_TEXT, uri);
        assert.equal(new URL(result.finalUri).host, new URL(uri).host, uri);
      }
      assert.equal(impostor.connections, 0);
    });

    test("other addresses at the self-link's port stay refused", async () => {
      const uris = [
        `https://localhost:${self.port}/title`,
        `http://127.0.0.2:${self.port}/title`,
        `http://[::ffff:127.0.0.1]:${self.port}/title`,
        `http://10.0.0.1:${self.port}/title`,
      ];
      for (const uri of uris) {
        const result = rejected(await checker.check(uri));
        assert.equal(result.reason, 'forbidden_address', uri);
        assert.match(result.detail, /not a public address$/, uri);
      }
    });

    test('a redirect from an allowed origin to a private one is refused at that hop', async () => {
      for (const to of [`${other.origin}/title`, `http://localhost:${other.port}/title`, `${v6.origin}/`]) {
        const result = rejected(await checker.check(`${self.origin}/redirect?to=${encodeURIComponent(to)}`));
        assert.equal(result.reason, 'forbidden_address', to);
      }
      assert.equal(other.connections, 0);
      assert.equal(v6.connections, 0);
    });
  });

  describe(`${mode} checker with a SELF_URL (compose: the apps reach PUBLIC_URL through nginx)`, () => {
    // PUBLIC_URL's name resolves nowhere here, as localhost:8080 leads nowhere inside a container.
    const publicOrigin = 'http://links.linkyard.invalid:8080';
    let route: Target;
    let checker: UriChecker;
    const cleanups: Array<() => Promise<void>> = [];
    const suite = { after: (cleanup: () => Promise<void>) => void cleanups.push(cleanup) };
    before(async () => {
      route = await startCheckTarget(suite);
      checker = createChecker(
        checkConfig({
          CHECK_MODE: mode,
          CHECK_ALLOW_PRIVATE: 'false',
          CHECK_TIMEOUT_MS: '1000',
          PUBLIC_URL: publicOrigin,
          SELF_URL: route.origin,
        }),
      );
    });
    after(async () => {
      await checker.close();
      await Promise.all(cleanups.map((cleanup) => cleanup()));
    });

    test('PUBLIC_URL is the self-link: fetched through SELF_URL, asking for the public host', async () => {
      const result = accepted(await checker.check(`${publicOrigin}/title`));
      assert.equal(result.title, TITLE_TEXT);
      assert.equal(result.finalUri, `${publicOrigin}/title`);
      // The service's absolute redirect, built from the Host it was asked for, stays public.
      const redirected = accepted(await checker.check(`${publicOrigin}/absolute-redirect`));
      assert.equal(redirected.finalUri, `${publicOrigin}/title`);
      assert.equal(redirected.redirects, 1);
    });

    test('a public PUBLIC_URL has no loopback aliases: localhost at its port is a private address', async () => {
      const before = route.requests.length;
      for (const uri of ['http://localhost:8080/title', `http://localhost:${route.port}/title`, `http://[::1]:${route.port}/title`]) {
        const result = rejected(await checker.check(uri));
        assert.equal(result.reason, 'forbidden_address', uri);
        assert.match(result.detail, /not a public address$/, uri);
      }
      assert.deepEqual(route.requests.slice(before), []);
    });

    test('under a loopback PUBLIC_URL, its 127.0.0.1 spelling is fetched through SELF_URL too, asking for the host as spelled', async (t) => {
      const port = await freePort();
      const loopback = createChecker(
        checkConfig({
          CHECK_MODE: mode,
          CHECK_ALLOW_PRIVATE: 'false',
          CHECK_TIMEOUT_MS: '1000',
          PUBLIC_URL: `http://localhost:${port}`,
          SELF_URL: route.origin,
        }),
      );
      t.after(() => loopback.close());
      const before = route.requests.length;
      const result = accepted(await loopback.check(`http://127.0.0.1:${port}/absolute-redirect`));
      assert.equal(result.finalUri, `http://127.0.0.1:${port}/title`);
      assert.deepEqual(route.requests.slice(before), ['/absolute-redirect', '/title']);
    });

    test('SELF_URL itself is a route, not a destination: refused as a private address, never requested', async () => {
      const before = route.requests.length;
      for (const uri of [`${route.origin}/title`, `${publicOrigin}/redirect?to=${encodeURIComponent(`${route.origin}/title`)}`]) {
        const result = rejected(await checker.check(uri));
        assert.equal(result.reason, 'forbidden_address', uri);
        assert.match(
          result.detail,
          /is SELF_URL, the service's private route to itself, not a public address; bookmark http:\/\/links\.linkyard\.invalid:8080 instead$/,
          uri,
        );
      }
      assert.deepEqual(route.requests.slice(before), ['/redirect'], 'only the public hop reached the service');
    });
  });
}
