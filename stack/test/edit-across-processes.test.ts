import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually, PERSON_USER_AGENT, SuiteCleanups, startTarget, tempDir } from '../../test/support/index.ts';
import { type Stack, startStack } from '../src/stack.ts';
import { bookmarksApi, runAppCommand } from './helpers.ts';

/** Redirects that count toward a visit limit: a person's, not a bot's (Node's fetch names itself `node`). */
const AS_A_PERSON = { 'user-agent': PERSON_USER_AGENT };

const REDIRECT_CACHE_MS = 1500;
const VISITS_FLUSH_MS = 200;
/** Each client's pace against its own app process in the visit-limit test. */
const REQUESTS_PER_SECOND_PER_PROCESS = 20;
/** For the polling and a loaded machine. */
const SLACK_MS = 1000;

/** Links the re-check test makes, and the checks of each (its create's, then re-checks) it waits for. */
const RECHECKED = ['p1', 'p2', 'p3', 'p4'];
const CHECKS_EACH = 4;

/** The re-checks one process counted in its /metrics. */
async function rechecksCounted(appUrl: string): Promise<number> {
  const text = await (await fetch(`${appUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('linkyard_rechecks_total{'))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

/** Polls `base` until /`name` redirects to `location`; how long that took after `since`, or Infinity past `boundMs` + SLACK_MS. */
async function redirectsWithin(base: string, name: string, location: string, since: number, boundMs: number): Promise<number> {
  for (;;) {
    if ((await fetch(`${base}/${name}`, { redirect: 'manual' })).headers.get('location') === location) return Date.now() - since;
    if (Date.now() - since > boundMs + SLACK_MS) return Number.POSITIVE_INFINITY;
    await sleep(50);
  }
}

describe('edits, expiry and re-checks across the native stack (nginx + 3 app processes)', { timeout: 120_000 }, () => {
  let stack: Stack;
  let dataDir: string;
  const fixtures = new SuiteCleanups();
  /** The re-check test's target: checks per path, and the most of one path's in flight at once. */
  const checks = new Map<string, number>();
  const inFlight = new Map<string, number>();
  let mostAtOnce = 0;
  let targetUrl: string;

  before(async () => {
    // Answers after a moment, so that two processes checking one link at once would overlap here.
    const target = await startTarget(fixtures, (request, response) => {
      const path = request.url ?? '';
      checks.set(path, (checks.get(path) ?? 0) + 1);
      const now = (inFlight.get(path) ?? 0) + 1;
      inFlight.set(path, now);
      mostAtOnce = Math.max(mostAtOnce, now);
      setTimeout(() => {
        inFlight.set(path, (inFlight.get(path) ?? 1) - 1);
        response.writeHead(200, { 'content-type': 'text/html' });
        response.end('<title>Checked</title>');
      }, 50);
    });
    targetUrl = target.url;
    const dir = tempDir(fixtures, 'linkyard-edit-');
    dataDir = join(dir, 'data');
    stack = await startStack({
      instances: 3,
      port: 0,
      stateDir: join(dir, 'state'),
      dataDir,
      env: {
        LOG_LEVEL: 'warn',
        REDIRECT_CACHE_MS: String(REDIRECT_CACHE_MS),
        VISITS_FLUSH_MS: String(VISITS_FLUSH_MS),
        // Re-checks due 0.86 s after a check (a round every second or so), on loopback targets.
        CHECK_ALLOW_PRIVATE: 'true',
        RECHECK_INTERVAL_DAYS: '0.00001',
        RECHECK_PER_MINUTE: '6000',
      },
      quiet: true,
    });
  });

  after(async () => {
    await stack?.stop();
    await fixtures.run();
  });

  it(`a link edited on one process redirects to its new target there at once, and on every process within REDIRECT_CACHE_MS (${REDIRECT_CACHE_MS} ms)`, async () => {
    const alice = await runAppCommand('keys', dataDir, 'create', '--name', 'alice', '--role', 'author');
    const oldTarget = `${stack.url}/?old`;
    const newTarget = `${stack.url}/?new`;
    assert.equal((await bookmarksApi(stack.url, 'POST', '', alice, { uri: oldTarget, name: 'moving' })).status, 201);
    // Each process reads it now and remembers the old target for REDIRECT_CACHE_MS.
    for (const base of stack.appUrls) {
      assert.equal((await fetch(`${base}/moving`, { redirect: 'manual' })).headers.get('location'), oldTarget, base);
    }

    const [first] = stack.appUrls;
    assert.ok(first !== undefined);
    const edited = await bookmarksApi(first, 'PATCH', '/moving', alice, { uri: newTarget });
    assert.equal(edited.status, 200);
    const editedAt = Date.now();
    assert.equal(
      (await fetch(`${first}/moving`, { redirect: 'manual' })).headers.get('location'),
      newTarget,
      'at once where it was edited',
    );
    const followedAfter = await Promise.all(
      stack.appUrls.map((base) => redirectsWithin(base, 'moving', newTarget, editedAt, REDIRECT_CACHE_MS)),
    );
    for (const [index, elapsed] of followedAfter.entries()) {
      assert.ok(elapsed <= REDIRECT_CACHE_MS + SLACK_MS, `process ${index} redirected to the old target ${elapsed} ms after the edit`);
    }
    assert.equal((await fetch(`${stack.url}/moving`, { redirect: 'manual' })).headers.get('location'), newTarget, 'and through nginx');
  });

  it('a visit limit is overshot by no more than the other processes count between flushes: (processes − 1) × rate × 2 × VISITS_FLUSH_MS', async (t) => {
    const root = await runAppCommand('keys', dataDir, 'create', '--name', 'root', '--role', 'admin');
    const maxVisits = 30;
    assert.equal(
      (await bookmarksApi(stack.url, 'POST', '', root, { uri: `${stack.url}/?limited`, name: 'limited', maxVisits })).status,
      201,
    );
    const processes = stack.appUrls.length;
    const perProcess = 3 * maxVisits;
    const passed = await Promise.all(
      stack.appUrls.map(async (base) => {
        let redirects = 0;
        for (let i = 0; i < perProcess; i++) {
          const status = (await fetch(`${base}/limited`, { redirect: 'manual', headers: AS_A_PERSON })).status;
          assert.ok(status === 303 || status === 410, `${base}: ${status}`);
          if (status === 303) redirects++;
          await sleep(1000 / REQUESTS_PER_SECOND_PER_PROCESS);
        }
        return redirects;
      }),
    );
    const total = passed.reduce((sum, count) => sum + count, 0);
    t.diagnostic(`${total} redirects for a limit of ${maxVisits} (per process: ${passed.join(', ')})`);
    // A flush being written when the limit is reached leaves up to two intervals unseen by the others.
    const bound = (processes - 1) * Math.ceil((REQUESTS_PER_SECOND_PER_PROCESS * 2 * VISITS_FLUSH_MS) / 1000);
    assert.ok(total >= maxVisits, `only ${total} redirects before the limit of ${maxVisits}`);
    assert.ok(total <= maxVisits + bound, `${total} redirects for a limit of ${maxVisits}: over the bound of ${bound}`);
    assert.equal(
      (await fetch(`${stack.url}/limited`, { redirect: 'manual', headers: AS_A_PERSON })).status,
      410,
      'and expired through nginx',
    );
  });
  it('one process at a time re-checks: only one counts re-checks, and no link is checked twice at once', async () => {
    for (const [index, name] of RECHECKED.entries()) {
      const response = await fetch(`${stack.appUrls[index % stack.appUrls.length]}/api/bookmarks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ uri: `${targetUrl}/${name}`, name }),
      });
      assert.equal(response.status, 201, await response.text());
    }
    assert.ok(
      await eventually(() => RECHECKED.every((name) => (checks.get(`/${name}`) ?? 0) >= CHECKS_EACH), 30_000),
      `checks per link: ${JSON.stringify(Object.fromEntries(checks))}`,
    );
    const perProcess = await Promise.all(stack.appUrls.map(rechecksCounted));
    assert.equal(perProcess.filter((count) => count > 0).length, 1, `re-checks per process: ${perProcess.join(', ')}`);
    assert.equal(mostAtOnce, 1, 'a link checked by two processes at once');
  });
});
