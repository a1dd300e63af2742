import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { tempDir } from '../../../test/support/index.ts';
import { tableDigest } from '../../src/data/checksum.ts';
import { parseLocation } from '../../src/data/location.ts';
import { MoveRefusedError, moveStore } from '../../src/data/move.ts';
import { PostgresTables } from '../../src/data/postgres-tables.ts';
import { SqliteTables } from '../../src/data/sqlite-tables.ts';
import type { TableAccess } from '../../src/data/table-access.ts';
import { TABLES } from '../../src/data/tables.ts';
import { PostgresStore } from '../../src/store/postgres.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { postgresSkip } from '../store/pg-env.ts';
import { fillStore, postgresSchemaUrl } from './fixture.ts';

const SCRIPT = new URL('../../src/cli/move.ts', import.meta.url).pathname;
const LINKS = 150;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The command, with the environment's store (DATA_DIR, DATABASE_URL) as `env` says. */
function move(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], { env: { ...process.env, DATABASE_URL: '', ...env } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

/** Starts the move and SIGKILLs it as soon as it prints a line `kill` matches; resolves with what it printed. */
function moveKilled(args: string[], kill: (line: string) => boolean): Promise<string[]> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [SCRIPT, ...args], { env: { ...process.env, DATABASE_URL: '' } });
  const lines: string[] = [];
  return new Promise((resolve) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      if (kill(line)) child.kill('SIGKILL');
    });
    child.on('close', () => resolve(lines));
  });
}

async function digests(access: TableAccess): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  for (const table of TABLES) {
    const digest = await tableDigest(access, table, 37);
    result.set(table.name, `${digest.rows} ${digest.sha256}`);
  }
  return result;
}

async function rowsIn(access: TableAccess): Promise<number> {
  let rows = 0;
  for (const table of TABLES) rows += await access.count(table);
  return rows;
}

describe('npm run move', () => {
  it('SQLite → PostgreSQL SIGKILLed halfway and resumed, then back to SQLite: every table identical', { skip: postgresSkip }, async (t) => {
    const dir = tempDir(t);
    const sourceFile = join(dir, 'source.sqlite');
    const source = new SqliteStore({ file: sourceFile });
    await source.migrate();
    await fillStore(source, LINKS);
    await source.close();
    const url = await postgresSchemaUrl(t);

    const sourceTables = new SqliteTables(sourceFile);
    t.after(() => sourceTables.close());
    const expected = await digests(sourceTables);
    const sourceRows = await rowsIn(sourceTables);
    // Every table has rows, or the drill proves less than it says.
    for (const table of TABLES) assert.ok((await sourceTables.count(table)) > 0, `${table.name} is empty in the fixture`);

    // Killed after its third batch of links: one transaction per batch of 20 rows.
    const killed = await moveKilled(['--from', sourceFile, '--to', url, '--batch', '20'], (line) => line.startsWith('bookmarks: 60/'));
    assert.ok(
      killed.some((line) => line.startsWith('bookmarks: 60/')),
      killed.join('\n'),
    );
    assert.ok(!killed.some((line) => line.startsWith('Done')), 'the move finished before the kill');
    const partial = await PostgresTables.connect(url);
    t.after(() => partial.close());
    const copiedBeforeKill = await rowsIn(partial);
    assert.ok(copiedBeforeKill > 0 && copiedBeforeKill < sourceRows, `${copiedBeforeKill} of ${sourceRows} rows copied at the kill`);

    const resumed = await move(['--from', sourceFile, '--to', url, '--batch', '20']);
    assert.equal(resumed.code, 0, resumed.stderr + resumed.stdout);
    assert.match(resumed.stdout, /Resuming: the target holds the source's first rows of bookmarks/);
    assert.doesNotMatch(resumed.stdout, /DIFFERS/);
    assert.deepEqual(await digests(partial), expected);

    // The target works as a store: visits, stats, search (the trigram index built), ids not reused.
    const pgStore = new PostgresStore({ connectionString: url });
    t.after(() => pgStore.close());
    const link = await pgStore.get('link-1');
    assert.equal(link?.visits, 2);
    assert.equal((await pgStore.search({ query: 'zürich', limit: 5 })).items.length > 0, true);
    const client = new Client({ connectionString: url });
    await client.connect();
    t.after(() => client.end());
    const sequence = await client.query<{ last: string }>(
      `SELECT pg_sequence_last_value(pg_get_serial_sequence('bookmarks', 'id')::regclass)::text AS last`,
    );
    assert.equal(sequence.rows[0]?.last, String(LINKS));

    // And back: PostgreSQL → a new SQLite store, the configured one (DATA_DIR), identical to where it started.
    const backFile = join(dir, 'back', 'linkyard.sqlite');
    const back = await move(['--from', url, '--batch', '50'], { DATA_DIR: join(dir, 'back') });
    assert.equal(back.code, 0, back.stderr + back.stdout);
    const backTables = new SqliteTables(backFile);
    t.after(() => backTables.close());
    assert.deepEqual(await digests(backTables), expected);
    const backStore = new SqliteStore({ file: backFile });
    t.after(() => backStore.close());
    await backStore.migrate();
    assert.equal((await backStore.search({ query: 'ängelholm', limit: 5 })).items.length > 0, true);
    await backStore.create({ name: 'after-move', uri: 'https://example.com/new', title: null, checkStatus: 200 });
    const db = new Database(backFile, { readonly: true });
    t.after(() => db.close());
    assert.equal(db.prepare(`SELECT id FROM bookmarks WHERE name = 'after-move'`).pluck().get(), LINKS + 1);
  });

  it('refuses a target holding other data, writing nothing to it', async (t) => {
    const dir = tempDir(t);
    const source = new SqliteStore({ file: join(dir, 'source.sqlite') });
    await source.migrate();
    await fillStore(source, 10);
    await source.close();
    const target = new SqliteStore({ file: join(dir, 'target.sqlite') });
    await target.migrate();
    await target.create({ name: 'theirs', uri: 'https://example.org/', title: null, checkStatus: 200 });
    await target.close();

    const before = new SqliteTables(join(dir, 'target.sqlite'));
    const targetBefore = await digests(before);
    await before.close();
    const refused = await move(['--from', join(dir, 'source.sqlite'), '--to', join(dir, 'target.sqlite')]);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /holds 1 row\(s\) in bookmarks that are not the source's/);
    const after = new SqliteTables(join(dir, 'target.sqlite'));
    t.after(() => after.close());
    assert.deepEqual(await digests(after), targetBefore);
  });

  it('refuses a store with a table or column it would not copy (from a later build), writing nothing', async (t) => {
    const dir = tempDir(t);
    const source = new SqliteStore({ file: join(dir, 'source.sqlite') });
    await source.migrate();
    await fillStore(source, 3);
    await source.close();
    const db = new Database(join(dir, 'source.sqlite'));
    db.exec('ALTER TABLE bookmarks ADD COLUMN later TEXT; CREATE TABLE later_things (id INTEGER PRIMARY KEY)');
    db.close();
    await assert.rejects(
      moveStore(parseLocation(join(dir, 'source.sqlite')), parseLocation(join(dir, 'target.sqlite')), { batchRows: 100, out: () => {} }),
      (error: Error) => {
        assert.ok(error instanceof MoveRefusedError);
        assert.match(error.message, /has bookmarks\.later, later_things, which this build's move does not copy/);
        return true;
      },
    );
    const target = new SqliteTables(join(dir, 'target.sqlite'));
    t.after(() => target.close());
    assert.equal(await rowsIn(target), 0);
  });

  it('says what is wrong with what was asked', async () => {
    const usage = await move(['--from', 'a.sqlite', '--to', 'b.sqlite', '--batch', '0']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--batch must be a whole number from 1 to 100000, got '0'\n\nUsage:/);
  });
});
