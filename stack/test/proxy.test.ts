import assert from 'node:assert/strict';
import { chmodSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { loadStaticAssets, STATIC_DIR } from '../../app/src/static-assets.ts';
import { formPost, httpRequest, rawExchange, statusOf } from '../../app/test/client.ts';
import { SuiteCleanups, tempDir } from '../../test/support/index.ts';
import { type NginxSettings, renderEnvFiles } from '../src/nginx-config.ts';
import { findNginx, NginxProcess } from '../src/nginx-process.ts';
import { freePorts } from '../src/ports.ts';

// nginx alone, from proxy/ as the launcher renders it, in front of app ports where nothing
// listens: what nginx answers by itself (static files, its error pages, limits) needs no app.

const APP_ROOT = join(STATIC_DIR, '..');

function settingsFor(prefix: string, port: number, appPorts: number[]): NginxSettings {
  return {
    prefix,
    host: '127.0.0.1',
    port,
    upstreams: appPorts.map((appPort) => ({ port: appPort })),
    staticRoot: APP_ROOT,
    rateLimit: '2r/s',
    accessLog: false,
  };
}

describe('proxy/ nginx configuration', () => {
  let prefix: string;
  let nginx: NginxProcess;
  let url: string;
  let port: number;
  let appPorts: number[];
  const lines: string[] = [];
  const fixtures = new SuiteCleanups();

  before(async () => {
    prefix = tempDir(fixtures, 'linkyard-nginx-');
    // nginx started by root runs its workers as nobody, who must reach the temp folders.
    chmodSync(prefix, 0o755);
    [port = 0, ...appPorts] = await freePorts(3);
    url = `http://127.0.0.1:${port}`;
    nginx = new NginxProcess(findNginx(), settingsFor(prefix, port, appPorts), (source, line) => lines.push(`${source} | ${line}`));
    await nginx.start();
  });

  after(async () => {
    await nginx?.stop();
    await fixtures.run();
  });

  it('passes `nginx -t`, with a passive health check on every app process', async () => {
    await nginx.test(settingsFor(prefix, port, appPorts));
    const upstream = readFileSync(join(prefix, 'conf', 'env', 'upstream.conf'), 'utf8');
    for (const appPort of appPorts)
      assert.match(upstream, new RegExp(`^server 127\\.0\\.0\\.1:${appPort} max_fails=2 fail_timeout=3s;$`, 'm'));
  });

  it('refuses settings nginx would misread', () => {
    const settings = settingsFor(prefix, port, appPorts);
    assert.throws(() => renderEnvFiles({ ...settings, rateLimit: '10/s' }), /rate limit '10\/s'/);
    assert.throws(() => renderEnvFiles({ ...settings, readRateLimit: 'fast' }), /read rate limit 'fast'/);
    assert.match(renderEnvFiles(settings)['http.conf'], /zone=linkyard_api_read:10m rate=10r\/s;/, 'reads at 5 × the 2r/s write rate');
    assert.match(renderEnvFiles({ ...settings, readRateLimit: '300r/m' })['http.conf'], /zone=linkyard_api_read:10m rate=300r\/m;/);
    assert.throws(() => renderEnvFiles({ ...settings, upstreams: [] }), /at least one app process/);
    assert.throws(() => renderEnvFiles({ ...settings, staticRoot: '/tmp/a"b' }), /may not contain quotes/);
  });

  it('serves a content-hashed asset immutable, with validators, gzipped when asked', async () => {
    const asset = loadStaticAssets().get('style.css');
    assert.ok(asset, 'app/static/style.css exists');
    assert.match(asset.url, /^\/static\/style\.[0-9a-f]{8}\.css$/);

    const plain = await httpRequest(url + asset.url);
    assert.equal(plain.status, 200);
    assert.equal(plain.body, asset.body.toString('utf8'));
    assert.match(String(plain.headers['content-type']), /^text\/css/);
    assert.equal(plain.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(plain.headers['x-content-type-options'], 'nosniff');
    const etag = plain.headers.etag;
    assert.ok(typeof etag === 'string' && etag.length > 2, 'has an ETag');
    assert.ok(plain.headers['last-modified'], 'has Last-Modified');

    const revalidated = await httpRequest(url + asset.url, { headers: { 'if-none-match': etag } });
    assert.equal(revalidated.status, 304);
    assert.equal(revalidated.body, '');

    const gzipped = await new Promise<{ encoding: string | undefined; body: Buffer; vary: string | undefined }>((resolve, reject) => {
      get(url + asset.url, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks), vary: res.headers.vary }));
      }).on('error', reject);
    });
    assert.equal(gzipped.encoding, 'gzip');
    assert.equal(gzipped.vary, 'Accept-Encoding');
    assert.ok(gzipped.body.length < asset.body.length, 'smaller than the file');
    assert.deepEqual(gunzipSync(gzipped.body), asset.body);
  });

  it('serves unhashed names and the favicon to be revalidated, and 404s uncached', async () => {
    const style = await httpRequest(`${url}/static/style.css`);
    assert.equal(style.status, 200);
    assert.equal(style.headers['cache-control'], 'no-cache');

    const favicon = await httpRequest(`${url}/favicon.ico`);
    assert.equal(favicon.status, 200);
    assert.equal(favicon.headers['content-type'], 'image/x-icon');
    assert.equal(favicon.headers['cache-control'], 'no-cache');

    for (const path of ['/static/nothing.css', '/static/nothing.0123abcd.css']) {
      const missing = await httpRequest(url + path);
      assert.equal(missing.status, 404, path);
      assert.equal(missing.headers['cache-control'], undefined, `${path}: a 404 is not cached`);
    }
  });

  it('answers with its own readable page when no app process answers', async () => {
    const page = await httpRequest(`${url}/some-bookmark`);
    assert.equal(page.status, 502);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /The server is not answering right now/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'; script-src 'self'/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.equal(page.headers['referrer-policy'], 'strict-origin-when-cross-origin');

    const direct = await httpRequest(`${url}/static/errors/502.html`);
    assert.equal(direct.status, 404, 'error pages are for errors only');
  });

  it('limits form posts per client with 429 and a page, but not page views', async () => {
    const views = await Promise.all(Array.from({ length: 30 }, () => httpRequest(`${url}/`)));
    assert.deepEqual(new Set(views.map((view) => view.status)), new Set([502]), 'GET / is never rate limited');

    const posts = await Promise.all(
      Array.from({ length: 40 }, () => httpRequest(`${url}/`, formPost({ longuri: 'https://example.com/', shortname: '' }))),
    );
    const refused = posts.filter((post) => post.status === 429);
    // burst=20 at 2r/s: about 20 pass (to find no app: 502), the rest are refused.
    assert.ok(refused.length >= 15 && refused.length <= 20, `${refused.length} of 40 refused`);
    const [first] = refused;
    assert.ok(first !== undefined);
    assert.match(first.body, /Slow down a little/);
    assert.match(String(first.headers['content-security-policy']), /frame-ancestors 'none'/);
  });

  it("answers /api/ clients with JSON errors in the app's shape", async () => {
    const calls = await Promise.all(
      Array.from({ length: 40 }, () =>
        httpRequest(`${url}/api/bookmarks`, {
          method: 'POST',
          body: '{"uri":"https://example.com/"}',
          headers: { 'content-type': 'application/json' },
        }),
      ),
    );
    const statuses = new Set(calls.map((call) => call.status));
    assert.deepEqual([...statuses].sort(), [429, 502], 'no app behind it: 502; over the burst: 429');
    for (const call of calls) {
      assert.match(String(call.headers['content-type']), /^application\/json/);
      const body = JSON.parse(call.body) as { error: string; message: string };
      assert.equal(body.error, call.status === 429 ? 'RATE_LIMITED' : 'UPSTREAM_UNAVAILABLE');
      assert.ok(body.message.length > 0);
    }
  });

  it('keeps /nginx_status and /metrics for the internal network', async () => {
    const inside = await httpRequest(`${url}/nginx_status`);
    assert.equal(inside.status, 200);
    assert.match(inside.body, /^Active connections: \d+/);

    // 127.0.0.2 is this machine too, but not on the allow list: it stands for a client outside.
    for (const path of ['/nginx_status', '/metrics']) {
      const outside = await httpRequest(url + path, { localAddress: '127.0.0.2' });
      assert.equal(outside.status, 403, path);
    }
  });

  it('refuses oversized and malformed requests itself, then carries on', async () => {
    const longUri = await rawExchange(port, `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal(statusOf(longUri), 414);

    const longHeader = await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(9000)}\r\n\r\n`);
    assert.equal(statusOf(longHeader), 400);

    const body = `longuri=${'c'.repeat(20_000)}`;
    const tooLarge = await httpRequest(`${url}/`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) },
    });
    assert.equal(tooLarge.status, 413);
    assert.match(tooLarge.body, /That was too much to send/);

    const garbage = await rawExchange(port, 'HELLO THERE\r\n\r\n');
    assert.equal(statusOf(garbage), 400);

    const afterwards = await httpRequest(`${url}/static/style.css`);
    assert.equal(afterwards.status, 200);
  });
});
