import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { freePort } from '../../../test/support/index.ts';
import { PostgresStore } from '../../src/store/postgres.ts';
import { StoreUnavailableError } from '../../src/store/unavailable.ts';
import { MAX_PENDING_NAMES, VisitCounter } from '../../src/visits.ts';
import { form, startApp } from '../helpers.ts';

// A store that is away, for real: PostgreSQL at a loopback port nobody listens on, so every
// connection is refused. (The outages under load, with a real server stopped, frozen, a disk
// filled or turned read-only, are in app/test/faults/.)

async function unreachableStore(t: TestContext): Promise<PostgresStore> {
  const store = new PostgresStore({ connectionString: `postgres://nobody@127.0.0.1:${await freePort()}/none`, connectTimeoutMs: 1000 });
  t.after(() => store.close());
  return store;
}

describe('a store that cannot be reached', () => {
  it('fails every call at once with STORE_UNAVAILABLE, saying why', async (t) => {
    const store = await unreachableStore(t);
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['resolve', () => store.resolve('x')],
      ['resolveTarget', () => store.resolveTarget('x')],
      // Reads of one turn share a statement (ReadBatch): each caller gets the failure.
      ['resolveTarget, two at once', () => Promise.all([store.resolveTarget('x'), store.resolveTarget('y')])],
      ['get', () => store.get('x')],
      ['list', () => store.list({ limit: 5 })],
      ['create', () => store.create({ name: 'x', uri: 'https://example.com/', title: null, checkStatus: 200 })],
      ['delete', () => store.delete('x')],
      ['addVisits', () => store.addVisits(new Map([['x', 1]]), 'batch')],
      ['ping', () => store.ping()],
    ];
    for (const [name, call] of calls) {
      const began = performance.now();
      await assert.rejects(call(), (error: unknown) => {
        assert.ok(error instanceof StoreUnavailableError, `${name}: ${String(error)}`);
        assert.equal(error.reason, 'unreachable');
        assert.equal(error.code, 'STORE_UNAVAILABLE');
        assert.equal(error.statusCode, 503);
        assert.equal(error.retryAfter, 5);
        assert.match(error.message, /cannot be reached/);
        assert.ok(error.cause instanceof Error, "the driver's error is kept for the log");
        return true;
      });
      assert.ok(performance.now() - began < 1000, `${name} answered before the connect deadline`);
    }
  });

  it('answers 503 with Retry-After everywhere: the form with what was typed, the API as JSON, redirects, readiness', async (t) => {
    const { url } = await startApp(t, {}, { store: await unreachableStore(t) });

    const created = await fetch(`${url}/`, {
      method: 'POST',
      redirect: 'manual',
      ...form({ longuri: 'https://example.com/typed', shortname: 'typed' }),
    });
    assert.equal(created.status, 503);
    assert.equal(created.headers.get('retry-after'), '5');
    const page = await created.text();
    assert.match(
      page,
      /role="alert">Bookmarks cannot be saved or looked up right now: our database cannot be reached\. Please try again in a minute\.</,
    );
    assert.match(page, /name="longuri" type="text"[^>]*value="https:\/\/example\.com\/typed"/);
    assert.match(page, /name="shortname" type="text"[^>]*value="typed"/);
    assert.match(page, /The bookmarks cannot be shown right now/);

    const api = await fetch(`${url}/api/bookmarks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uri: 'https://example.com/', name: 'from-api' }),
    });
    assert.equal(api.status, 503);
    assert.equal(api.headers.get('retry-after'), '5');
    const body = (await api.json()) as { error: string; message: string };
    assert.equal(body.error, 'STORE_UNAVAILABLE');
    assert.match(body.message, /cannot be reached/);

    const redirect = await fetch(`${url}/some-name`, { redirect: 'manual' });
    assert.equal(redirect.status, 503, 'unknown is not the same as not found');
    assert.equal(redirect.headers.get('retry-after'), '5');

    const home = await fetch(`${url}/`);
    assert.equal(home.status, 503);
    assert.match(await home.text(), /<form class="create"/);

    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { status: 'unavailable', problems: ['store unavailable'] });
    assert.equal((await fetch(`${url}/healthz`)).status, 200, 'alive all the same: nothing to restart');
  });

  it('keeps visits that could not be written, up to MAX_PENDING_NAMES names', async (t) => {
    const errors: unknown[] = [];
    const visits = new VisitCounter(await unreachableStore(t), 60_000, (error) => errors.push(error));
    t.after(() => visits.close());
    visits.record('a');
    visits.record('a');
    visits.record('b');
    await visits.flush();
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof StoreUnavailableError);
    assert.equal(visits.pending, 3, 'the batch was put back');

    // The refused batch waits apart, to be retried as it was; new visits gather beside it.
    for (let i = 0; i < MAX_PENDING_NAMES + 10; i++) visits.record(`name-${i}`);
    visits.record('name-0');
    assert.equal(visits.dropped, 10, 'visits to names beyond the bound are counted as dropped');
    assert.equal(visits.pending, 3 + MAX_PENDING_NAMES + 1, 'names already waiting still count');
    await visits.flush();
    assert.equal(errors.length, 2);
    assert.equal(visits.pending, 3 + MAX_PENDING_NAMES + 1, 'a failed flush keeps them all');
    assert.equal(visits.dropped, 10);
    assert.equal(visits.recorded, 3 + MAX_PENDING_NAMES + 10 + 1, 'every visit counts as served (linkyard_visits_total), kept or dropped');
  });
});
