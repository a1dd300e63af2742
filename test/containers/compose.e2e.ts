import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it, type TestContext } from 'node:test';
import { formPost, httpRequest } from '../../app/test/client.ts';
import {
  APPS,
  BASE_URL,
  logsOnFailure,
  nginxTrouble,
  nodeIn,
  PUBLIC_URL,
  project,
  runK6,
  SERVICES,
  skipWithoutDocker,
  startFresh,
} from './compose-stack.ts';
import { runChecked, writableK6Results } from './docker.ts';

// The compose stack as a user runs it: `docker compose up --wait` on the project's own
// docker-compose.yml (nginx, app1–3, PostgreSQL), from nothing, then real HTTP to nginx on
// 127.0.0.1:8080 and k6 in the compose file's k6 service. CHECK_ALLOW_PRIVATE is false, as the
// compose file sets it: the only URIs a check may reach here are the service's own.

/** The e2e runs' k6 summaries: k6/results/e2e/, apart from the measured runs (docs/performance.md). */
const K6_RESULTS = 'e2e';

interface K6Summary {
  result: Record<string, unknown>;
  summary: { metrics: Record<string, { values: Record<string, number> } | undefined> };
}

function k6Summary(file: string): K6Summary {
  return JSON.parse(readFileSync(join(writableK6Results(K6_RESULTS), file), 'utf8')) as K6Summary;
}

function metric(summary: K6Summary, name: string, stat: string): number {
  const value = summary.summary.metrics[name]?.values[stat];
  assert.equal(typeof value, 'number', `k6 summary has ${name} ${stat}`);
  return value as number;
}

/**
 * A k6 run in the k6 service: it must have run to its end and failed no request and no check.
 * Its latency and arrival-rate thresholds are goals for a quiet machine, not for a shared CI box:
 * when one of those is crossed (exit 99) the test says so and goes on.
 */
async function runScenario(t: TestContext, script: string, env: Record<string, string>, summaryFile: string): Promise<K6Summary> {
  // Whatever an earlier run left is not read as this run's answer.
  rmSync(join(writableK6Results(K6_RESULTS), summaryFile), { force: true });
  const run = await runK6(script, { ...env, RESULTS_DIR: `/results/${K6_RESULTS}` }, 240_000);
  assert.ok(run.code === 0 || run.code === 99, `k6 ${script} did not run to its end (exit ${run.code}):\n${run.stderr.slice(-3000)}`);
  if (run.code === 99)
    t.diagnostic(
      `k6 ${script}: a timing threshold was crossed on this shared machine:\n${run.stderr
        .split('\n')
        .filter((line) => line.includes('level='))
        .join('\n')}`,
    );
  const summary = k6Summary(summaryFile);
  assert.ok(metric(summary, 'http_reqs', 'count') > 0, 'k6 sent requests');
  const failed = metric(summary, 'http_req_failed', 'passes');
  if (failed !== 0) {
    const k6Warnings = run.stderr
      .split('\n')
      .filter((line) => line.includes('level=warn'))
      .slice(-20)
      .join('\n');
    assert.fail(`${failed} requests failed.\nk6:\n${k6Warnings}\nnginx: ${await nginxTrouble()}`);
  }
  assert.equal(metric(summary, 'checks', 'fails'), 0, 'no failed check');
  t.diagnostic(
    readFileSync(join(writableK6Results(K6_RESULTS), summaryFile.replace(/\.json$/, '.txt')), 'utf8').split('\n\nmetrics')[0] ?? '',
  );
  return summary;
}

async function createBookmark(uri: string, name: string): Promise<{ status: number; body: string }> {
  const body = JSON.stringify({ uri, name });
  const response = await httpRequest(`${BASE_URL}/api/bookmarks`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
  });
  return { status: response.status, body: response.body };
}

describe("docker compose up (the project's docker-compose.yml)", { skip: await skipWithoutDocker(), timeout: 600_000 }, () => {
  let stop: (() => Promise<void>) | undefined;

  before(async () => {
    stop = await startFresh();
  });

  afterEach(logsOnFailure);

  after(async () => {
    await stop?.();
  });

  it('starts every service from nothing and each one turns healthy', async () => {
    for (const service of SERVICES) {
      const state = await project.state(service);
      assert.equal(state.status, 'running', `${service} is running`);
      assert.equal(state.health, 'healthy', `${service} is healthy`);
      assert.equal(state.restartCount, 0, `${service} started once`);
      // The engine took the compose file's bound on the container's log (nginx's access log is there).
      const logConfig = JSON.parse(
        await runChecked('docker', ['inspect', '--format', '{{json .HostConfig.LogConfig}}', await project.containerId(service)]),
      ) as { Type: string; Config: Record<string, string> };
      assert.deepEqual(logConfig, { Type: 'json-file', Config: { 'max-file': '3', 'max-size': '10m' } }, `${service}: its log is bounded`);
    }
  });

  it('serves the page, the hashed stylesheet (immutable, then 304) and a form POST answered 303, through nginx', async () => {
    const page = await httpRequest(`${BASE_URL}/`);
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    const stylesheet = /<link rel="stylesheet" href="(\/static\/style\.[0-9a-f]{8}\.css)"/.exec(page.body)?.[1];
    assert.ok(stylesheet !== undefined, 'the page links its stylesheet by a hashed name');

    const css = await httpRequest(`${BASE_URL}${stylesheet}`);
    assert.equal(css.status, 200);
    assert.match(String(css.headers['content-type']), /^text\/css/);
    assert.match(String(css.headers['cache-control']), /max-age=31536000/);
    assert.match(String(css.headers['cache-control']), /immutable/);
    const etag = css.headers.etag;
    assert.equal(typeof etag, 'string', 'nginx sends an ETag');
    const revalidated = await httpRequest(`${BASE_URL}${stylesheet}`, { headers: { 'if-none-match': String(etag) } });
    assert.equal(revalidated.status, 304);
    assert.equal(revalidated.body, '');

    const posted = await httpRequest(`${BASE_URL}/`, formPost({ longuri: `${PUBLIC_URL}/?from-the-form`, shortname: 'form' }));
    assert.equal(posted.status, 303, posted.body);
    assert.equal(posted.headers.location, '/');
    const followed = await httpRequest(`${BASE_URL}/form`);
    assert.equal(followed.status, 303);
    assert.equal(followed.headers.location, `${PUBLIC_URL}/?from-the-form`);
    assert.match((await httpRequest(`${BASE_URL}/`)).body, /from-the-form/);
  });

  it('accepts the self-link (PUBLIC_URL) and refuses SELF_URL, the internal route, as a private address', async () => {
    const self = await createBookmark(`${PUBLIC_URL}/`, 'self');
    assert.equal(self.status, 201, self.body);
    const redirect = await httpRequest(`${BASE_URL}/self`);
    assert.equal(redirect.status, 303);
    assert.equal(redirect.headers.location, `${PUBLIC_URL}/`);

    // http://nginx:8080 is how the apps reach nginx inside the compose network: nobody who
    // follows the short link could.
    const internal = await createBookmark('http://nginx:8080/healthz', 'internal');
    assert.equal(internal.status, 404, internal.body);
    assert.equal((JSON.parse(internal.body) as { error: string }).error, 'URI_UNREACHABLE');
    assert.match(internal.body, /not a public address/);
    assert.equal((await httpRequest(`${BASE_URL}/api/bookmarks/internal`)).status, 404);
  });

  it('redirects a bookmark created through one app from every app (PostgreSQL is the one store)', async () => {
    // Each app asked directly, from inside its own container: nginx cannot pick for us.
    const created = await nodeIn(
      'app1',
      `
      const response = await fetch('http://127.0.0.1:8000/api/bookmarks', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ uri: '${PUBLIC_URL}/?made-by-app1', name: 'made-by-app1' }),
      });
      console.log(response.status);
    `,
    );
    assert.equal(created.trim(), '201');
    for (const app of APPS) {
      const answer = await nodeIn(
        app,
        `
        const response = await fetch('http://127.0.0.1:8000/made-by-app1', { redirect: 'manual' });
        console.log(JSON.stringify({ status: response.status, location: response.headers.get('location') }));
      `,
      );
      assert.deepEqual(JSON.parse(answer), { status: 303, location: `${PUBLIC_URL}/?made-by-app1` }, `${app} redirects it`);
    }
  });

  it("serves a link's stats (the JSON API, the /<name>+ page and its QR code) through compose's nginx, people and bots apart", async () => {
    assert.equal((await createBookmark(`${PUBLIC_URL}/?stats`, 'counted')).status, 201);
    const browser = {
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
      referer: 'https://lobste.rs/s/x',
    };
    for (let i = 0; i < 6; i++) assert.equal((await httpRequest(`${BASE_URL}/counted`, { headers: browser })).status, 303);
    assert.equal((await httpRequest(`${BASE_URL}/counted`, { headers: { 'user-agent': 'Twitterbot/1.0' } })).status, 303);
    // The apps write their rollups every STATS_FLUSH_MS (10 s by default).
    let stats:
      | { visits: number; totals: { visits: number; bots: number }; top: { referrer: { value: string; visits: number }[] } }
      | undefined;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const answer = await httpRequest(`${BASE_URL}/api/bookmarks/counted/stats`);
      assert.equal(answer.status, 200, answer.body);
      stats = JSON.parse(answer.body) as typeof stats;
      if (stats?.totals.visits === 6 && stats.totals.bots === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    assert.equal(stats?.visits, 6, 'people only in the total');
    assert.deepEqual(stats?.totals, { visits: 6, bots: 1 });
    assert.deepEqual(stats?.top.referrer, [{ value: 'lobste.rs', visits: 6 }]);

    const page = await httpRequest(`${BASE_URL}/counted+`);
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-security-policy']), /style-src 'self'/, "the edge's CSP is on the page");
    assert.match(page.body, /<svg class="chart"/);
    const stylesheet = /<link rel="stylesheet" href="(\/static\/stats\.[0-9a-f]{8}\.css)">/.exec(page.body)?.[1];
    assert.ok(stylesheet !== undefined, "the page's own stylesheet");
    assert.equal((await httpRequest(`${BASE_URL}${stylesheet}`)).status, 200, 'served by nginx');
    const qr = await httpRequest(`${BASE_URL}/counted+qr.svg`);
    assert.equal(qr.status, 200);
    assert.equal(qr.headers['content-type'], 'image/svg+xml; charset=utf-8');
    assert.equal((await httpRequest(`${BASE_URL}/api/bookmarks/counted/stats?granularity=week`)).status, 400);
  });

  it('runs the k6 redirects scenario in the k6 service: every redirect answered', async (t) => {
    // Short and light: this proves the scenario runs in compose and no request fails; the
    // measured figures come from full-length runs (docs/performance.md).
    const summary = await runScenario(t, 'redirects.ts', { RATE: '100', DURATION: '10' }, 'redirects.json');
    assert.ok(metric(summary, 'http_reqs{name:GET /:name}', 'count') > 500);
  });

  it('runs the k6 cache-savings scenario in the k6 service: the browser cache fetches the stylesheet about once per visitor', async (t) => {
    const visitors = 10;
    const summary = await runScenario(
      t,
      'cache-savings.ts',
      { VISITORS: String(visitors), VISITS: '20', CACHE: 'browser' },
      'cache-savings-browser.json',
    );
    const stylesheetRequests = metric(summary, 'client_requests_stylesheet', 'count');
    assert.ok(stylesheetRequests >= visitors && stylesheetRequests <= 2 * visitors, `stylesheet requests: ${stylesheetRequests}`);
    // What nginx and the apps counted (k6 scraped them inside the network) came back.
    assert.ok(metric(summary, 'nginx_requests', 'value') > 0);
    assert.ok(metric(summary, 'app_requests', 'value') > 0);
  });
});
