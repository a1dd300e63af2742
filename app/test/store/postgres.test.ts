import assert from 'node:assert/strict';
import { after, describe, type TestContext, test } from 'node:test';
import { escapeIdentifier, Pool } from 'pg';
import { decodeSearchCursor, encodeCursor } from '../../src/store/cursor.ts';
import { PostgresStore } from '../../src/store/postgres.ts';
import { FIRST_SCAN_WINDOW } from '../../src/store/search-scan.ts';
import { SearchIndexingError } from '../../src/store/types.ts';
import { accessContract } from './access-contract.ts';
import { storeContract } from './contract.ts';
import { postgresSkip, testDatabaseUrl, uniqueSchema } from './pg-env.ts';
import { recheckContract } from './recheck-contract.ts';

describe('PostgresStore', { skip: postgresSkip }, () => {
  const admin = new Pool({ connectionString: testDatabaseUrl, max: 2 });
  const created: string[] = [];
  after(async () => {
    for (const schema of created) await admin.query(`DROP SCHEMA IF EXISTS ${escapeIdentifier(schema)} CASCADE`);
    await admin.end();
  });

  function freshSchema(): string {
    const schema = uniqueSchema();
    created.push(schema);
    return schema;
  }

  const harness = {
    async fresh() {
      const schema = freshSchema();
      return {
        open: () => new PostgresStore({ connectionString: testDatabaseUrl, schema }),
        workerSpec: { engine: 'postgres', connectionString: testDatabaseUrl, schema } as const,
      };
    },
  };
  storeContract(harness);
  accessContract(harness);
  recheckContract(harness);

  test('search is SearchIndexingError until the trigram index is built concurrently after start-up; at 100 000 links it answers in milliseconds', {
    timeout: 120_000,
  }, async (t) => {
    const schema = freshSchema();
    const store = new PostgresStore({ connectionString: testDatabaseUrl, schema });
    t.after(() => store.close());
    await store.migrate();
    await admin.query(
      `INSERT INTO ${escapeIdentifier(schema)}.bookmarks (name, uri, title, check_status)
       SELECT 'n' || i, 'https://example.com/' || CASE WHEN i % 10000 = 0 THEN 'needle' ELSE md5(i::text) END, 'Page ' || i, 200
       FROM generate_series(1, 100000) AS i`,
    );
    await assert.rejects(store.search({ query: 'needle', limit: 5 }), SearchIndexingError);
    const buildStarted = performance.now();
    assert.equal(await store.searchIndexStep(), true);
    const buildMs = performance.now() - buildStarted;

    const timed = async (query: string) => {
      const started = performance.now();
      // A budget beyond doubt: this measures the index, not the fallback scan.
      const page = await store.search({ query, limit: 50, budgetMs: 4000 });
      return { names: page.items.map((item) => item.name), ms: performance.now() - started };
    };
    const rare = await timed('needle');
    assert.deepEqual(rare.names, ['n100000', 'n90000', 'n80000', 'n70000', 'n60000', 'n50000', 'n40000', 'n30000', 'n20000', 'n10000']);
    const common = await timed('page 9');
    assert.equal(common.names.length, 50);
    const none = await timed('no such text');
    assert.deepEqual(none.names, []);
    t.diagnostic(
      `100 000 links: index built in ${Math.round(buildMs)} ms; search rare ${rare.ms.toFixed(1)} ms, common ${common.ms.toFixed(1)} ms, none ${none.ms.toFixed(1)} ms`,
    );
    for (const { ms } of [rare, common, none]) assert.ok(ms < 1000, `a search took ${ms} ms`);

    // The build leaves the indexed expression's statistics behind, so the planner knows a common
    // term is common and reads newest first until a page is full, not every row that holds it.
    const plan = await admin.query<{ 'QUERY PLAN': Array<{ Plan: unknown }> }>(
      `EXPLAIN (FORMAT JSON) SELECT id FROM ${escapeIdentifier(schema)}.bookmarks
       WHERE (name || ' ' || uri || ' ' || coalesce(title, '')) ILIKE '%page 9%' ORDER BY id DESC LIMIT 50`,
    );
    const text = JSON.stringify(plan.rows[0]?.['QUERY PLAN']);
    assert.match(text, /"Index Name":"bookmarks_pkey"/, `a common term's first page: ${text}`);
    assert.doesNotMatch(text, /Bitmap/, `a common term's first page: ${text}`);
  });

  /** Links n1…n3000 (ids 1…3000) on a schema of their own, those where `matching` (SQL on i) holds titled with `query`, the index built. */
  async function phraseStore(t: TestContext, matching: string, maxConnections: number) {
    const schema = freshSchema();
    const table = `${escapeIdentifier(schema)}.bookmarks`;
    const store = new PostgresStore({ connectionString: testDatabaseUrl, schema, maxConnections });
    t.after(() => store.close());
    await store.migrate();
    await admin.query(
      `INSERT INTO ${table} (name, uri, title, check_status)
       SELECT 'n' || i, 'https://example.com/' || i, CASE WHEN ${matching} THEN 'Kernel tuning report' ELSE 'Kernel notes' END, 200
       FROM generate_series(1, 3000) AS i`,
    );
    assert.equal(await store.searchIndexStep(), true);
    return { store, table, query: 'kernel tuning report' };
  }

  test('a search the index cannot answer within its budget scans the newest links for as long again, answers a partial page, and keeps its connection', async (t) => {
    const { store, table, query } = await phraseStore(t, 'i % 60 = 0', 2);
    const matches = async (fromId: string) =>
      (
        await admin.query<{ name: string }>(`SELECT name FROM ${table} WHERE id >= ${fromId} AND title ILIKE '%${query}%' ORDER BY id DESC`)
      ).rows.map((row) => row.name);
    const firstWindow = await matches(`(SELECT max(id) - ${FIRST_SCAN_WINDOW} + 1 FROM ${table})`);
    assert.ok(firstWindow.length > 0 && firstWindow.length < 50);

    // Budget 0: no index, one window of the newest ids.
    const scanned = await store.search({ query, limit: 50, budgetMs: 0 });
    assert.deepEqual([scanned.items.map((item) => item.name), scanned.partial], [firstWindow, true]);
    assert.notEqual(scanned.nextCursor, null);

    // The index cannot answer while another transaction holds the table: the server cancels it at
    // the budget, the scan waits for the lock, runs its first window past its own deadline, stops.
    const locker = await admin.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
      const searching = store.search({ query, limit: 50, budgetMs: 50 });
      await new Promise((resolve) => setTimeout(resolve, 400));
      await locker.query('COMMIT');
      const cutShort = await searching;
      assert.deepEqual([cutShort.items.map((item) => item.name), cutShort.partial], [firstWindow, true]);
    } finally {
      locker.release();
    }
    // Both connections are still good: the cancelled one was rolled back and kept.
    for (let i = 0; i < 4; i++) {
      const whole = await store.search({ query, limit: 50, budgetMs: 4000 });
      assert.deepEqual([whole.items.length, whole.partial, whole.nextCursor], [50, false, null]);
    }
  });

  test('the page after a partial one scans without asking the index again; a plain cursor asks it first', async (t) => {
    const { store, table, query } = await phraseStore(t, 'i IN (100, 3000)', 1);
    const first = await store.search({ query, limit: 50, budgetMs: 0 });
    assert.deepEqual([first.items.map((item) => item.name), first.partial], [['n3000'], true]);
    const scanning = first.nextCursor ?? '';
    const plain = encodeCursor(decodeSearchCursor(scanning).before);

    // With the table locked, the search waits in its first statement: which one it is says whether
    // it asked the index (budget 1 s: the lock is released long before the server would cancel it).
    const firstStatement = async (cursor: string) => {
      const locker = await admin.connect();
      try {
        await locker.query('BEGIN');
        await locker.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
        const lockerPid = (await locker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
        const searching = store.search({ query, limit: 50, budgetMs: 1000, cursor });
        let waiting: string | undefined;
        for (let tries = 0; tries < 100 && waiting === undefined; tries++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          const { rows } = await admin.query<{ query: string }>(
            "SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FROM bookmarks%' AND pid <> $1",
            [lockerPid],
          );
          waiting = rows[0]?.query;
        }
        await locker.query('COMMIT');
        const page = await searching;
        assert.deepEqual([page.items.map((item) => item.name), page.partial, page.nextCursor], [['n100'], false, null]);
        return waiting ?? 'none seen';
      } finally {
        locker.release();
      }
    };
    assert.match(await firstStatement(scanning), /window_matches/, 'after a partial page: the scan');
    assert.doesNotMatch(await firstStatement(plain), /window_matches/, 'a plain cursor: the index first');
  });

  test('tables live in the given schema and the migration is recorded', async (t) => {
    const schema = freshSchema();
    const store = new PostgresStore({ connectionString: testDatabaseUrl, schema });
    t.after(() => store.close());
    await store.migrate();
    await store.migrate();

    const { rows } = await admin.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [schema],
    );
    assert.deepEqual(
      rows.map((row) => row.table_name),
      [
        'api_keys',
        'audit_log',
        'blocked_hosts',
        'bookmarks',
        'disabled_links',
        'leases',
        'schema_migrations',
        'sessions',
        'visit_batches',
        'visit_days',
        'visit_dimensions',
        'visit_hours',
      ],
    );
    const versions = await admin.query<{ version: number }>(`SELECT version FROM ${escapeIdentifier(schema)}.schema_migrations`);
    assert.deepEqual(versions.rows, [
      { version: 1 },
      { version: 2 },
      { version: 3 },
      { version: 4 },
      { version: 5 },
      { version: 6 },
      { version: 7 },
      { version: 8 },
    ]);
    // Room for HOT updates of the visit count (decision 0021).
    const options = await admin.query<{ reloptions: string[] | null }>(`SELECT reloptions FROM pg_class WHERE oid = to_regclass($1)`, [
      `${escapeIdentifier(schema)}.bookmarks`,
    ]);
    assert.deepEqual(options.rows[0]?.reloptions, ['fillfactor=90']);
  });

  test('separate pools in one process race to migrate and create', async (t) => {
    const schema = freshSchema();
    const stores = Array.from({ length: 10 }, () => new PostgresStore({ connectionString: testDatabaseUrl, schema }));
    t.after(() => Promise.all(stores.map((store) => store.close())));
    await Promise.all(stores.map((store) => store.migrate()));
    const outcomes = await Promise.all(
      stores.map((store, index) => store.create({ name: 'contested', uri: `https://example.com/${index}`, title: null, checkStatus: 200 })),
    );
    const created = outcomes.filter((outcome) => outcome.kind === 'created');
    const conflicts = outcomes.filter((outcome) => outcome.kind === 'conflict');
    assert.equal(created.length, 1);
    assert.equal(conflicts.length, 9);
  });

  test('opens its warm connections before it is ready, and keeps them while idle', async (t) => {
    const applicationName = `linkyard-warm-${process.pid}-${Date.now()}`;
    const url = new URL(testDatabaseUrl);
    url.searchParams.set('application_name', applicationName);
    const store = new PostgresStore({ connectionString: url.href, schema: freshSchema() });
    t.after(() => store.close());
    const connections = async () =>
      (await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [applicationName]))
        .rows[0]?.n;
    assert.equal(await connections(), 0);
    await store.migrate();
    assert.equal(await connections(), 2);
    // pg's pool closes connections idle for 10 s, but never below its minimum.
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    assert.equal(await connections(), 2);
  });

  test('rejects a schema name that is not a plain identifier', () => {
    assert.throws(() => new PostgresStore({ connectionString: testDatabaseUrl, schema: 'x; DROP TABLE y' }), /invalid schema/);
  });
});
