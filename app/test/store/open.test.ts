import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { escapeIdentifier } from 'pg';
import { openStore } from '../../src/store/open.ts';
import { postgresSkip, scratchSchema, testDatabaseUrl } from './pg-env.ts';

test('without a database URL: a migrated SQLite file in the data directory, created if missing', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'linkyard-open-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const dataDir = join(root, 'nested', 'data');

  const store = await openStore({ dataDir, databaseUrl: undefined });
  t.after(() => store.close());
  assert.equal(store.engine, 'sqlite');
  assert.ok(existsSync(join(dataDir, 'linkyard.sqlite')));
  assert.equal(await store.count(), 0);
});

test('SQLite: the WAL is grown to its working size before the store is handed out, unless SQLITE_WAL_PRESIZE is off', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'linkyard-open-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const walSize = (dataDir: string) => statSync(join(dataDir, 'linkyard.sqlite-wal'), { throwIfNoEntry: false })?.size ?? 0;

  const presized = await openStore({ dataDir: join(root, 'on'), databaseUrl: undefined });
  t.after(() => presized.close());
  assert.ok(walSize(join(root, 'on')) >= 8 * 1024 * 1024, `${walSize(join(root, 'on'))} bytes`);

  const plain = await openStore({ dataDir: join(root, 'off'), databaseUrl: undefined, sqliteWalPresize: false });
  t.after(() => plain.close());
  assert.ok(walSize(join(root, 'off')) < 1024 * 1024, `${walSize(join(root, 'off'))} bytes`);
});

test('a data directory that cannot be created fails', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'linkyard-open-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await openStore({ dataDir: join(root, 'data'), databaseUrl: undefined }).then((store) => store.close());
  // linkyard.sqlite is a file, so nothing can be created beneath it.
  await assert.rejects(openStore({ dataDir: join(root, 'data', 'linkyard.sqlite', 'x'), databaseUrl: undefined }));
});

describe('with a database URL', { skip: postgresSkip }, () => {
  test('a migrated PostgreSQL store', async (t) => {
    const { schema, admin } = await scratchSchema(t);
    await admin.query(`CREATE SCHEMA ${escapeIdentifier(schema)}`);

    // libpq's `options` parameter is how a deployment would pick a schema through DATABASE_URL.
    const url = new URL(testDatabaseUrl);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const store = await openStore({ dataDir: '/nonexistent', databaseUrl: url.href });
    t.after(() => store.close());
    assert.equal(store.engine, 'postgres');
    assert.equal(await store.count(), 0);
    const { rows } = await admin.query<{ count: string }>(
      `SELECT count(*) AS count FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'bookmarks'`,
      [schema],
    );
    assert.equal(rows[0]?.count, '1');
  });
});
