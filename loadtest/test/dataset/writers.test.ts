import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../../app/src/store/sqlite.ts';
import { tempDir } from '../../../test/support/index.ts';
import { generateDataset } from '../../src/dataset/generate.ts';
import { type DatasetPlan, DEFAULT_END_MS } from '../../src/dataset/plan.ts';
import { bookmarksTable } from '../../src/dataset/tables.ts';
import { sqliteFile } from '../../src/dataset/writers.ts';
import { Progress } from '../../src/progress.ts';

const plan: DatasetPlan = { links: 1_500, visits: 15_000, seed: 7, endMs: DEFAULT_END_MS };

/** What the app's triggers derive from the bookmarks: the search index and link_checks, in id order. */
function derivedRows(file: string) {
  const db = new Database(file, { readonly: true });
  try {
    return {
      search: db.prepare('SELECT rowid, text FROM bookmarks_search ORDER BY rowid').all(),
      checks: db.prepare('SELECT bookmark_id, checked_at, check_failures FROM link_checks ORDER BY bookmark_id').all(),
      triggers: db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name`).all(),
    };
  } finally {
    db.close();
  }
}

test('a generated SQLite store holds what the app’s insert triggers would have written, and keeps the triggers', async (t) => {
  const dir = tempDir(t);
  const generated = join(dir, 'generated');
  await generateDataset({ plan, store: { engine: 'sqlite', dataDir: generated }, resume: false, progress: new Progress({ quiet: true }) });

  // The same bookmarks inserted row by row into a store the app migrated: its triggers fire.
  const reference = join(dir, 'reference.sqlite');
  const store = new SqliteStore({ file: reference });
  await store.migrate();
  await store.close();
  const db = new Database(reference);
  const table = bookmarksTable(plan);
  const columns = table.columns.map((column) => column.name);
  const insert = db.prepare(`INSERT INTO bookmarks (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
  db.transaction(() => {
    for (let index = 0; index < plan.links; index++) insert.run(...table.row(index));
  })();
  db.close();

  const made = derivedRows(sqliteFile(generated));
  const expected = derivedRows(reference);
  assert.equal(made.search.length, plan.links, 'a search row a link');
  assert.equal(made.checks.length, plan.links, 'a link_checks row a link');
  assert.deepEqual(made.search, expected.search);
  assert.deepEqual(made.checks, expected.checks);
  assert.deepEqual(made.triggers, expected.triggers, 'the triggers are back as the migrations made them');

  // And they fire: a link the app creates on the generated store is found by search.
  const app = new SqliteStore({ file: sqliteFile(generated) });
  t.after(() => app.close());
  await app.migrate();
  await app.create({ name: 'fresh-after-generation', uri: 'https://example.com/zzqqxx', title: null, checkStatus: 200 });
  const page = await app.search({ query: 'zzqqxx', limit: 10 });
  assert.deepEqual(
    page.items.map((bookmark) => bookmark.name),
    ['fresh-after-generation'],
  );
});
