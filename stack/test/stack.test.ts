import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { formPost, httpRequest, type LoadResult, rawExchange, runLoad, statusOf } from '../../app/test/client.ts';
import { SuiteCleanups, tempDir } from '../../test/support/index.ts';
import { type Stack, startStack } from '../src/stack.ts';

function schedulingPolicy(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command in parentheses (which may hold spaces) start at field 3.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[41 - 3]);
}

// The whole native stack as `npm start` runs it: real nginx in front of three real app processes
// sharing one SQLite store. CHECK_ALLOW_PRIVATE is false, as in production, so the only URIs a
// test can bookmark are the stack's own (the self-link the check lets through).

/** Sum of http_requests_total over the app processes, asked directly; scrapes themselves left out. */
async function appRequestCount(stack: Stack): Promise<number> {
  let total = 0;
  for (const appUrl of stack.appUrls) {
    const metrics = await httpRequest(`${appUrl}/metrics`);
    assert.equal(metrics.status, 200);
    for (const line of metrics.body.split('\n')) {
      const [, labels, count] = /^http_requests_total\{(.*)\} (\d+)$/.exec(line) ?? [];
      if (labels !== undefined && !labels.includes('route="/metrics"')) total += Number(count);
    }
  }
  return total;
}

function reportLoad(t: TestContext, stack: Stack, load: LoadResult): void {
  t.diagnostic(`${load.requests} requests, ${load.failures.length} failed, ${load.resends} resent after a reused connection closed`);
  if (load.failures.length > 0) {
    t.diagnostic(`first failures:\n${load.failures.slice(0, 10).join('\n')}`);
    t.diagnostic(`last log lines:\n${stack.logTail().slice(-40).join('\n')}`);
  }
}

describe('the native stack (nginx + 3 app processes)', { timeout: 120_000 }, () => {
  let stack: Stack;
  let dir: string;
  const fixtures = new SuiteCleanups();

  before(async () => {
    dir = tempDir(fixtures, 'linkyard-stack-');
    stack = await startStack({
      instances: 3,
      port: 0,
      stateDir: join(dir, 'state'),
      dataDir: join(dir, 'data'),
      env: { CHECK_ALLOW_PRIVATE: 'false', LOG_LEVEL: 'warn' },
      // The load tests below post far faster than one person.
      rateLimit: '100000r/s',
      quiet: true,
    });
    // What the load tests' GETs are redirected by.
    const steady = await httpRequest(`${stack.url}/`, formPost({ longuri: `${stack.url}/?steady`, shortname: 'steady' }));
    assert.equal(steady.status, 303, steady.body);
  });

  after(async () => {
    await stack?.stop();
    await fixtures.run();
  });

  it('serves the page from the app and its assets from nginx alone', async () => {
    const before = await appRequestCount(stack);

    const page = await httpRequest(`${stack.url}/`);
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.equal(
      page.headers['content-security-policy'],
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.equal(page.headers['referrer-policy'], 'strict-origin-when-cross-origin');

    const assets = [...page.body.matchAll(/(?:href|src)="(\/static\/[^"]+\.[0-9a-f]{8}\.[a-z]+)"/g)].map(([, asset]) => {
      assert.ok(asset !== undefined);
      return asset;
    });
    const stylesheet = assets.find((asset) => asset.endsWith('.css'));
    assert.ok(stylesheet, `the page links a hashed stylesheet: ${assets.join(', ')}`);
    for (const asset of assets) {
      const response = await httpRequest(stack.url + asset);
      assert.equal(response.status, 200, asset);
      assert.equal(response.headers['cache-control'], 'public, max-age=31536000, immutable', asset);
    }

    const css = await httpRequest(stack.url + stylesheet);
    const etag = String(css.headers.etag);
    assert.match(etag, /^(W\/)?"[^"]+"$/);
    const revalidated = await httpRequest(stack.url + stylesheet, { headers: { 'if-none-match': etag } });
    assert.equal(revalidated.status, 304);
    const gzipped = await httpRequest(stack.url + stylesheet, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gzipped.headers['content-encoding'], 'gzip');
    assert.equal((await httpRequest(`${stack.url}/favicon.ico`)).status, 200);

    // Only GET / reached an app process: none of the static requests did.
    assert.equal((await appRequestCount(stack)) - before, 1);
  });

  it('stores a bookmark made through nginx where every process finds it', async () => {
    const longuri = `${stack.url}/?from=shared-store`;
    const created = await httpRequest(`${stack.url}/`, formPost({ longuri, shortname: 'shared-store' }));
    assert.equal(created.status, 303, created.body);
    assert.equal(created.headers.location, '/');

    for (const base of [stack.url, ...stack.appUrls]) {
      const redirect = await httpRequest(`${base}/shared-store`);
      assert.equal(redirect.status, 303, base);
      assert.equal(redirect.headers.location, longuri, base);
    }
  });

  it('accepts a bookmark to its own public URL while private addresses stay refused', async () => {
    const self = await httpRequest(`${stack.url}/`, formPost({ longuri: stack.url, shortname: 'self' }));
    assert.equal(self.status, 303, self.body);
    const redirect = await httpRequest(`${stack.url}/self`);
    assert.equal(redirect.status, 303);
    assert.equal(new URL(String(redirect.headers.location)).origin, stack.url);

    // PUBLIC_URL says 127.0.0.1; a person at the machine types localhost, any path under it.
    const port = new URL(stack.url).port;
    for (const [longuri, shortname] of [
      [`http://localhost:${port}/`, 'typed'],
      [`http://localhost:${port}/self`, 'typed-path'],
    ] as const) {
      const typed = await httpRequest(`${stack.url}/`, formPost({ longuri, shortname }));
      assert.equal(typed.status, 303, `${longuri}: ${typed.body}`);
    }

    // An app process is on 127.0.0.1 too, but is not the public URL: the check refuses it.
    const other = await httpRequest(`${stack.url}/`, formPost({ longuri: `${stack.appUrls[0]}/`, shortname: 'private' }));
    assert.ok(other.status >= 400 && other.status < 500, `refused, got ${other.status}`);
    assert.equal((await httpRequest(`${stack.url}/private`)).status, 404);
  });

  it("ties nginx's access log to the app by X-Request-Id", async () => {
    const page = await httpRequest(`${stack.url}/`);
    const requestId = String(page.headers['x-request-id']);
    assert.match(requestId, /^[0-9a-f]{32}$/, 'the id nginx made, passed on by the app');
    let line: string | undefined;
    // nginx writes its lines up to a second late (ACCESS_LOG_BUFFERING).
    for (let attempt = 0; attempt < 100 && line === undefined; attempt++) {
      line = (await stack.accessLogLines()).find((entry) => entry.includes(requestId));
      if (line === undefined) await sleep(50);
    }
    assert.ok(line, 'the access log has the line');
    assert.ok(!stack.logTail().some((entry) => entry.includes(requestId)), 'and only the access log: the line is written once');
    const entry = JSON.parse(line) as { status: number; upstream_addr: string };
    assert.equal(entry.status, 200);
    assert.ok(
      stack.appUrls.some((appUrl) => appUrl.endsWith(entry.upstream_addr)),
      entry.upstream_addr,
    );
  });

  it('loses no request when an app process is killed (kill -9), and restarts it', async (t) => {
    const pidsBefore = stack.pids();
    const killed = (async () => {
      await sleep(500);
      await stack.killApp(1);
      await sleep(500);
    })();
    const load = await runLoad(8, killed, async (loop, i, agent, onResend) => {
      const path = i % 2 === 0 ? '/' : '/steady';
      const response = await httpRequest(stack.url + path, { agent, onResend });
      const expected = path === '/' ? 200 : 303;
      return response.status === expected ? undefined : `loop ${loop} GET ${path}: ${response.status}`;
    });
    reportLoad(t, stack, load);
    assert.deepEqual(load.failures, []);
    assert.ok(load.requests > 100, `steady load: ${load.requests} requests`);
    const pidsAfter = stack.pids();
    assert.notEqual(pidsAfter[1], pidsBefore[1]);
    assert.equal(pidsAfter[0], pidsBefore[0]);
    assert.equal((await httpRequest(`${stack.appUrls[1]}/readyz`)).status, 200);
    // APP_SCHEDULING, the restarted process too: field 41 of /proc/<pid>/stat, 3 = SCHED_BATCH.
    assert.deepEqual(
      pidsAfter.map((pid) => (pid === undefined ? undefined : schedulingPolicy(pid))),
      [3, 3, 3],
    );
  });

  it('replaces every process in a rolling restart under load without a reset or a failed GET or POST, for a client that never resends', async (t) => {
    const pidsBefore = stack.pids();
    const accessLog = join(dir, 'state', 'nginx', 'access.log');
    const logOffset = statSync(accessLog).size;
    const created: { name: string; longuri: string }[] = [];
    const began = Date.now();
    const progress: string[] = [];
    const restarted = stack.rollingRestart((message) => progress.push(`${Date.now() - began} ms: ${message}`));
    // 16 keep-alive connections, as `wrk -c16`; a connection nginx closed under a request would
    // fail it (resend: false), so a reset counts as a failure here.
    const load = await runLoad(16, restarted, async (loop, i, agent) => {
      if (loop < 4) {
        const name = `roll-${loop}-${i}`;
        const longuri = `${stack.url}/?bookmark=${name}`;
        const response = await httpRequest(`${stack.url}/`, { ...formPost({ longuri, shortname: name }), agent, resend: false });
        if (response.status !== 303)
          return `loop ${loop} POST ${name}: ${response.status} ${/role="alert">([^<]*)/.exec(response.body)?.[1] ?? response.body.slice(0, 200)}`;
        created.push({ name, longuri });
        return undefined;
      }
      const path = i % 2 === 0 ? '/' : '/steady';
      const response = await httpRequest(stack.url + path, { agent, resend: false });
      const expected = path === '/' ? 200 : 303;
      return response.status === expected ? undefined : `loop ${loop} GET ${path}: ${response.status}`;
    });
    t.diagnostic(progress.join('\n'));
    reportLoad(t, stack, load);
    assert.deepEqual(load.failures, []);
    assert.ok(created.length > 20, `steady writes: ${created.length} bookmarks`);

    const pidsAfter = stack.pids();
    for (const [i, pid] of pidsAfter.entries()) assert.notEqual(pid, pidsBefore[i], `app${i + 1} was replaced`);
    for (const pid of pidsBefore) {
      assert.ok(pid !== undefined, 'every app process was running before the restart');
      assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `old pid ${pid} has exited`);
    }

    // Not one connection was refused or failed on nginx's side either: no request needed a second
    // process (a retry shows as two upstreams in the access log), so the passive check never fired.
    const entries = readFileSync(accessLog, 'utf8')
      .slice(logOffset)
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { upstream_addr: string; upstream_status: string; uri: string });
    assert.ok(entries.length >= load.requests, `the access log has the load's ${load.requests} requests (${entries.length})`);
    assert.deepEqual(
      entries
        .filter((entry) => entry.upstream_addr.includes(','))
        .map((entry) => `${entry.uri}: ${entry.upstream_addr} ${entry.upstream_status}`),
      [],
    );

    // Every POST that was answered 303 is in the store.
    const missing: string[] = [];
    for (const { name, longuri } of created) {
      const redirect = await httpRequest(`${stack.url}/${name}`);
      if (redirect.status !== 303 || redirect.headers.location !== longuri) missing.push(`${name}: ${redirect.status}`);
    }
    assert.deepEqual(missing, []);
  });

  it('refuses oversized and malformed requests at nginx and keeps serving', async () => {
    const port = Number(new URL(stack.url).port);
    assert.equal(statusOf(await rawExchange(port, `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`)), 414);
    const body = `longuri=${'c'.repeat(20_000)}&shortname=big`;
    const tooLarge = await httpRequest(`${stack.url}/`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) },
    });
    assert.equal(tooLarge.status, 413);
    assert.equal(statusOf(await rawExchange(port, 'NOT HTTP AT ALL\r\n\r\n')), 400);
    assert.equal((await httpRequest(`${stack.url}/`)).status, 200);
    assert.equal((await httpRequest(`${stack.url}/big`)).status, 404);
  });
});
