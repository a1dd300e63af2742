import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { tempDir } from '../../../test/support/index.ts';
import { findTool } from '../../src/data/postgres-backup.ts';
import { BackupRefusedError, backupSqlite, restoreSqlite } from '../../src/data/sqlite-backup.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';

// What backup and restore refuse, each with nothing changed; the drills (stack/test/backup-drill*)
// cover the ways they succeed.

async function storeWithLinks(file: string, links: number): Promise<void> {
  const store = new SqliteStore({ file });
  await store.migrate();
  for (let i = 0; i < links; i++) await store.create({ name: `l${i}`, uri: `https://example.com/${i}`, title: null, checkStatus: 200 });
  await store.close();
}

const quiet = () => {};

describe('backup and restore refuse', () => {
  it('a backup onto an existing file, leaving it as it was', async (t) => {
    const dir = tempDir(t);
    await storeWithLinks(join(dir, 'live.sqlite'), 2);
    writeFileSync(join(dir, 'taken'), 'mine');
    await assert.rejects(backupSqlite(join(dir, 'live.sqlite'), join(dir, 'taken'), quiet), {
      name: 'Error',
      message: /exists already: name another --output/,
    });
    assert.equal(readFileSync(join(dir, 'taken'), 'utf8'), 'mine');
  });

  it('a restore into a store holding links, and into one another connection has open (a stack), changing neither', async (t) => {
    const dir = tempDir(t);
    await storeWithLinks(join(dir, 'live.sqlite'), 3);
    await backupSqlite(join(dir, 'live.sqlite'), join(dir, 'backup.sqlite'), quiet);

    await storeWithLinks(join(dir, 'full.sqlite'), 1);
    await assert.rejects(restoreSqlite(join(dir, 'backup.sqlite'), join(dir, 'full.sqlite'), quiet), BackupRefusedError);
    const full = new Database(join(dir, 'full.sqlite'), { readonly: true });
    assert.equal(full.prepare('SELECT count(*) FROM bookmarks').pluck().get(), 1);
    full.close();

    // Empty, but a process (a stack) has it open: replacing the file would leave it writing to the old one.
    await storeWithLinks(join(dir, 'open.sqlite'), 0);
    const holder = new Database(join(dir, 'open.sqlite'));
    t.after(() => holder.close());
    holder.prepare('SELECT count(*) FROM bookmarks').get();
    await assert.rejects(
      restoreSqlite(join(dir, 'backup.sqlite'), join(dir, 'open.sqlite'), quiet),
      /open in another process: stop the stack/,
    );
    holder.close();
    // Closed, the same empty store is restored into.
    const restored = await restoreSqlite(join(dir, 'backup.sqlite'), join(dir, 'open.sqlite'), quiet);
    assert.equal(restored.links, 3);
  });

  it('a damaged backup, before touching the target', async (t) => {
    const dir = tempDir(t);
    await storeWithLinks(join(dir, 'live.sqlite'), 50);
    await backupSqlite(join(dir, 'live.sqlite'), join(dir, 'backup.sqlite'), quiet);
    // A page in the middle overwritten: the header still says SQLite.
    const bytes = readFileSync(join(dir, 'backup.sqlite'));
    bytes.fill(0x5a, 4096 * 2, 4096 * 3);
    writeFileSync(join(dir, 'damaged.sqlite'), bytes);
    await assert.rejects(restoreSqlite(join(dir, 'damaged.sqlite'), join(dir, 'target', 'linkyard.sqlite'), quiet));
    assert.equal(existsSync(join(dir, 'target', 'linkyard.sqlite')), false);
    assert.equal(existsSync(join(dir, 'target', 'linkyard.sqlite.restoring')), false);
  });

  it('a pg_dump of another major version than the server, saying what to do', async () => {
    await assert.rejects(findTool('pg_dump', 99, undefined), (error: Error) => {
      assert.ok(error instanceof BackupRefusedError);
      assert.match(error.message, /the server is PostgreSQL 99 and needs the pg_dump of version 99/);
      assert.match(error.message, /docker compose exec postgres pg_dump/);
      return true;
    });
  });
});
