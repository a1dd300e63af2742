import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { STATIC_DIR } from '../../app/src/static-assets.ts';
import { formPost, httpRequest } from '../../app/test/client.ts';
import { SuiteCleanups, tempDir } from '../../test/support/index.ts';
import { findNginx, NginxProcess } from '../src/nginx-process.ts';
import { freePorts } from '../src/ports.ts';

// nginx alone, from proxy/ as the launcher renders it, with no app behind it (502): the page's
// sign-in, sign-out, delete and edit posts are held to the form's per-client rate, so a client guessing
// keys at /sign-in is refused with 429 past the burst.

describe('proxy/ nginx: rate limits on the sign-in and delete forms', () => {
  let nginx: NginxProcess;
  let url: string;
  const fixtures = new SuiteCleanups();

  before(async () => {
    const prefix = tempDir(fixtures, 'linkyard-nginx-forms-');
    // nginx started by root runs its workers as nobody, who must reach the temp folders.
    chmodSync(prefix, 0o755);
    const [port = 0, appPort = 0] = await freePorts(2);
    url = `http://127.0.0.1:${port}`;
    const settings = {
      prefix,
      host: '127.0.0.1',
      port,
      upstreams: [{ port: appPort }],
      staticRoot: join(STATIC_DIR, '..'),
      rateLimit: '2r/s',
      accessLog: false,
    };
    nginx = new NginxProcess(findNginx(), settings, () => {});
    await nginx.start();
  });

  after(async () => {
    await nginx?.stop();
    await fixtures.run();
  });

  it('limits posts to /sign-in, /sign-out, /delete and /edit with the form’s zone, but not the sign-in page', async () => {
    const views = await Promise.all(Array.from({ length: 30 }, () => httpRequest(`${url}/sign-in`)));
    assert.deepEqual(new Set(views.map((view) => view.status)), new Set([502]), 'GET /sign-in is never rate limited');
    for (const path of ['/sign-in', '/sign-out', '/delete', '/edit']) {
      const posts = await Promise.all(Array.from({ length: 40 }, () => httpRequest(`${url}${path}`, formPost({ key: 'lyk_guess' }))));
      const refused = posts.filter((post) => post.status === 429);
      // burst=20 at 2r/s, one zone for all three: at least the 20 over the burst are refused.
      assert.ok(refused.length >= 15, `${path}: ${refused.length} of 40 refused`);
      assert.match(refused[0]?.body ?? '', /Slow down a little/);
    }
  });

  it('gives API reads their own, higher zone: a burst of 60 GETs passes where the same burst of POSTs is limited', async () => {
    // 2r/s for writes (burst 20), reads 5 × that (burst 100): the 60 GETs all reach the (absent) app.
    const reads = await Promise.all(Array.from({ length: 60 }, () => httpRequest(`${url}/api/bookmarks?q=x`)));
    assert.deepEqual(new Set(reads.map((read) => read.status)), new Set([502]), 'no GET refused');
    const heads = await Promise.all(Array.from({ length: 20 }, () => httpRequest(`${url}/api/bookmarks`, { method: 'HEAD' })));
    assert.deepEqual(new Set(heads.map((head) => head.status)), new Set([502]), 'no HEAD refused');
    const writes = await Promise.all(
      Array.from({ length: 60 }, () =>
        httpRequest(`${url}/api/bookmarks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
      ),
    );
    const refused = writes.filter((write) => write.status === 429).length;
    assert.ok(refused >= 35, `${refused} of 60 POSTs refused`);
    // Reads spent no write budget, and writes none of the reads': a GET still passes now.
    assert.equal((await httpRequest(`${url}/api/bookmarks`)).status, 502);
  });
});
