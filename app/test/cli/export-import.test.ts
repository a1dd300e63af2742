import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { freePort, startTarget, tempDir } from '../../../test/support/index.ts';
import { htmlPage } from '../helpers.ts';
import { postgresSkip } from '../store/pg-env.ts';
import { fill, postgresTarget, runCli, sampleLinks, sqliteTarget, type TransferTarget } from './transfer-support.ts';

const HEADER = '{"format":"linkyard-links","version":1}';

/** A link line as the export writes it, with `fields` changed. */
function line(name: string, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    name,
    uri: `https://example.com/${name}`,
    title: null,
    checkStatus: 200,
    createdAt: '2026-01-02T03:04:05.006Z',
    createdBy: null,
    expiresAt: null,
    maxVisits: null,
    forwardQuery: true,
    visits: 0,
    hours: [],
    days: [],
    dimensions: [],
    ...fields,
  });
}

async function names(target: TransferTarget): Promise<string[]> {
  const store = await target.open();
  const page = await store.exportLinks({ limit: 1000 });
  return page.items.map((item) => item.name);
}

describe('npm run export and npm run import', () => {
  for (const engine of ['sqlite', 'postgres'] as const) {
    it(`export → import into an empty store → export is byte-identical, and a re-run adds nothing (${engine})`, {
      skip: engine === 'postgres' && postgresSkip,
    }, async (t) => {
      const open = () => (engine === 'sqlite' ? Promise.resolve(sqliteTarget(t)) : postgresTarget(t));
      const source = await open();
      const empty = await open();
      await fill(await source.open(), sampleLinks(300));
      const dir = tempDir(t);

      const first = await runCli('export', source, ['--format', 'ndjson', '--output', join(dir, 'a.ndjson')]);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(first.stdout, '', 'a file, not stdout');
      const imported = await runCli('import', empty, [join(dir, 'a.ndjson')]);
      assert.equal(imported.code, 0, imported.stdout + imported.stderr);
      assert.match(
        imported.stdout,
        /^Imported 300, skipped 0 \(already there\), conflicts 0, overwritten 0, bad rows 0; 300 rows read\.$/m,
      );
      assert.match(imported.stdout, /^Creator 'alice' \(100 links\) is no key in this store: the name is kept/m);
      const second = await runCli('export', empty, ['--format', 'ndjson']);
      assert.equal(second.code, 0, second.stderr);
      assert.equal(second.stdout, await readFile(join(dir, 'a.ndjson'), 'utf8'), 'byte-identical (stdout this time)');
      assert.equal(second.stdout.split('\n')[0], HEADER);
      assert.equal(second.stdout.split('\n').at(-2), '{"end":{"links":300}}');

      const rerun = await runCli('import', empty, [join(dir, 'a.ndjson')]);
      assert.equal(rerun.code, 0, rerun.stdout);
      assert.match(rerun.stdout, /^Imported 0, skipped 300 \(already there\), conflicts 0, overwritten 0, bad rows 0; 300 rows read\.$/m);
      assert.equal((await runCli('export', empty, ['--format', 'ndjson'])).stdout, second.stdout, 'nothing added twice');
    });
  }

  it('moves SQLite to PostgreSQL through the NDJSON export: the same bytes out of both', { skip: postgresSkip }, async (t) => {
    const source = sqliteTarget(t);
    const target = await postgresTarget(t);
    await fill(await source.open(), sampleLinks(120));
    const dir = tempDir(t);
    assert.equal((await runCli('export', source, ['--format', 'ndjson', '--output', join(dir, 'links.ndjson')])).code, 0);
    assert.equal((await runCli('import', target, [join(dir, 'links.ndjson')])).code, 0);
    assert.equal((await runCli('export', target, ['--format', 'ndjson'])).stdout, await readFile(join(dir, 'links.ndjson'), 'utf8'));
  });

  it('writes CSV for people: named columns, and a title that is a formula defused with a leading quote', async (t) => {
    const source = sqliteTarget(t);
    await fill(await source.open(), sampleLinks(11));
    const run = await runCli('export', source, ['--format', 'csv']);
    assert.equal(run.code, 0, run.stderr);
    const rows = parse(run.stdout, { columns: true }) as Record<string, string>[];
    assert.equal(rows.length, 11);
    assert.deepEqual(Object.keys(rows[0] ?? {}), [
      'name',
      'uri',
      'title',
      'checkStatus',
      'createdAt',
      'createdBy',
      'expiresAt',
      'maxVisits',
      'forwardQuery',
      'visits',
    ]);
    const formula = rows.find((row) => row.name === 'link-11');
    assert.equal(formula?.title, `'=HYPERLINK("https://evil.example/11","click")`, 'a spreadsheet shows it as text, never runs it');
    assert.equal(rows.find((row) => row.name === 'link-5')?.title, '', 'no title: an empty cell');

    // Read back, the defusing quote is taken off again.
    const empty = sqliteTarget(t);
    const dir = tempDir(t);
    await writeFile(join(dir, 'links.csv'), run.stdout);
    const imported = await runCli('import', empty, [join(dir, 'links.csv')]);
    assert.equal(imported.code, 0, imported.stdout);
    const store = await empty.open();
    assert.equal((await store.get('link-11'))?.title, '=HYPERLINK("https://evil.example/11","click")');
    assert.equal((await store.get('link-7'))?.visits, 12);
  });

  it('reports each hostile row with its line and reason, imports the rest, and exits 1', async (t) => {
    const target = sqliteTarget(t);
    const store = await target.open();
    await store.importLinks(
      [
        {
          name: 'taken',
          uri: 'https://example.com/mine',
          title: null,
          checkStatus: 200,
          createdAt: new Date(0),
          createdBy: null,
          expiresAt: null,
          maxVisits: null,
          forwardQuery: true,
          visits: 0,
          hours: [],
          days: [],
          dimensions: [],
        },
      ],
      { overwrite: false },
    );
    await store.access.addBlockedHosts(['spam.example'], 'command', 'spam.example');
    const latin1 = Buffer.from(`${line('cafe', { title: 'Caf\u00e9' })}\n`, 'latin1');
    const utf16 = Buffer.concat([Buffer.from(line('wide'), 'utf16le'), Buffer.from('\n')]);
    const file = Buffer.concat([
      Buffer.from(`${HEADER}\n${line('good-1')}\n`),
      latin1,
      utf16,
      Buffer.from(
        [
          line('js', { uri: 'javascript:alert(1)' }),
          line('ftp', { uri: 'ftp://example.com/file' }),
          line('bad name'),
          line('api'),
          line('blocked', { uri: 'https://www.spam.example/' }),
          '{not json',
          line('extra', { colour: 'red' }),
          line('taken'),
          line('taken', { uri: 'https://example.com/mine' }),
          line('twice'),
          line('twice', { uri: 'https://example.com/elsewhere' }),
          line('rolled', {
            hours: [
              { hour: 1, visits: 1, bots: 0 },
              { hour: 1, visits: 1, bots: 0 },
            ],
          }),
          line('good-2'),
          '{"end":{"links":17}}',
          '',
        ].join('\n'),
      ),
    ]);
    const dir = tempDir(t);
    await writeFile(join(dir, 'hostile.ndjson'), file);
    const run = await runCli('import', target, [join(dir, 'hostile.ndjson')]);
    assert.equal(run.code, 1);
    assert.deepEqual(run.stdout.trim().split('\n'), [
      'line 3: is not valid UTF-8 (Latin-1 or Windows-1252?): convert the file to UTF-8 (iconv -f LATIN1 -t UTF-8).',
      'line 4: contains NUL bytes: is the file UTF-16? Convert it to UTF-8 (iconv -f UTF-16 -t UTF-8).',
      "line 5: INVALID_URI: Only http and https URIs can be bookmarked, not 'javascript:'.",
      "line 6: INVALID_URI: Only http and https URIs can be bookmarked, not 'ftp:'.",
      "line 7: INVALID_NAME: The short name 'bad name' is not allowed: use 1–64 letters, digits, '-' or '_'.",
      "line 8: RESERVED_NAME: The short name 'api' is reserved by the service; pick another.",
      "line 9: HOST_BLOCKED: Links to www.spam.example are not accepted here: the host is on this server's blocklist.",
      `line 10: is not JSON (Expected property name or '}' in JSON at position 1 (line 1 column 2)).`,
      "line 11: has a field 'colour' that linkyard's export does not write.",
      "line 12: conflict: 'taken' exists pointing to https://example.com/mine, not https://example.com/taken; left as it is (--overwrite replaces it).",
      "line 15: conflict: 'twice' exists pointing to https://example.com/twice, not https://example.com/elsewhere; left as it is (--overwrite replaces it).",
      'line 16: hours has hour 1 twice.',
      'Imported 3, skipped 1 (already there), conflicts 2, overwritten 0, bad rows 10; 16 rows read.',
      'Incomplete file: the footer counts 17 links but the file has 16: lines were added or lost.',
    ]);
    assert.match(run.stderr, /^import: 12 rows not imported \(see the lines above\)$/m);
    assert.deepEqual(await names(target), ['taken', 'good-1', 'twice', 'good-2']);
    assert.equal(await store.resolve('taken'), 'https://example.com/mine', 'a conflict is never overwritten unless asked');

    const overwrite = await runCli('import', target, [join(dir, 'hostile.ndjson'), '--overwrite']);
    assert.match(
      overwrite.stdout,
      /^line 12: overwritten: 'taken' pointed to https:\/\/example.com\/mine, now to https:\/\/example.com\/taken\.$/m,
    );
    assert.match(
      overwrite.stdout,
      /^line 13: overwritten: 'taken' pointed to https:\/\/example.com\/taken, now to https:\/\/example.com\/mine\.$/m,
    );
    assert.equal(await store.resolve('twice'), 'https://example.com/elsewhere', "the file's last word on a name stands");
  });

  it('refuses a UTF-16 file whole, and a CSV with a Latin-1 cell row by row', async (t) => {
    const target = sqliteTarget(t);
    const dir = tempDir(t);
    await writeFile(
      join(dir, 'wide.csv'),
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('name,uri\nx,https://example.com/\n', 'utf16le')]),
    );
    const wide = await runCli('import', target, [join(dir, 'wide.csv')]);
    assert.equal(wide.code, 1);
    assert.match(wide.stderr, /wide\.csv: the file is UTF-16 \(it starts with a UTF-16 byte order mark\): convert it to UTF-8/);

    await writeFile(
      join(dir, 'people.csv'),
      Buffer.concat([
        Buffer.from('name,uri,title\nok,https://example.com/ok,Fine\n'),
        Buffer.from('cafe,https://example.com/cafe,Caf\u00e9\n', 'latin1'),
        Buffer.from('js,javascript:alert(1),x\n"open,https://example.com/\n'),
      ]),
    );
    const people = await runCli('import', target, [join(dir, 'people.csv')]);
    assert.equal(people.code, 1);
    assert.match(people.stdout, /^line 3: is not valid UTF-8/m);
    assert.match(people.stdout, /^line 4: INVALID_URI: Only http and https/m);
    assert.match(people.stdout, /^line 5: is not well-formed CSV \(Quote Not Closed/m);
    assert.deepEqual(await names(target), ['ok']);
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
    const ndjson = await runCli(
      'import',
      ndjsonTarget,
      ['-', '--max-line-bytes', String(1024 * 1024)],
      long(`${HEADER}\n${line('before')}\n{"name":"huge","title":"`, `"}\n${line('after')}\n{"end":{"links":3}}\n`),
    );
    assert.equal(ndjson.code, 1, ndjson.stderr);
    assert.match(ndjson.stdout, /^line 3: is longer than 1048576 bytes, the limit: refused without being read/m);
    assert.match(ndjson.stdout, /^Imported 2, skipped 0 \(already there\), conflicts 0, overwritten 0, bad rows 1; 3 rows read\.$/m);
    assert.deepEqual(await names(ndjsonTarget), ['before', 'after']);
    const small = await runCli('import', sqliteTarget(t), ['-'], [`${HEADER}\n${line('small')}\n{"end":{"links":1}}\n`]);
    assert.equal(small.code, 0, small.stdout);
    assert.ok(
      ndjson.peakRss < small.peakRss + LINE / 2,
      `the line was not held: peak ${Math.round(ndjson.peakRss / 2 ** 20)} MiB against ${Math.round(small.peakRss / 2 ** 20)} MiB for a one-line file`,
    );

    const csvTarget = sqliteTarget(t);
    const csv = await runCli(
      'import',
      csvTarget,
      ['-', '--format', 'csv'],
      long('name,uri,title\nbefore,https://example.com/b,x\nhuge,https://example.com/h,', '\nafter,https://example.com/a,x\n'),
    );
    assert.equal(csv.code, 1);
    assert.match(
      csv.stderr,
      /import: -: line 3: a record is longer than 1048576 bytes, the limit: refused without being read .* The import stopped there; the rows before it are written\./,
    );
    assert.match(csv.stdout, /^Imported 1, /m);
    assert.deepEqual(await names(csvTarget), ['before']);
    assert.ok(csv.peakRss < small.peakRss + LINE / 2, `peak ${Math.round(csv.peakRss / 2 ** 20)} MiB`);
    const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
    t.diagnostic(
      `peak RSS: one-line file ${mib(small.peakRss)}, NDJSON with the 64 MiB line ${mib(ndjson.peakRss)}, CSV ${mib(csv.peakRss)}`,
    );
  });

  it('reads the CSV that Shlink imports and the yourls_url table as CSV', async (t) => {
    const target = sqliteTarget(t);
    const dir = tempDir(t);
    await writeFile(
      join(dir, 'shlink.csv'),
      'Long URL,Short code,Title,Domain,Tags\nhttps://example.com/docs,docs,Docs,s.example,a|b\nhttps://example.com/x,,No code,,\n',
    );
    const shlink = await runCli('import', target, [join(dir, 'shlink.csv'), '--format', 'shlink']);
    assert.equal(shlink.code, 1);
    assert.match(shlink.stdout, /^line 3: has no name: every imported link needs one\.$/m);
    assert.match(shlink.stdout, /^Columns left out \(linkyard has no place for them\): domain, tags\.$/m);

    await writeFile(
      join(dir, 'yourls_url.csv'),
      '"keyword","url","title","timestamp","ip","clicks"\n"ozh","https://ozh.org/","Ozh","2015-03-01 12:34:56","127.0.0.1","42"\n',
    );
    const yourls = await runCli('import', target, [join(dir, 'yourls_url.csv'), '--format', 'yourls']);
    assert.equal(yourls.code, 0, yourls.stdout);
    const store = await target.open();
    const docs = await store.get('docs');
    assert.deepEqual([docs?.uri, docs?.title, docs?.checkStatus, docs?.createdBy], ['https://example.com/docs', 'Docs', 0, 'command']);
    const ozh = await store.get('ozh');
    assert.deepEqual(
      [ozh?.uri, ozh?.title, ozh?.visits, ozh?.createdAt.toISOString()],
      ['https://ozh.org/', 'Ozh', 42, '2015-03-01T12:34:56.000Z'],
    );
  });

  it('with --check fetches each target through the check pool: a title is found, an unreachable target is a bad row', async (t) => {
    const site = await startTarget(t, htmlPage('Found by the check'));
    const dead = `http://127.0.0.1:${await freePort()}/`;
    const target: TransferTarget = { ...sqliteTarget(t) };
    target.env = { ...target.env, CHECK_ALLOW_PRIVATE: 'true', CHECK_TIMEOUT_MS: '2000' };
    const dir = tempDir(t);
    await writeFile(join(dir, 'links.csv'), `name,uri\nup,${site.url}/page\ndown,${dead}\n`);
    const run = await runCli('import', target, [join(dir, 'links.csv'), '--check', '--check-rate', '20']);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /^line 3: URI_UNREACHABLE: Couldn't fetch URI 'http:\/\/127\.0\.0\.1:\d+\/'\. Sorry! \(connection refused/m);
    const up = await (await target.open()).get('up');
    assert.deepEqual([up?.title, up?.checkStatus], ['Found by the check', 200]);
  });

  it('refuses bad usage with exit 2 and a bad file with exit 1, writing nothing', async (t) => {
    const target = sqliteTarget(t);
    const dir = tempDir(t);
    await writeFile(join(dir, 'typo.csv'), 'name,url\nx,https://example.com/\n');
    await writeFile(join(dir, 'plain.ndjson'), `${line('x')}\n`);
    await writeFile(join(dir, 'future.ndjson'), '{"format":"linkyard-links","version":2}\n');
    const cases: [keyof typeof commands, string[], number, RegExp][] = [
      ['export', [], 2, /--format must be one of ndjson, csv, got ''/],
      ['export', ['--format', 'xml'], 2, /--format must be one of ndjson, csv, got 'xml'/],
      ['import', [], 2, /import takes one FILE/],
      ['import', ['links.txt'], 2, /cannot tell the format of 'links.txt'/],
      ['import', ['x.csv', '--format', 'bitly'], 2, /--format must be one of ndjson, csv, shlink, yourls/],
      ['import', ['x.csv', '--delimiter', ';;'], 2, /--delimiter must be one character/],
      ['import', ['x.csv', '--max-line-bytes', '0'], 2, /--max-line-bytes must be a whole number from 1/],
      ['import', [join(dir, 'missing.csv')], 1, /cannot read '.*missing\.csv': ENOENT/],
      ['import', [join(dir, 'typo.csv')], 1, /the column 'url' is not one linkyard knows; the columns are name, uri, title/],
      [
        'import',
        [join(dir, 'plain.ndjson')],
        1,
        /line 1: not a linkyard export: its first line must be \{"format":"linkyard-links","version":1\}/,
      ],
      ['import', [join(dir, 'future.ndjson')], 1, /the export is of version 2; this linkyard reads version 1/],
    ];
    const commands = { export: true, import: true };
    for (const [command, args, code, message] of cases) {
      const run = await runCli(command, target, args);
      assert.equal(run.code, code, `${command} ${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message, `${command} ${args.join(' ')}`);
    }
    assert.deepEqual(await names(target), []);
  });
});
