import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compileApp } from '../../stack/src/build.ts';
import { freePorts } from '../../stack/src/ports.ts';
import { waitFor } from '../../stack/src/wait.ts';
import { tempDir } from '../../test/support/index.ts';
import { type K6Scenario, readAnswer, readRequests, runK6 } from '../src/k6.ts';
import { scrapeApps, scrapeNginx, totalCounters } from '../src/observers/scrape.ts';
import type { K6CacheSavings } from '../src/scenarios/cache-savings.ts';
import { startSlowTarget } from '../src/target/check-targets.ts';
import { openTarget, shortNames, type Target } from '../src/target/target.ts';
import { k6Skip } from './tool-skips.ts';

// Every k6 script, run by k6 for a few seconds against the native stack, asserting what the
// scenario is for. The scripts' latency goals are for a quiet machine: here they are raised (P99_MS)
// so that the exit code asserts correctness, never speed on a shared machine.

const skip = k6Skip('the k6 scenarios');

const results = tempDir({ after }, 'linkyard-k6-');

async function k6(scenario: K6Scenario, env: Record<string, string>, outJson?: string) {
  return runK6({ scenario, env, resultsDir: results, timeoutMs: 60_000, ...(outJson !== undefined && { outJson }) });
}

describe('k6 scenarios against the native stack', { skip, timeout: 120_000 }, () => {
  let target: Target;
  let base: Record<string, string>;
  before(async () => {
    // The stats scenario reads the rollups back: written every 500 ms here, not every 10 s.
    target = await openTarget({ instances: 2, env: { STATS_FLUSH_MS: '500' } });
    const names = await shortNames(target, 20);
    base = { BASE_URL: target.url, NAMES: names.join(','), METRICS_URLS: target.metricsUrls.join(',') };
  });
  after(() => target?.stop());

  it('redirects: every arrival a 303, none failed, and the exit code says the goal was met', async () => {
    const appsBefore = totalCounters(await scrapeApps(target.metricsUrls));
    const out = join(results, 'redirects.ndjson');
    const run = await k6('redirects', { ...base, RATE: '100', DURATION: '2', P99_MS: '1000' }, out);
    assert.equal(run.exitCode, 0, run.output);
    const { result } = readAnswer<{ requests: number; failedRate: number; dropped: number }>(results, 'redirects');
    assert.equal(result.failedRate, 0);
    // k6 schedules an arrival at 0 s, every 10 ms, and one at 2 s, which it may reach only after
    // the scenario has ended on a busy machine: 201 or 200, each one redirect unless dropped.
    assert.ok([200, 201].includes(result.requests + result.dropped), `${result.requests} sent, ${result.dropped} dropped`);
    const load = (await readRequests(out)).filter((request) => request.scenario === 'redirects');
    assert.equal(load.length, result.requests);
    assert.deepEqual([...new Set(load.map((request) => request.status))], [303]);
    const appsAfter = totalCounters(await scrapeApps(target.metricsUrls));
    // setup()'s /readyz reaches an app too, but health checks are left out of the count.
    assert.equal(appsAfter.requests - appsBefore.requests, result.requests, 'every redirect reached an app');
  });

  it('stats: a mix of browsers, phones, bots, HEAD and prefetches, read back exactly from the stats API', async () => {
    const run = await k6('stats', {
      BASE_URL: target.url,
      SEED_URI: `${target.checkTarget.url}/stats`,
      COUNT: '240',
      VUS: '8',
      TAG: 'k6test',
    });
    assert.equal(run.exitCode, 0, run.output);
    const { result } = readAnswer<{ sent: number; people: number; bots: number; exactRate: number; compared: number }>(results, 'stats');
    assert.equal(result.sent, 240);
    // 12 kinds in the mix: 6 people, 4 bots, HEAD and a prefetch.
    assert.deepEqual([result.people, result.bots], [120, 80]);
    assert.equal(result.exactRate, 1);
    assert.ok(result.compared >= 2 + 4 + 4, `people, bots, and every dimension value compared (${result.compared})`);
  });

  it('creations: every arrival one new bookmark, 201, sent round-robin to the apps', async () => {
    const appsBefore = totalCounters(await scrapeApps(target.metricsUrls));
    const out = join(results, 'creations.ndjson');
    const run = await k6(
      'creations',
      { APP_URLS: target.appUrls.join(','), URI: `${target.checkTarget.url}/k6/{n}`, RATE: '20', DURATION: '2', TAG: 'k6test' },
      out,
    );
    assert.equal(run.exitCode, 0, run.output);
    const { result } = readAnswer<{ sent: number; created: number; dropped: number }>(results, 'creations');
    // An arrival at 0 s, every 50 ms, and maybe one at 2 s (see redirects).
    assert.ok([40, 41].includes(result.sent + result.dropped), `${result.sent} sent, ${result.dropped} dropped`);
    assert.equal(result.created, result.sent);
    const load = (await readRequests(out)).filter((request) => request.scenario === 'creations');
    assert.deepEqual([...new Set(load.map((request) => request.status))], [201]);
    const appsAfter = totalCounters(await scrapeApps(target.metricsUrls));
    assert.equal(appsAfter.requests - appsBefore.requests, result.sent, 'every creation reached an app');
  });

  it('slow-checks: COUNT creations at once, each held open until the slow site answered', async () => {
    const slow = await startSlowTarget(1500);
    try {
      const out = join(results, 'slow-checks.ndjson');
      const run = await k6(
        'slow-checks',
        { APP_URLS: target.appUrls.join(','), SLOW_URI: slow.url, COUNT: '10', TIMEOUT: '20', TAG: 'k6test' },
        out,
      );
      assert.equal(run.exitCode, 0, run.output);
      const load = (await readRequests(out)).filter((request) => request.scenario === 'slow-checks');
      assert.equal(load.length, 10);
      assert.deepEqual([...new Set(load.map((request) => request.status))], [201], 'the slow site answered every check');
      for (const request of load) assert.ok(request.durationMs >= 1400, `held ${request.durationMs} ms`);
      const ends = load.map((request) => request.end);
      assert.ok(Math.max(...ends) - Math.min(...ends) < 1500, 'sent at once, not one after another');
    } finally {
      await slow.close();
    }
  });

  it('in-flight: λ·W at the client and at the apps, next to the in-flight counts sampled at nginx and the apps', async () => {
    const run = await k6('in-flight', { ...base, RATE: '30', DURATION: '3', P99_MS: '1000' });
    assert.equal(run.exitCode, 0, run.output);
    interface InFlight {
      load: { dropped: number };
      client: { requests: number; failedRate: number; lambda: number; w: number; littleL: number };
      apps: { lambda: number; w: number; littleL: number; observed: number };
      nginx: { observed: number };
      seed: { littleL: number };
    }
    const { result, summary } = readAnswer<InFlight>(results, 'in-flight');
    const { client, apps, nginx } = result;
    assert.equal(client.failedRate, 0);
    // 30 views/s for 3 s, and maybe one at 3 s (see redirects), three requests each.
    assert.equal(client.requests % 3, 0);
    assert.ok(
      [90, 91].includes(client.requests / 3 + result.load.dropped),
      `${client.requests} sent, ${result.load.dropped} views dropped`,
    );
    assert.ok(client.w > 0 && client.w < 1, `W = ${client.w} s`);
    assert.ok(Math.abs(client.littleL - client.lambda * client.w) < 1e-12);
    assert.ok(Math.abs(client.lambda - client.requests / 3) < 1e-9);
    // The apps answer the page and the redirect, not the stylesheet (nginx serves /static).
    const appRequests = summary.metrics.app_requests?.values.value ?? Number.NaN;
    assert.ok(appRequests > 0 && appRequests <= (2 / 3) * client.requests, `apps answered ${appRequests} of ${client.requests}`);
    assert.ok(Math.abs(apps.littleL - apps.lambda * apps.w) < 1e-12 && apps.w > 0);
    assert.ok(nginx.observed >= 0 && apps.observed >= 0, 'both were sampled');
    assert.ok((summary.metrics.observed_in_flight_nginx?.values.count ?? 0) >= 10, 'about ten samples a second');
    assert.ok(Math.abs(result.seed.littleL - 868.06) < 0.01);
  });

  for (const cache of ['browser', 'none'] as const) {
    it(`cache-savings, CACHE=${cache}: the seed's arithmetic for this run's mix, counted at the client, nginx and the apps`, async () => {
      const run = await k6('cache-savings', { ...base, CACHE: cache, VISITORS: '3', VISITS: '4' });
      assert.equal(run.exitCode, 0, run.output);
      assert.doesNotMatch(run.output, /NaN/);
      const { result } = readAnswer<K6CacheSavings>(results, `cache-savings-${cache}`);
      assert.equal(result.resourcesNeeded, 36, '3 browsers × 4 visits × (page, stylesheet, short link)');
      // Nothing else talked to nginx or the apps meanwhile: what the browsers sent is what arrived.
      assert.equal(result.nginxRequests, result.clientRequests);
      assert.equal(result.appRequests, 24, 'the page and the short link of each visit; never the stylesheet');
      if (cache === 'browser') {
        assert.equal(result.stylesheetRequests, 3, 'once per browser');
        assert.equal(result.servedFromCache, 9);
        // 24 + 12 · ¼: a third of the needs are CSS, and a quarter of the visits are first visits.
        assert.equal(result.seed.scaledAfter, 27);
        assert.equal(result.clientRequests, result.seed.scaledAfter);
      } else {
        assert.equal(result.stylesheetRequests, 12, 'every visit');
        assert.equal(result.servedFromCache, 0);
        assert.equal(result.clientRequests, 36);
      }
    });
  }

  it('a stack that is not there stops setup() at once, with the reason, and no answer', async () => {
    const [port] = await freePorts(1);
    await assert.rejects(
      k6('redirects', { BASE_URL: `http://127.0.0.1:${port}`, RATE: '10', DURATION: '1' }),
      /is not ready at .*Start it first/,
    );
  });
});

describe('k6 rolling-restart while `npm run rolling-restart` runs', { skip, timeout: 120_000 }, () => {
  const LAUNCHER = new URL('../../stack/src/launcher.ts', import.meta.url).pathname;
  const ROLLING_RESTART = new URL('../../stack/src/rolling-restart.ts', import.meta.url).pathname;
  // The apps it starts run app/dist, which `npm start` builds before it launches.
  before(() => compileApp());

  const RESTART_LOAD_RATE = 100;

  it('fails no request while every app process is replaced', async (t) => {
    const dir = tempDir(t, 'linkyard-k6-restart-');
    const [port] = await freePorts(1);
    const url = `http://127.0.0.1:${port}`;
    const env = {
      ...process.env,
      PORT: String(port),
      APP_INSTANCES: '2',
      STACK_DIR: join(dir, 'state'),
      DATA_DIR: join(dir, 'data'),
      RATE_LIMIT: '100000r/s',
      CHECK_ALLOW_PRIVATE: 'true',
      LOG_LEVEL: 'warn',
    };
    const launcher = spawn(process.execPath, [LAUNCHER], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let launcherOutput = '';
    launcher.stdout.on('data', (chunk: Buffer) => (launcherOutput += chunk));
    launcher.stderr.on('data', (chunk: Buffer) => (launcherOutput += chunk));
    t.after(async () => {
      if (launcher.exitCode !== null) return;
      launcher.kill('SIGINT');
      await once(launcher, 'exit');
    });
    await waitFor('the launcher to say it is up', () => launcherOutput.includes('linkyard is up at'), { timeoutMs: 30_000 });

    const out = join(dir, 'rolling-restart.ndjson');
    // setup() creates the bookmarks (k6-0…): each points at the stack's own /healthz.
    const load = k6('rolling-restart', { BASE_URL: url, SEED_URI: `${url}/healthz`, RATE: String(RESTART_LOAD_RATE), DURATION: '15' }, out);
    const nginxBefore = await scrapeNginx(`${url}/nginx_status`);
    await waitFor('k6 to send load', async () => (await scrapeNginx(`${url}/nginx_status`)).requests > nginxBefore.requests + 30, {
      timeoutMs: 20_000,
      intervalMs: 200,
    });
    const restartStarted = Date.now();
    const restart = spawn(process.execPath, [ROLLING_RESTART], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let restartOutput = '';
    restart.stdout.on('data', (chunk: Buffer) => (restartOutput += chunk));
    restart.stderr.on('data', (chunk: Buffer) => (restartOutput += chunk));
    const [restartCode] = (await once(restart, 'exit')) as [number | null];
    const restartEnded = Date.now();
    assert.equal(restartCode, 0, restartOutput);
    assert.match(restartOutput, /app1: restarted as pid \d+[\s\S]*app2: restarted as pid \d+/);

    const run = await load;
    assert.equal(run.exitCode, 0, run.output);
    const { result } = readAnswer<{ failedRate: number }>(results, 'rolling-restart');
    assert.equal(result.failedRate, 0);
    const requests = (await readRequests(out)).filter((request) => request.scenario === 'steady');
    assert.ok(
      requests.every((request) => request.status === 303 || request.status === 200),
      'only 303s and 200s',
    );
    const during = requests.filter((request) => request.end >= restartStarted && request.end <= restartEnded);
    assert.ok(
      requests.some((request) => request.end > restartEnded),
      `the restart (${restartEnded - restartStarted} ms) ended before the load did`,
    );
    // The load kept its rate through the restart (at least half the arrivals it scheduled then were
    // answered then), and enough of it to mean something: a restart of compiled apps takes about a second.
    const scheduled = (RESTART_LOAD_RATE * (restartEnded - restartStarted)) / 1000;
    assert.ok(
      during.length >= Math.max(20, scheduled / 2),
      `${during.length} requests answered while the processes were replaced (${Math.round(scheduled)} scheduled)`,
    );
  });
});
