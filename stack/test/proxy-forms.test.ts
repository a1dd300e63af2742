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
});
