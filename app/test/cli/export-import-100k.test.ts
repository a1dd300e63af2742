/**
 * The drill at test scale: 100 000 links (with visits and rollups) exported, imported into
 * an empty store and exported again give the same bytes, on SQLite and on PostgreSQL. Kept out of
 * the quick CLI file for its time (about 20 s a store on a 2-core VM).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { tempDir } from '../../../test/support/index.ts';
import { postgresSkip } from '../store/pg-env.ts';
import { fill, postgresTarget, runCli, sampleLinks, sqliteTarget, type TransferTarget } from './transfer-support.ts';

const LINKS = 100_000;

async function roundTrip(t: TestContext, source: TransferTarget, empty: TransferTarget): Promise<void> {
  await fill(await source.open(), sampleLinks(LINKS));
  const dir = tempDir(t);
  const first = join(dir, 'first.ndjson');
  const second = join(dir, 'second.ndjson');

  const exported = await runCli('export', source, ['--format', 'ndjson', '--output', first]);
  assert.equal(exported.code, 0, exported.stderr);
  assert.match(exported.stderr, new RegExp(`export: ${LINKS} links written to `));
  const imported = await runCli('import', empty, [first]);
  assert.equal(imported.code, 0, imported.stderr + imported.stdout);
  assert.match(
    imported.stdout,
    new RegExp(`^Imported ${LINKS}, skipped 0 \\(already there\\), conflicts 0, overwritten 0, bad rows 0; ${LINKS} rows read\\.$`, 'm'),
  );
  const again = await runCli('export', empty, ['--format', 'ndjson', '--output', second]);
  assert.equal(again.code, 0, again.stderr);

  const [a, b] = await Promise.all([readFile(first), readFile(second)]);
  assert.equal(a.toString('utf8').split('\n').length, LINKS + 3, 'header, links, footer, final newline');
  assert.ok(a.equals(b), 'the second export is byte-identical to the first');
  for (const line of [exported.stderr, imported.stderr, again.stderr]) t.diagnostic(line.trim().split('\n').at(-1) ?? '');
}

describe('export → import → export at 100 000 links', () => {
  it('is byte-identical on SQLite', { timeout: 300_000 }, async (t) => {
    await roundTrip(t, sqliteTarget(t), sqliteTarget(t));
  });

  it('is byte-identical on PostgreSQL', { skip: postgresSkip, timeout: 300_000 }, async (t) => {
    await roundTrip(t, await postgresTarget(t), await postgresTarget(t));
  });
});
