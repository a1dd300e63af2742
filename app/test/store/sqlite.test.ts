import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { DISABLED_NAMES_SQL } from '../../src/store/access-sqlite.ts';
import { openSqlite, PAGE_CACHE_KIB, SqliteStore } from '../../src/store/sqlite.ts';
import { SearchIndexingError } from '../../src/store/types.ts';
import { accessContract } from './access-contract.ts';
import { storeContract } from './contract.ts';
import { recheckContract } from './recheck-contract.ts';

const dir = await mkdtemp(join(tmpdir(), 'linkyard-store-'));
after(() => rm(dir, { recursive: true, force: true }));
let files = 0;

const HOLD_LOCK_SCRIPT = new URL('./fixtures/hold-write-lock.ts', import.meta.url).pathname;
const HOLD_MS = 600;

function freshFile(): string {
  files += 1;
  return join(dir, `${files}.sqlite`);
}

describe('SqliteStore', () => {
  const harness = {
    async fresh() {
      const file = freshFile();
      return { open: () => new SqliteStore({ file }), workerSpec: { engine: 'sqlite', file } as const };
    },
  };
  storeContract(harness);
  accessContract(harness);
  recheckContract(harness);

  test('the file is in WAL mode and records its schema version', async (t) => {
    const file = freshFile();
    const store = new SqliteStore({ file });
    t.after(() => store.close());
    await store.migrate();

    const observer = new Database(file, { readonly: true });
    t.after(() => observer.close());
    assert.equal(observer.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(observer.pragma('user_version', { simple: true }), 8);
  });

  test("a connection, the visit writer's too, keeps SQLite's 2 MB page cache, not the 16 MB better-sqlite3 builds in", (t) => {
    const built = new Database(':memory:');
    t.after(() => built.close());
    assert.equal(built.pragma('cache_size', { simple: true }), -16000);
    const db = openSqlite(freshFile());
    t.after(() => db.close());
    assert.equal(PAGE_CACHE_KIB, 2000);
    assert.equal(db.pragma('cache_size', { simple: true }), -PAGE_CACHE_KIB);
  });

  test("the blocklist refresh reads the disabled links and looks each one up, never every link's name", async (t) => {
    const file = freshFile();
    const store = new SqliteStore({ file });
    t.after(() => store.close());
    await store.migrate();

    const observer = new Database(file, { readonly: true });
    t.after(() => observer.close());
    const plan = observer
      .prepare<[], { detail: string }>(`EXPLAIN QUERY PLAN ${DISABLED_NAMES_SQL}`)
      .all()
      .map((step) => step.detail);
    // A plain JOIN scanned the name index of every link instead (SCAN b USING COVERING INDEX …).
    assert.deepEqual(plan, ['SCAN d', 'SEARCH b USING INTEGER PRIMARY KEY (rowid=?)']);
  });

  test('on a store that had rows before the search migration, search is SearchIndexingError until the backfill is done, in bounded batches', async (t) => {
    const file = freshFile();
    const store = new SqliteStore({ file });
    t.after(() => store.close());
    await store.migrate();
    const writer = new Database(file);
    t.after(() => writer.close());
    const insert = writer.prepare('INSERT INTO bookmarks (name, uri, title, check_status, created_at) VALUES (?, ?, NULL, 200, 0)');
    writer.transaction(() => {
      for (let i = 1; i <= 12_000; i++) insert.run(`n${i}`, `https://example.com/${i % 1000 === 0 ? 'needle' : 'hay'}/${i}`);
    })();
    // What the migration leaves on a store with these rows: none indexed, all below the mark.
    writer.exec('DELETE FROM bookmarks_search; UPDATE search_backfill SET below = (SELECT max(id) + 1 FROM bookmarks)');

    await assert.rejects(store.search({ query: 'needle', limit: 5 }), SearchIndexingError);
    const steps: boolean[] = [];
    while (steps.at(-1) !== true && steps.length < 10) steps.push(await store.searchIndexStep());
    assert.deepEqual(steps, [false, false, true], '12 000 rows in batches of 5 000');
    const page = await store.search({ query: 'needle', limit: 5 });
    assert.deepEqual(
      page.items.map((item) => item.name),
      ['n12000', 'n11000', 'n10000', 'n9000', 'n8000'],
    );
    assert.equal(writer.prepare('SELECT count(*) FROM bookmarks_search').pluck().get(), 12_000, 'each row indexed once');
  });

  test('links made before re-checks came are enrolled after start-up in bounded batches, due at once, and show their creation as their last check', async (t) => {
    const file = freshFile();
    const store = new SqliteStore({ file });
    t.after(() => store.close());
    await store.migrate();
    const writer = new Database(file);
    t.after(() => writer.close());
    const insert = writer.prepare('INSERT INTO bookmarks (name, uri, title, check_status, created_at) VALUES (?, ?, NULL, 200, 1000)');
    writer.transaction(() => {
      for (let i = 1; i <= 12_000; i++) insert.run(`n${i}`, `https://example.com/${i}`);
    })();
    // What the migration leaves on a store with these rows: none enrolled, all below the mark.
    writer.exec('DELETE FROM link_checks; UPDATE recheck_backfill SET below = (SELECT max(id) + 1 FROM bookmarks)');

    assert.deepEqual((await store.get('n5'))?.checkedAt, new Date(1000), 'checked at create');
    assert.deepEqual(await store.dueForRecheck(new Date(), 5), [], 'none enrolled yet');
    const steps: boolean[] = [];
    while (steps.at(-1) !== true && steps.length < 10) steps.push(await store.recheckIndexStep());
    assert.deepEqual(steps, [false, false, true], '12 000 rows in batches of 5 000');
    assert.equal(writer.prepare('SELECT count(*) FROM link_checks').pluck().get(), 12_000, 'each link once');
    assert.equal((await store.dueForRecheck(new Date(2000), 5)).length, 5, 'due before any link made since');
    assert.deepEqual((await store.get('n5'))?.checkedAt, new Date(1000));
    assert.equal(await store.delete('n5'), true);
    assert.equal(writer.prepare('SELECT count(*) FROM link_checks').pluck().get(), 11_999, 'a deleted link takes its row along');
  });

  test('a writer waits while another process holds the write lock instead of failing', { timeout: 30_000 }, async (t) => {
    const file = freshFile();
    const store = new SqliteStore({ file });
    t.after(() => store.close());
    await store.migrate();

    const holder = spawn(process.execPath, [HOLD_LOCK_SCRIPT, file, String(HOLD_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => holder.kill('SIGKILL'));
    const [line] = await once(createInterface({ input: holder.stdout }), 'line');
    assert.equal(line, 'locked');

    const started = Date.now();
    const outcome = await store.create({ name: 'a', uri: 'https://example.com/', title: null, checkStatus: 200 });
    const waited = Date.now() - started;
    assert.equal(outcome.kind, 'created');
    assert.ok(waited >= HOLD_MS / 2, `create returned after ${waited} ms, before the lock was released`);
  });

  test('a visit flush is written on a thread of its own: redirects read and timers run while it waits for the write lock', {
    timeout: 30_000,
  }, async (t) => {
    const file = freshFile();
    const store = new SqliteStore({ file });
    t.after(() => store.close());
    await store.migrate();
    await store.create({ name: 'a', uri: 'https://example.com/', title: null, checkStatus: 200 });

    const holder = spawn(process.execPath, [HOLD_LOCK_SCRIPT, file, String(HOLD_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => holder.kill('SIGKILL'));
    const [line] = await once(createInterface({ input: holder.stdout }), 'line');
    assert.equal(line, 'locked');

    // On the event loop, the flush's transaction waited for the lock and nothing else ran.
    let ticks = 0;
    let reads = 0;
    const ticker = setInterval(async () => {
      ticks++;
      if ((await store.resolve('a')) === 'https://example.com/') reads++;
    }, 10);
    const started = Date.now();
    await store.addVisits(new Map([['a', 3]]), 'batch-1');
    const waited = Date.now() - started;
    clearInterval(ticker);
    assert.ok(waited >= HOLD_MS / 2, `the batch was written after ${waited} ms, before the lock was released`);
    assert.ok(ticks >= 10 && reads >= 10, `${ticks} timer ticks, ${reads} reads in the ${waited} ms the flush waited`);
    assert.equal((await store.get('a'))?.visits, 3);
    // The same id again: applied once.
    await store.addVisits(new Map([['a', 3]]), 'batch-1');
    assert.equal((await store.get('a'))?.visits, 3);
  });

  test('close() waits for the visit batch in flight, then the writer thread ends with the store', async () => {
    const file = freshFile();
    const store = new SqliteStore({ file });
    await store.migrate();
    await store.create({ name: 'a', uri: 'https://example.com/', title: null, checkStatus: 200 });
    const written = store.addVisits(new Map([['a', 2]]), 'batch-1');
    await store.close();
    await written;
    await assert.rejects(store.addVisits(new Map([['a', 1]]), 'batch-2'), /not open/);
    const again = new SqliteStore({ file });
    await again.migrate();
    assert.equal((await again.get('a'))?.visits, 2);
    await again.close();
  });

  test('presizeWal grows the WAL to its working size without changing the database, and commits neither grow nor shrink it', async (t) => {
    const file = freshFile();
    const store = new SqliteStore({ file });
    t.after(() => store.close());
    await store.migrate();
    await store.create({ name: 'kept', uri: 'https://example.com/kept', title: null, checkStatus: 200 });
    const walSize = () => statSync(`${file}-wal`).size;
    const grown = store.presizeWal();
    // 2000 frames of a 4 KiB page, each with its 24-byte header, after the WAL's 32-byte header.
    assert.equal(grown.bytes, 32 + 2000 * (24 + 4096));
    assert.ok(grown.before < grown.bytes, `the WAL was ${grown.before} bytes before`);
    assert.ok(walSize() >= grown.bytes, `the WAL is ${walSize()} bytes`);

    const observer = new Database(file, { readonly: true });
    t.after(() => observer.close());
    assert.equal(
      observer.prepare(`SELECT count(*) FROM sqlite_schema WHERE name = 'wal_presize'`).pluck().get(),
      0,
      'the scratch table was rolled back',
    );
    assert.deepEqual(observer.prepare('SELECT name FROM bookmarks').pluck().all(), ['kept']);

    // Another process starting on the same file finds it grown and writes nothing.
    const second = new SqliteStore({ file });
    t.after(() => second.close());
    await second.migrate();
    const again = second.presizeWal();
    assert.ok(again.before >= again.bytes && again.after === again.before, JSON.stringify(again));

    // Enough creates for several autocheckpoints (1000 frames) and WAL restarts: the file keeps its
    // size (journal_size_limit may trim the rolled-back frames past it, never below).
    // The WAL header's checkpoint sequence number (bytes 12–15) counts its restarts.
    const restarts = () => readFileSync(`${file}-wal`).readUInt32BE(12);
    const restartsBefore = restarts();
    const sizes = new Set<number>();
    for (let i = 0; i < 1500; i++) {
      await (i % 2 === 0 ? store : second).create({ name: `n${i}`, uri: `https://example.com/${i}`, title: null, checkStatus: 200 });
      sizes.add(walSize());
    }
    const links = observer.prepare('SELECT count(*) FROM bookmarks').pluck().get();
    assert.equal(links, 1501);
    assert.ok(restarts() - restartsBefore >= 2, `the WAL restarted ${restarts() - restartsBefore} times`);
    assert.ok(Math.min(...sizes) >= grown.bytes, `the WAL went down to ${Math.min(...sizes)} bytes`);
    assert.ok(Math.max(...sizes) <= grown.after, `the WAL grew to ${Math.max(...sizes)} bytes`);
  });
});
