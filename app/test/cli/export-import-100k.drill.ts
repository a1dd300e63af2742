/**
 * The drills at test scale: 100 000 links (with visits and rollups) exported, imported
 * into an empty store and exported again give the same bytes, on SQLite and on PostgreSQL; a
 * SQLite store moved into PostgreSQL exports the same bytes; a 64 MB line is refused in bounded
 * memory; an import killed mid-way leaves whole links and finishes when run again. Kept out of the
 * quick file (export-import.test.ts) for their time: about a minute and a half.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { describe, it, type TestContext } from 'node:test';
import { tempDir } from '../../../test/support/index.ts';
import { exportStream } from '../../src/services/export.ts';
import { postgresSkip } from '../store/pg-env.ts';
import { fill, HEADER, line, names, postgresTarget, runCli, sampleLinks, sqliteTarget, type TransferTarget } from './transfer-support.ts';

const LINKS = 100_000;
const SMALL_HEAP = ['--max-old-space-size=48'];

async function roundTrip(t: TestContext, source: TransferTarget, empty: TransferTarget): Promise<void> {
  await fill(await source.open(), sampleLinks(LINKS));
  const dir = tempDir(t);
  const first = join(dir, 'first.ndjson');
  const second = join(dir, 'second.ndjson');

  // A heap far smaller than 100 000 links would need: the commands hold a page (a batch) at a time, not the store.
  const exported = await runCli('export', source, ['--format', 'ndjson', '--output', first], { nodeOptions: SMALL_HEAP });
  assert.equal(exported.code, 0, exported.stderr);
  assert.match(exported.stderr, new RegExp(`export: ${LINKS} links written to `));
  const imported = await runCli('import', empty, [first], { nodeOptions: SMALL_HEAP });
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

describe('export and import drills: 100 000 links, SQLite to PostgreSQL, a 64 MB line, a kill mid-import', () => {
  it('is byte-identical on SQLite', { timeout: 300_000 }, async (t) => {
    await roundTrip(t, sqliteTarget(t), sqliteTarget(t));
  });

  it('is byte-identical on PostgreSQL', { skip: postgresSkip, timeout: 300_000 }, async (t) => {
    await roundTrip(t, await postgresTarget(t), await postgresTarget(t));
  });

  it('moves SQLite to PostgreSQL through the NDJSON export: the same bytes out of both', { skip: postgresSkip }, async (t) => {
    const source = sqliteTarget(t);
    const target = await postgresTarget(t);
    await fill(await source.open(), sampleLinks(120));
    const dir = tempDir(t);
    assert.equal((await runCli('export', source, ['--format', 'ndjson', '--output', join(dir, 'links.ndjson')])).code, 0);
    assert.equal((await runCli('import', target, [join(dir, 'links.ndjson')])).code, 0);
    assert.equal((await runCli('export', target, ['--format', 'ndjson'])).stdout, await readFile(join(dir, 'links.ndjson'), 'utf8'));
  });

  it('refuses a 64 MB line without holding it: NDJSON goes on after it, CSV stops there with the rows before written', {
    timeout: 120_000,
  }, async (t) => {
    const LINE = 64 * 1024 * 1024;
    const CHUNK = Buffer.alloc(1024 * 1024, 'a');
    const long = function* (before: string, after: string): Generator<Buffer | string> {
      yield before;
      for (let sent = 0; sent < LINE; sent += CHUNK.length) yield CHUNK;
      yield after;
    };
    const ndjsonTarget = sqliteTarget(t);
    const ndjson = await runCli('import', ndjsonTarget, ['-', '--max-line-bytes', String(1024 * 1024)], {
      stdin: long(`${HEADER}\n${line('before')}\n{"name":"huge","title":"`, `"}\n${line('after')}\n{"end":{"links":3}}\n`),
    });
    assert.equal(ndjson.code, 1, ndjson.stderr);
    assert.match(ndjson.stdout, /^line 3: is longer than 1048576 bytes, the limit: refused without being read/m);
    assert.match(ndjson.stdout, /^Imported 2, skipped 0 \(already there\), conflicts 0, overwritten 0, bad rows 1; 3 rows read\.$/m);
    assert.deepEqual(await names(ndjsonTarget), ['before', 'after']);
    const small = await runCli('import', sqliteTarget(t), ['-'], { stdin: [`${HEADER}\n${line('small')}\n{"end":{"links":1}}\n`] });
    assert.equal(small.code, 0, small.stdout);
    assert.ok(
      ndjson.peakRss < small.peakRss + LINE,
      `the line was not held: peak ${Math.round(ndjson.peakRss / 2 ** 20)} MiB against ${Math.round(small.peakRss / 2 ** 20)} MiB for a one-line file`,
    );

    const csvTarget = sqliteTarget(t);
    const csv = await runCli('import', csvTarget, ['-', '--format', 'csv'], {
      stdin: long('name,uri,title\nbefore,https://example.com/b,x\nhuge,https://example.com/h,', '\nafter,https://example.com/a,x\n'),
    });
    assert.equal(csv.code, 1);
    assert.match(
      csv.stderr,
      /import: -: line 3: a record is longer than 1048576 bytes, the limit: refused without being read .* The import stopped there; the rows before it are written\./,
    );
    assert.match(csv.stdout, /^Imported 1, /m);
    assert.deepEqual(await names(csvTarget), ['before']);
    assert.ok(csv.peakRss < small.peakRss + LINE, `peak ${Math.round(csv.peakRss / 2 ** 20)} MiB`);
    const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
    t.diagnostic(
      `peak RSS: one-line file ${mib(small.peakRss)}, NDJSON with the 64 MiB line ${mib(ndjson.peakRss)}, CSV ${mib(csv.peakRss)}`,
    );
  });

  for (const engine of ['sqlite', 'postgres'] as const) {
    it(`an import killed (SIGKILL) mid-way leaves whole batches of whole links, and running it again finishes the job (${engine})`, {
      skip: engine === 'postgres' && postgresSkip,
      timeout: 120_000,
    }, async (t) => {
      // Enough that the import is still writing when the kill lands: 20 000 links took PostgreSQL
      // 0.7 s, and the import ended before the test had read its first progress line and killed it.
      const LINKS_HERE = 100_000;
      const source = sqliteTarget(t);
      await fill(await source.open(), sampleLinks(LINKS_HERE));
      const file = join(tempDir(t), 'links.ndjson');
      assert.equal((await runCli('export', source, ['--format', 'ndjson', '--output', file])).code, 0);
      const target = engine === 'sqlite' ? sqliteTarget(t) : await postgresTarget(t);

      // Killed as soon as it says a batch is written.
      const killed = await runCli('import', target, [file], { killWhen: (stderr) => /^import: \d+ rows read/m.test(stderr) });
      assert.equal(killed.code, 128 + 9, killed.stderr);
      const store = await target.open();
      const written = await store.count();
      assert.ok(written >= 1000 && written < LINKS_HERE && written % 1000 === 0, `${written} links: whole batches only`);
      const lines = (await readFile(file, 'utf8')).split('\n');
      assert.equal(
        await text(exportStream(store, 'ndjson')),
        [lines[0], ...lines.slice(1, 1 + written), `{"end":{"links":${written}}}`, ''].join('\n'),
        "the links written are the file's first ones, each whole: its fields, visits and rollups",
      );

      const resumed = await runCli('import', target, [file]);
      assert.equal(resumed.code, 0, resumed.stdout);
      assert.match(resumed.stdout, new RegExp(`^Imported ${LINKS_HERE - written}, skipped ${written} \\(already there\\)`, 'm'));
      assert.equal(await text(exportStream(store, 'ndjson')), lines.join('\n'), 'byte-identical to the source once finished');
    });
  }
});
