import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { type Stack, startStack } from '../../../stack/src/stack.ts';
import { probeStatus, waitFor } from '../../../stack/src/wait.ts';
import { startTarget, tempDir } from '../../../test/support/index.ts';
import { formPost, httpRequest } from '../client.ts';
import { htmlPage } from '../helpers.ts';
import { type Answer, assertNone, faultLoad, slowest, tally } from './load.ts';
import { startThrowawayPostgres, type ThrowawayPostgres, throwawayPostgresSkip } from './throwaway-postgres.ts';

// PostgreSQL goes away under steady load and comes back, with the real stack in front (nginx and
// two app processes) and a PostgreSQL cluster of the test's own: the machine's is never touched.
// Two ways to go away: stopped (connections refused: every failure is immediate), and frozen
// (SIGSTOP: connections open, nothing answers; only the deadlines end a request).

/** The test's deadlines (the defaults are 2000 and 5000 ms). */
const CONNECT_TIMEOUT_MS = 1000;
const QUERY_TIMEOUT_MS = 1000;
/** The client gives a silent server the statement timeout and a second (postgres.ts), plus slack. */
const SLOWEST_ALLOWED_MS = Math.max(CONNECT_TIMEOUT_MS, QUERY_TIMEOUT_MS + 1000) + 1000;
const OUTAGE_MS = 3000;
const VISITS_FLUSH_MS = 200;

interface Fault {
  begin(pg: ThrowawayPostgres): Promise<void> | void;
  end(pg: ThrowawayPostgres): Promise<void> | void;
}

async function outageUnderLoad(t: TestContext, fault: Fault): Promise<void> {
  const pg = await startThrowawayPostgres();
  let stack: Stack | undefined;
  // after() hooks run in the order they were added: one hook, so the stack stops first, then the
  // folder it used goes.
  t.after(async () => {
    await stack?.stop();
    await pg.destroy();
  });
  const dir = tempDir(t, 'linkyard-pg-outage-');
  const target = await startTarget(t, htmlPage('a page to bookmark'));

  stack = await startStack({
    instances: 2,
    port: 0,
    stateDir: join(dir, 'state'),
    dataDir: join(dir, 'data'),
    env: {
      DATABASE_URL: pg.url,
      DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
      DATABASE_QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS),
      CHECK_ALLOW_PRIVATE: 'true',
      // Long enough to cover the outage: the names below are answered from memory throughout.
      REDIRECT_CACHE_MS: '30000',
      VISITS_FLUSH_MS: String(VISITS_FLUSH_MS),
      LOG_LEVEL: 'error',
    },
    rateLimit: '100000r/s',
    accessLog: false,
    quiet: true,
  });

  // Names the redirect loops follow, each visited once through every process so both hold it.
  const cached = ['hot-a', 'hot-b', 'hot-c'];
  const warmVisits = new Map<string, number>();
  for (const name of cached) {
    const made = await httpRequest(`${stack.url}/`, formPost({ longuri: `${target.url}/?${name}`, shortname: name }));
    assert.equal(made.status, 303, made.body);
    for (const appUrl of stack.appUrls) assert.equal((await httpRequest(`${appUrl}/${name}`)).status, 303);
    warmVisits.set(name, stack.appUrls.length);
  }
  const pidsBefore = stack.pids();

  let phase = 'before';
  const readyDuringOutage: (number | undefined)[] = [];
  const recoveredAfterMs: number[] = [];
  const probes: Record<string, { status: number; retryAfter: unknown; body: string }> = {};
  let outageBegan = 0;
  let outageEnded = 0;

  const scenario = (async () => {
    await sleep(1500);
    outageBegan = Date.now();
    await fault.begin(pg);
    // From here the store is away for certain (pg_ctl stop waits until it is down).
    phase = 'outage';
    // Each process says so itself, and what a person and a program see through nginx.
    for (const appUrl of stack.appUrls) readyDuringOutage.push(await probeStatus(`${appUrl}/readyz`, 5000));
    const unknownName = await httpRequest(`${stack.url}/never-cached`);
    const page = await httpRequest(`${stack.url}/`);
    const generated = await httpRequest(`${stack.url}/api/bookmarks`, {
      method: 'POST',
      body: JSON.stringify({ uri: `${target.url}/?generated` }),
      headers: { 'content-type': 'application/json' },
    });
    for (const [key, response] of Object.entries({ unknownName, page, generated })) {
      probes[key] = { status: response.status, retryAfter: response.headers['retry-after'], body: response.body };
    }
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - outageBegan)));
    phase = 'back';
    await fault.end(pg);
    outageEnded = Date.now();
    await Promise.all(
      stack.appUrls.map(async (appUrl) => {
        await waitFor(`${appUrl} ready again`, async () => (await probeStatus(`${appUrl}/readyz`)) === 200, { timeoutMs: 20_000 });
        recoveredAfterMs.push(Date.now() - outageEnded);
      }),
    );
    phase = 'after';
    await sleep(1500);
  })();

  const load = await faultLoad({
    url: stack.url,
    target: target.url,
    redirectNames: cached,
    createLoops: 2,
    redirectLoops: 4,
    pageLoops: 1,
    prefix: 'pg',
    phase: () => phase,
    until: scenario,
  });

  const inPhase = (name: string) => load.answers.filter((answer) => answer.sentIn === name && answer.answeredIn === name);
  const outage = inPhase('outage');
  t.diagnostic(`outage ${outageEnded - outageBegan} ms; processes ready again ${recoveredAfterMs.join(', ')} ms after the start`);
  for (const name of ['before', 'outage', 'back', 'after']) {
    const answers = load.answers.filter((answer) => answer.sentIn === name && answer.answeredIn === name);
    t.diagnostic(`${name}: ${tally(answers)}; slowest ${slowest(answers).toFixed(0)} ms`);
  }

  // While it was away: the processes said so, and every answer came within the deadline.
  assert.deepEqual(
    readyDuringOutage,
    stack.appUrls.map(() => 503),
  );
  assert.ok(
    slowest(outage) < SLOWEST_ALLOWED_MS,
    `slowest answer during the outage ${slowest(outage).toFixed(0)} ms, bound ${SLOWEST_ALLOWED_MS} ms`,
  );

  // Cached names went on redirecting, every time.
  const outageRedirects = outage.filter((answer) => answer.what === 'redirect');
  assert.ok(outageRedirects.length > 20, `redirects during the outage: ${outageRedirects.length}`);
  assertNone(
    outageRedirects.filter((answer) => answer.status !== 303),
    'cached redirects failed during the outage',
  );

  // Creates were refused as a person and a program can understand, and the form kept what was typed.
  const outageCreates = outage.filter((answer) => answer.what === 'form' || answer.what === 'api');
  assert.ok(outageCreates.length > 4, `creates during the outage: ${outageCreates.length}`);
  const badCreates = outageCreates.filter(
    (answer: Answer) =>
      answer.status !== 503 ||
      answer.retryAfter !== '5' ||
      !/cannot be reached/.test(answer.message ?? '') ||
      (answer.what === 'form' && !answer.keptTyped),
  );
  assertNone(badCreates, 'creates during the outage were not a 503 with Retry-After, a clear message and what was typed');
  assert.equal(probes.unknownName?.status, 503, 'a name not in the cache cannot be looked up: 503, not 404');
  assert.equal(probes.page?.status, 503);
  assert.equal(probes.page?.retryAfter, '5');
  assert.match(probes.page?.body ?? '', /<form class="create"/);
  assert.equal(probes.generated?.status, 503);
  assert.equal((JSON.parse(probes.generated?.body ?? '{}') as { error?: string }).error, 'STORE_UNAVAILABLE');

  // Back: every process recovered by itself, without a restart, and serves creates again.
  assert.deepEqual(stack.pids(), pidsBefore);
  const after = inPhase('after');
  assert.ok(
    after.some((answer) => answer.what === 'form'),
    'creates after recovery',
  );
  const expected = { api: 201, form: 303, redirect: 303, page: 200 } as const;
  assertNone(
    after.filter((answer) => answer.status !== expected[answer.what]),
    'requests failed after recovery',
  );

  // Nothing acknowledged was lost, and every visit counted, the outage's included, was written.
  await sleep(VISITS_FLUSH_MS * 5);
  const client = new Client({ connectionString: pg.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; uri: string; visits: string }>('SELECT name, uri, visits FROM bookmarks');
    const stored = new Map(rows.map((row) => [row.name, row]));
    const missing = load.acknowledged.filter(({ name, longuri }) => stored.get(name)?.uri !== longuri);
    assert.deepEqual(missing, [], `${load.acknowledged.length} acknowledged creates`);
    let answered = 0;
    let written = 0;
    for (const name of cached) {
      const expected = (load.redirects.get(name) ?? 0) + (warmVisits.get(name) ?? 0);
      const visits = Number(stored.get(name)?.visits);
      // Exactly: a flush given up on that the frozen server ran when it woke is not applied twice.
      assert.equal(visits, expected, `visits of ${name}`);
      answered += expected;
      written += visits;
    }
    t.diagnostic(
      `${load.acknowledged.length} creates acknowledged, all stored; ${outageRedirects.length} redirects during the outage; ` +
        `visits: ${answered} answered, ${written} written`,
    );
  } finally {
    await client.end();
  }
}

describe('PostgreSQL goes away under load and comes back', { skip: throwawayPostgresSkip, timeout: 120_000 }, () => {
  test('stopped: 503s with Retry-After at once, cached names keep redirecting, every process recovers by itself', (t) =>
    outageUnderLoad(t, { begin: (pg) => pg.stop(), end: (pg) => pg.start() }));

  test('frozen: every answer within the deadlines, cached names keep redirecting, every process recovers by itself', (t) =>
    outageUnderLoad(t, { begin: (pg) => pg.freeze(), end: (pg) => pg.thaw() }));
});
