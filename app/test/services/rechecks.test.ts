import assert from 'node:assert/strict';
import type { RequestListener } from 'node:http';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { eventually, startTarget } from '../../../test/support/index.ts';
import type { BookmarkJson } from '../../src/routes/api.ts';
import { RECHECK_LEASE } from '../../src/services/rechecks.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { htmlPage, postForm, startApp } from '../helpers.ts';

/** A target that counts the requests it was sent, answering each with `answer(n)` (n from 1). */
function countingTarget(answer: (n: number) => RequestListener = () => htmlPage('Alive')) {
  const counted = { requests: 0 };
  const handler: RequestListener = (request, response) => {
    counted.requests += 1;
    answer(counted.requests)(request, response);
  };
  return { counted, handler };
}

const failing: RequestListener = (_request, response) => {
  response.writeHead(500);
  response.end('down for a moment');
};

async function bookmark(url: string, name: string): Promise<BookmarkJson> {
  const response = await fetch(`${url}/api/bookmarks/${name}`);
  assert.equal(response.status, 200);
  return (await response.json()) as BookmarkJson;
}

/** A counter's value in /metrics, 0 when absent. */
async function metric(url: string, series: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** Re-checks as often as the tests can watch: due 50 ms after a check, 6000 a minute at most. */
const OFTEN = { recheck: { intervalMs: 50, perMinute: 6000 } };

describe('re-checks of targets in the background', { timeout: 60_000 }, () => {
  it('a target that dies is flagged after two failed re-checks, with since when, on the API, the list and the stats page; the link still redirects', async (t) => {
    const { counted, handler } = countingTarget();
    const target = await startTarget(t, handler);
    const { url } = await startApp(t, OFTEN);
    assert.equal((await postForm(url, '/', { longuri: `${target.url}/page`, shortname: 'dying' })).status, 303);
    assert.ok(await eventually(() => counted.requests >= 3, 10_000), `re-checked while alive: ${counted.requests} requests`);
    const alive = await bookmark(url, 'dying');
    assert.equal(alive.unreachableSince, null);
    assert.equal(alive.checkError, null);
    assert.ok(Date.parse(alive.checkedAt) > Date.parse(alive.createdAt), 'checked again after the create');

    const diedAt = Date.now();
    target.server.closeAllConnections();
    target.server.close();
    assert.ok(await eventually(async () => (await bookmark(url, 'dying')).unreachableSince !== null, 10_000), 'flagged after two failures');
    const flagged = await bookmark(url, 'dying');
    assert.ok(flagged.unreachableSince !== null && Date.parse(flagged.unreachableSince) >= diedAt - 1000, flagged.unreachableSince ?? '');
    assert.match(flagged.checkError ?? '', /refused/);
    assert.ok((await metric(url, 'linkyard_rechecks_total{outcome="failed"}')) >= 2);
    assert.ok((await metric(url, 'linkyard_rechecks_total{outcome="ok"}')) >= 1);

    const redirect = await fetch(`${url}/dying`, { redirect: 'manual' });
    assert.equal(redirect.status, 303, 'flagged, never deleted: it still redirects');
    assert.equal(redirect.headers.get('location'), `${target.url}/page`);
    const list = await (await fetch(`${url}/`)).text();
    assert.match(list, /Target unreachable since \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    assert.match(list, /connection refused; the link still redirects/);
    const stats = await (await fetch(`${url}/dying+`)).text();
    assert.match(stats, /Target unreachable since \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
  });

  it('one failed re-check does not flag a link, and the next success ends the run', async (t) => {
    // The create's check is request 1; the first re-check (2) fails, the next ones succeed.
    const { counted, handler } = countingTarget((n) => (n === 2 ? failing : htmlPage('Back')));
    const target = await startTarget(t, handler);
    const { url } = await startApp(t, OFTEN);
    assert.equal((await postForm(url, '/', { longuri: `${target.url}/blip`, shortname: 'blip' })).status, 303);
    assert.ok(await eventually(() => counted.requests >= 4, 10_000), `${counted.requests} requests`);
    assert.ok(await eventually(async () => (await bookmark(url, 'blip')).checkError === null, 5000));
    assert.equal((await bookmark(url, 'blip')).unreachableSince, null);
    assert.equal(await metric(url, 'linkyard_rechecks_total{outcome="failed"}'), 1);
  });

  it('starts no more re-checks than RECHECK_PER_MINUTE allows over any stretch', async (t) => {
    const perMinute = 600;
    const { counted, handler } = countingTarget();
    const target = await startTarget(t, handler);
    const { url } = await startApp(t, { recheck: { intervalMs: 1, perMinute } });
    for (const name of ['r1', 'r2', 'r3', 'r4', 'r5']) {
      assert.equal((await postForm(url, '/', { longuri: `${target.url}/${name}`, shortname: name })).status, 303);
    }
    // From here every link is always due: only the rate holds the checks back.
    const creates = counted.requests;
    const since = performance.now();
    assert.ok(await eventually(() => counted.requests - creates >= 6, 20_000), `${counted.requests - creates} re-checks`);
    const rechecks = counted.requests - creates;
    const elapsedMs = performance.now() - since;
    // Starts are 60 000 / perMinute ms apart; one may have begun just before `since`.
    const allowed = Math.floor((elapsedMs * perMinute) / 60_000) + 2;
    assert.ok(rechecks <= allowed, `${rechecks} re-checks in ${Math.round(elapsedMs)} ms, at most ${allowed} allowed`);
  });

  it('holds the lease while it works and gives it up on close; with RECHECK_INTERVAL_DAYS=0 it never takes it', async (t) => {
    const { counted, handler } = countingTarget();
    const target = await startTarget(t, handler);
    const { app, url, config } = await startApp(t, OFTEN);
    const rival = new SqliteStore({ file: join(config.dataDir, 'linkyard.sqlite') });
    t.after(() => rival.close());
    assert.equal((await postForm(url, '/', { longuri: `${target.url}/held`, shortname: 'held' })).status, 303);
    assert.ok(await eventually(() => counted.requests >= 2, 10_000), 're-checking, so holding the lease');
    assert.equal(await rival.acquireLease(RECHECK_LEASE, 'rival', 60_000), false, 'held by the app');
    await app.close();
    assert.equal(await rival.acquireLease(RECHECK_LEASE, 'rival', 60_000), true, 'given up on close, not left to expire');

    const off = await startApp(t, { recheck: { intervalMs: 0, perMinute: 60 } });
    const offStore = new SqliteStore({ file: join(off.config.dataDir, 'linkyard.sqlite') });
    t.after(() => offStore.close());
    assert.equal((await postForm(off.url, '/', { longuri: `${target.url}/off`, shortname: 'off' })).status, 303);
    assert.equal(await offStore.acquireLease(RECHECK_LEASE, 'rival', 60_000), true, 'no process re-checks');
  });
});
