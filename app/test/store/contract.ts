/**
 * The BookmarkStore contract, one suite for both engines: each engine's test file calls
 * `storeContract` inside its own describe with a harness that hands out empty databases.
 */
import assert from 'node:assert/strict';
import type { ChildProcessByStdio } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import type { BookmarkStore, NewBookmark } from '../../src/store/types.ts';
import { InvalidCursorError } from '../../src/store/types.ts';
import type { WorkerCommand, WorkerReply, WorkerSpec } from './fixtures/store-worker.ts';
import { statsContract } from './stats-contract.ts';
import { transferContract } from './transfer-contract.ts';

export interface StoreTarget {
  /** A new store with its own connection to this target's database; not migrated. */
  open(): BookmarkStore;
  /** How a worker process reaches the same database. */
  workerSpec: WorkerSpec;
}

export interface StoreHarness {
  /** An empty database (an absent SQLite file, a PostgreSQL schema not yet created), removed after the suite. */
  fresh(): Promise<StoreTarget>;
}

const WORKER_SCRIPT = new URL('./fixtures/store-worker.ts', import.meta.url).pathname;
const PROCESSES = 20;

function bookmark(name: string, uri = `https://example.com/${name}`): NewBookmark {
  return { name, uri, title: `Title of ${name}`, checkStatus: 200 };
}

async function migratedStore(t: TestContext, target: StoreTarget): Promise<BookmarkStore> {
  const store = target.open();
  t.after(() => store.close());
  await store.migrate();
  return store;
}

interface Worker {
  child: ChildProcessByStdio<Writable, Readable, null>;
  replies: AsyncIterator<string>;
}

function startWorkers(t: TestContext, spec: WorkerSpec, count: number): Worker[] {
  const workers = Array.from({ length: count }, (): Worker => {
    const child = spawn(process.execPath, [WORKER_SCRIPT, JSON.stringify(spec)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    return { child, replies: createInterface({ input: child.stdout })[Symbol.asyncIterator]() };
  });
  t.after(() => Promise.all(workers.map(stopWorker)));
  return workers;
}

async function stopWorker({ child }: Worker): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.stdin.end();
  const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(killer);
}

async function nextReply(worker: Worker): Promise<WorkerReply> {
  const { value, done } = await worker.replies.next();
  if (done === true) throw new Error(`worker ${worker.child.pid} exited without replying`);
  return JSON.parse(String(value)) as WorkerReply;
}

/** Sends every worker its command at once, so they all act together, and collects the replies. */
async function commandEveryone(workers: Worker[], commandFor: (index: number) => WorkerCommand): Promise<WorkerReply[]> {
  for (const [index, worker] of workers.entries()) worker.child.stdin.write(`${JSON.stringify(commandFor(index))}\n`);
  return Promise.all(workers.map(nextReply));
}

async function createEverywhere(workers: Worker[], commandFor: (index: number) => WorkerCommand): Promise<string[]> {
  const replies = await commandEveryone(workers, commandFor);
  return replies.map((reply) => {
    if (!('kind' in reply)) throw new Error(`worker failed: ${JSON.stringify(reply)}`);
    return reply.kind;
  });
}

function tally(kinds: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of kinds) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

export function storeContract(harness: StoreHarness): void {
  statsContract(harness);
  transferContract(harness);
  test('create reports created, then exists for the same URI and conflict for another', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    const before = Date.now();

    const created = await store.create(bookmark('docs', 'https://example.com/docs'));
    assert.equal(created.kind, 'created');
    assert.deepEqual(
      { ...created.bookmark, createdAt: undefined, checkedAt: undefined },
      {
        name: 'docs',
        uri: 'https://example.com/docs',
        title: 'Title of docs',
        checkStatus: 200,
        visits: 0,
        createdAt: undefined,
        createdBy: null,
        expiresAt: null,
        maxVisits: null,
        forwardQuery: true,
        checkedAt: undefined,
        checkFailures: 0,
        failingSince: null,
        checkError: null,
      },
    );
    assert.ok(created.bookmark.createdAt instanceof Date);
    assert.ok(Math.abs(created.bookmark.createdAt.getTime() - before) < 60_000);

    const again = await store.create(bookmark('docs', 'https://example.com/docs'));
    assert.deepEqual(again, { kind: 'exists', bookmark: created.bookmark });

    const other = await store.create(bookmark('docs', 'https://example.com/elsewhere'));
    assert.deepEqual(other, { kind: 'conflict', existing: created.bookmark });
    assert.equal(await store.count(), 1);
  });

  test('a title may be absent', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    const outcome = await store.create({ name: 'untitled', uri: 'https://example.com/', title: null, checkStatus: 403 });
    assert.equal(outcome.kind, 'created');
    assert.deepEqual(await store.get('untitled'), outcome.kind === 'created' ? outcome.bookmark : undefined);
    assert.equal((await store.get('untitled'))?.title, null);
    assert.equal((await store.get('untitled'))?.checkStatus, 403);
  });

  test('resolve returns the URI of a known name only', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    await store.create(bookmark('a', 'https://example.com/a?q=1#frag'));
    assert.equal(await store.resolve('a'), 'https://example.com/a?q=1#frag');
    assert.equal(await store.resolve('b'), undefined);
    assert.equal(await store.resolve('A'), undefined, 'names are case-sensitive');
  });

  test('get returns the whole bookmark or undefined', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    const created = await store.create(bookmark('a'));
    assert.equal(created.kind, 'created');
    assert.deepEqual(await store.get('a'), created.bookmark);
    assert.equal(await store.get('missing'), undefined);
  });

  test('list pages through 120 bookmarks newest first, 50 at a time', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    const names = Array.from({ length: 120 }, (_, index) => `b${String(index).padStart(3, '0')}`);
    for (const name of names) await store.create(bookmark(name));

    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await store.list({ limit: 50, cursor });
      pages.push(page.items.map((item) => item.name));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined && pages.length < 10);

    assert.deepEqual(
      pages.map((page) => page.length),
      [50, 50, 20],
    );
    assert.deepEqual(pages.flat(), names.toReversed());
  });

  test('list has no next page when the rows end exactly at a page boundary, or there are none', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    assert.deepEqual(await store.list({ limit: 2 }), { items: [], nextCursor: null });
    for (const name of ['a', 'b', 'c', 'd']) await store.create(bookmark(name));

    const first = await store.list({ limit: 2 });
    assert.deepEqual(
      first.items.map((item) => item.name),
      ['d', 'c'],
    );
    assert.equal(typeof first.nextCursor, 'string');
    const second = await store.list({ limit: 2, cursor: first.nextCursor ?? undefined });
    assert.deepEqual(
      second.items.map((item) => item.name),
      ['b', 'a'],
    );
    assert.equal(second.nextCursor, null);
  });

  test('a cursor stays valid when the row it points at is deleted', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    for (const name of ['a', 'b', 'c', 'd']) await store.create(bookmark(name));
    const first = await store.list({ limit: 2 });
    assert.equal(await store.delete('c'), true);
    const second = await store.list({ limit: 2, cursor: first.nextCursor ?? undefined });
    assert.deepEqual(
      second.items.map((item) => item.name),
      ['b', 'a'],
    );
  });

  test('list rejects cursors it did not hand out', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    await store.create(bookmark('a'));
    const forged = [
      '',
      'not a cursor',
      '!!!!',
      Buffer.from('abc').toString('base64url'),
      Buffer.from('0').toString('base64url'),
      Buffer.from('-5').toString('base64url'),
      Buffer.from('1.5').toString('base64url'),
      Buffer.from('007').toString('base64url'),
      Buffer.from('99999999999999999999').toString('base64url'),
      `${Buffer.from('12').toString('base64url')}==`,
    ];
    for (const cursor of forged) {
      await assert.rejects(store.list({ limit: 10, cursor }), InvalidCursorError, `cursor ${JSON.stringify(cursor)}`);
    }
  });

  test('delete removes a bookmark once, and frees its name', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    await store.create(bookmark('gone', 'https://example.com/old'));
    await store.create(bookmark('kept'));

    assert.equal(await store.delete('gone'), true);
    assert.equal(await store.delete('gone'), false);
    assert.equal(await store.delete('never'), false);
    assert.equal(await store.resolve('gone'), undefined);
    assert.equal(await store.get('gone'), undefined);
    assert.equal(await store.count(), 1);

    const reused = await store.create(bookmark('gone', 'https://example.com/new'));
    assert.equal(reused.kind, 'created');
    assert.equal(await store.resolve('gone'), 'https://example.com/new');
  });

  test('update changes the given fields in place: the row, its place in the list and its visits stay', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    await store.create(bookmark('edited', 'https://example.com/old'));
    await store.create(bookmark('newer'));
    await store.addVisits(new Map([['edited', 7]]), 'before-edit');

    const retargeted = await store.update('edited', { uri: 'https://example.com/new', title: null, checkStatus: 204 });
    assert.equal(retargeted?.previousUri, 'https://example.com/old');
    assert.deepEqual(
      { ...retargeted?.bookmark, createdAt: undefined, checkedAt: undefined },
      {
        name: 'edited',
        uri: 'https://example.com/new',
        title: null,
        checkStatus: 204,
        visits: 7,
        createdAt: undefined,
        createdBy: null,
        expiresAt: null,
        maxVisits: null,
        forwardQuery: true,
        checkedAt: undefined,
        checkFailures: 0,
        failingSince: null,
        checkError: null,
      },
    );
    assert.equal(await store.resolve('edited'), 'https://example.com/new');

    const retitled = await store.update('edited', { title: 'Mine' });
    assert.equal(retitled?.previousUri, 'https://example.com/new');
    assert.equal(retitled?.bookmark.uri, 'https://example.com/new');
    assert.equal(retitled?.bookmark.checkStatus, 204);
    assert.equal(retitled?.bookmark.title, 'Mine');

    assert.deepEqual(
      (await store.list({ limit: 10 })).items.map((item) => item.name),
      ['newer', 'edited'],
    );
    await store.addVisits(new Map([['edited', 1]]), 'after-edit');
    assert.equal((await store.get('edited'))?.visits, 8);
    assert.equal(await store.update('never', { title: 'x' }), undefined);
    assert.equal(await store.count(), 2);
  });

  test('expiry and forwarding are stored at create, changed or cleared by update, and read by resolveTarget', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    const expiresAt = new Date('2031-02-03T04:05:06.789Z');
    await store.create({ ...bookmark('limited'), expiresAt, maxVisits: 3, forwardQuery: false });
    await store.create(bookmark('plain'));
    const limited = await store.get('limited');
    assert.deepEqual([limited?.expiresAt, limited?.maxVisits, limited?.forwardQuery], [expiresAt, 3, false]);
    const plain = await store.get('plain');
    assert.deepEqual([plain?.expiresAt, plain?.maxVisits, plain?.forwardQuery], [null, null, true]);

    await store.addVisits(new Map([['limited', 2]]), 'some');
    assert.deepEqual(await store.resolveTarget('limited'), {
      uri: 'https://example.com/limited',
      expiresAt: expiresAt.getTime(),
      maxVisits: 3,
      visits: 2,
      forwardQuery: false,
    });
    assert.equal(await store.resolveTarget('never'), undefined);

    // Renewed: a later date, a higher limit; then every limit removed. Fields not given stay.
    const later = new Date('2032-01-01T00:00:00Z');
    const renewed = await store.update('limited', { expiresAt: later, maxVisits: 10 });
    assert.deepEqual([renewed?.bookmark.expiresAt, renewed?.bookmark.maxVisits, renewed?.bookmark.forwardQuery], [later, 10, false]);
    const cleared = await store.update('limited', { expiresAt: null, maxVisits: null, forwardQuery: true });
    assert.deepEqual([cleared?.bookmark.expiresAt, cleared?.bookmark.maxVisits, cleared?.bookmark.forwardQuery], [null, null, true]);
    assert.equal(cleared?.bookmark.uri, 'https://example.com/limited');
  });

  test('search, once searchIndexStep has built the index, finds name, target or title, newest first, paginated', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    for (let i = 1; i <= 7; i++) await store.create({ ...bookmark(`match${i}`, `https://example.com/${i}`), title: `Page ${i}` });
    await store.create({ ...bookmark('other', 'https://docs.example.org/Needle-in-Path'), title: 'Plain' });
    await store.create({ ...bookmark('third', 'https://example.com/x'), title: 'A NEEDLE in the title' });
    await store.create({ ...bookmark('wild', 'https://example.com/100%_sure'), title: null });
    await store.create(bookmark('removed', 'https://example.com/needle-gone'));
    // Built in bounded steps after migrate (each engine's own test shows the 503 state on a large store).
    let built = false;
    for (let step = 0; step < 100 && !built; step++) built = await store.searchIndexStep();
    assert.ok(built, 'the index was built');
    // Kept current after that: a delete, an edit, a new link.
    await store.delete('removed');
    await store.update('match3', { uri: 'https://example.com/needle-now' });
    await store.create(bookmark('newest', 'https://example.com/Needle'));

    const names = async (query: string, limit = 10, cursor?: string) =>
      (await store.search({ query, limit, cursor })).items.map((item) => item.name);
    assert.deepEqual(await names('needle'), ['newest', 'third', 'other', 'match3']);
    assert.deepEqual(await names('match'), ['match7', 'match6', 'match5', 'match4', 'match3', 'match2', 'match1']);
    assert.deepEqual(await names('0%_'), ['wild'], 'LIKE wildcards are text');
    assert.deepEqual(await names('nothing like it'), []);

    const first = await store.search({ query: 'match', limit: 3 });
    assert.deepEqual(
      first.items.map((item) => item.name),
      ['match7', 'match6', 'match5'],
    );
    assert.ok(first.nextCursor !== null);
    const second = await store.search({ query: 'match', limit: 3, cursor: first.nextCursor });
    assert.deepEqual(
      second.items.map((item) => item.name),
      ['match4', 'match3', 'match2'],
    );
    const third = await store.search({ query: 'match', limit: 3, cursor: second.nextCursor ?? undefined });
    assert.deepEqual([third.items.map((item) => item.name), third.nextCursor], [['match1'], null]);
    await assert.rejects(store.search({ query: 'match', limit: 3, cursor: 'forged' }), InvalidCursorError);
  });

  test('search pages, followed to the end at any budget, hold every match once, newest first; a partial page always has a cursor', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    // Enough ids for several scan windows (FIRST_SCAN_WINDOW is 1 024), one link in 60 a match.
    const links = Array.from({ length: 3000 }, (_, i) => ({
      name: `link${i + 1}`,
      uri: `https://example.com/${i + 1}`,
      title: (i + 1) % 60 === 0 ? `A Kernel Tuning Report, part ${i + 1}` : `Kernel notes ${i + 1}`,
      checkStatus: 200,
      createdAt: new Date(Date.UTC(2026, 0, 1) + i * 1000),
      createdBy: null,
      expiresAt: null,
      maxVisits: null,
      forwardQuery: false,
      visits: 0,
      hours: [],
      days: [],
      dimensions: [],
    }));
    await store.importLinks(links, { overwrite: false });
    while (!(await store.searchIndexStep())) {}
    const expected = links
      .filter((link) => link.title.startsWith('A Kernel'))
      .map((link) => link.name)
      .reverse();

    for (const budgetMs of [0, 4000]) {
      const names: string[] = [];
      let partialPages = 0;
      let cursor: string | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const page = await store.search({ query: 'kernel tuning report', limit: 50, cursor, budgetMs });
        names.push(...page.items.map((item) => item.name));
        if (page.partial) {
          partialPages++;
          assert.notEqual(page.nextCursor, null, 'a partial page says where to go on');
        }
        if (page.nextCursor === null) break;
        cursor = page.nextCursor;
      }
      assert.deepEqual(names, expected, `budget ${budgetMs} ms`);
      t.diagnostic(`budget ${budgetMs} ms: ${partialPages} partial page(s)`);
    }
  });

  test('addVisits adds batched counts and ignores names that are gone', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    await store.create(bookmark('a'));
    await store.create(bookmark('b'));

    await store.addVisits(
      new Map([
        ['a', 3],
        ['ghost', 7],
      ]),
      'batch-1',
    );
    await store.addVisits(
      new Map([
        ['a', 2],
        ['b', 1],
      ]),
      'batch-2',
    );
    await store.addVisits(new Map(), 'batch-3');

    assert.equal((await store.get('a'))?.visits, 5);
    assert.equal((await store.get('b'))?.visits, 1);
    assert.equal(await store.get('ghost'), undefined);
    assert.deepEqual(
      (await store.list({ limit: 10 })).items.map((item) => [item.name, item.visits]),
      [
        ['b', 1],
        ['a', 5],
      ],
    );
  });

  test('a visit batch retried under the same id is applied once, from any connection', async (t) => {
    const target = await harness.fresh();
    const store = await migratedStore(t, target);
    const other = await migratedStore(t, target);
    await store.create(bookmark('a'));
    await store.addVisits(new Map([['a', 3]]), 'retried');
    await store.addVisits(new Map([['a', 3]]), 'retried');
    await other.addVisits(new Map([['a', 3]]), 'retried');
    await other.addVisits(new Map([['a', 1]]), 'another');
    assert.equal((await store.get('a'))?.visits, 4);
  });

  test('visit counts beyond 32 bits come back as numbers', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    await store.create(bookmark('popular'));
    await store.addVisits(new Map([['popular', 2 ** 40]]), 'batch-1');
    await store.addVisits(new Map([['popular', 1]]), 'batch-2');
    assert.equal((await store.get('popular'))?.visits, 2 ** 40 + 1);
  });

  test('count counts', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    assert.equal(await store.count(), 0);
    for (const name of ['a', 'b', 'c']) await store.create(bookmark(name));
    await store.create(bookmark('a'));
    assert.equal(await store.count(), 3);
  });

  test('ping answers while open and fails once closed; close is idempotent', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    await store.ping();
    await store.close();
    await store.close();
    await assert.rejects(store.ping());
    await assert.rejects(store.resolve('a'));
  });

  test('migrate is idempotent and keeps data', async (t) => {
    const store = await migratedStore(t, await harness.fresh());
    await store.create(bookmark('a'));
    await store.migrate();
    assert.equal(await store.resolve('a'), 'https://example.com/a');
  });

  test('what was acknowledged is there after closing and reopening', async (t) => {
    const target = await harness.fresh();
    const first = await migratedStore(t, target);
    await first.create(bookmark('a'));
    await first.addVisits(new Map([['a', 4]]), 'batch-1');
    await first.close();

    const second = await migratedStore(t, target);
    assert.equal(await second.resolve('a'), 'https://example.com/a');
    assert.equal((await second.get('a'))?.visits, 4);
    assert.equal(await second.count(), 1);
  });

  test(`${PROCESSES} processes migrate a fresh database at once, then race to create the same names`, { timeout: 60_000 }, async (t) => {
    const target = await harness.fresh();
    const workers = startWorkers(t, target.workerSpec, PROCESSES);
    const ready = await Promise.all(workers.map(nextReply));
    assert.deepEqual(
      ready,
      workers.map(() => ({ ready: true })),
    );
    const migrated = await commandEveryone(workers, () => ({ op: 'migrate' }));
    assert.deepEqual(
      migrated,
      workers.map(() => ({ migrated: true })),
    );

    const differentUris = await createEverywhere(workers, (index) => ({
      op: 'create',
      name: 'contested',
      uri: `https://example.com/${index}`,
    }));
    assert.deepEqual(tally(differentUris), { created: 1, conflict: PROCESSES - 1 });

    const sameUri = await createEverywhere(workers, () => ({
      op: 'create',
      name: 'shared',
      uri: 'https://example.com/shared',
    }));
    assert.deepEqual(tally(sameUri), { created: 1, exists: PROCESSES - 1 });

    const store = await migratedStore(t, target);
    assert.equal(await store.count(), 2);
    const winner = differentUris.indexOf('created');
    assert.equal(await store.resolve('contested'), `https://example.com/${winner}`);
  });
}
