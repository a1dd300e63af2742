import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { freePort, startTarget, tempDir } from '../../../test/support/index.ts';
import { exportStream } from '../../src/services/export.ts';
import { type ImportOptions, importLinks } from '../../src/services/import.ts';
import { type BookmarkStore, NOT_CHECKED } from '../../src/store/types.ts';
import { htmlPage } from '../helpers.ts';
import {
  COMMAND_NODE_FLAGS,
  fill,
  HEADER,
  line,
  linkRecord,
  names,
  runCli,
  sampleLinks,
  sqliteTarget,
  type TransferTarget,
} from './transfer-support.ts';

describe('npm run export and npm run import', () => {
  it('package.json runs each command with the V8 flags the tests run it with (EXPORT_NODE_FLAGS: a bounded nursery)', () => {
    const { scripts } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      scripts: Record<string, string>;
    };
    for (const [command, flags] of Object.entries(COMMAND_NODE_FLAGS)) {
      assert.equal(scripts[command], ['exec sh scripts/with-node.sh node', ...flags, `app/src/cli/${command}.ts`].join(' '));
    }
  });

  it('export → import into an empty store → export is byte-identical, and a re-run adds nothing (the 100 000-link drill, on both stores, is export-import-100k.drill.ts)', async (t) => {
    const source = sqliteTarget(t);
    const empty = sqliteTarget(t);
    await fill(await source.open(), sampleLinks(300));
    const dir = tempDir(t);

    const first = await runCli('export', source, ['--format', 'ndjson', '--output', join(dir, 'a.ndjson')]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, '', 'a file, not stdout');
    const imported = await runCli('import', empty, [join(dir, 'a.ndjson')]);
    assert.equal(imported.code, 0, imported.stdout + imported.stderr);
    assert.match(imported.stdout, /^Imported 300, skipped 0 \(already there\), conflicts 0, overwritten 0, bad rows 0; 300 rows read\.$/m);
    assert.match(imported.stdout, /^Creator 'alice' \(100 links\) is no key in this store: the name is kept/m);
    const second = await runCli('export', empty, ['--format', 'ndjson']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, await readFile(join(dir, 'a.ndjson'), 'utf8'), 'byte-identical (stdout this time)');
    assert.equal(second.stdout.split('\n')[0], HEADER);
    assert.equal(second.stdout.split('\n').at(-2), '{"end":{"links":300}}');

    const rerun = await runCli('import', empty, [join(dir, 'a.ndjson')]);
    assert.equal(rerun.code, 0, rerun.stdout);
    assert.match(rerun.stdout, /^Imported 0, skipped 300 \(already there\), conflicts 0, overwritten 0, bad rows 0; 300 rows read\.$/m);
    const store = await empty.open();
    assert.equal(await store.count(), 300, 'nothing added twice');
    const audit = await store.access.listAudit({ limit: 1 });
    assert.deepEqual(
      audit.items.map((entry) => [entry.actor, entry.action, entry.subject, entry.detail]),
      [['command', 'links.import', join(dir, 'a.ndjson'), 'ndjson: imported 0, skipped 300, conflicts 0, overwritten 0, bad 0']],
    );
  });

  it('reports each hostile row with its line and reason, imports the rest, and exits 1', async (t) => {
    const target = sqliteTarget(t);
    const store = await target.open();
    await store.importLinks([linkRecord('taken', { uri: 'https://example.com/mine', createdAt: new Date(0) })], { overwrite: false });
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
    const cases: [keyof typeof commands, string[], number, RegExp][] = [
      ['export', [], 2, /--format must be one of ndjson, csv, got ''/],
      ['import', ['links.txt'], 2, /cannot tell the format of 'links.txt'/],
      ['import', ['x.csv', '--format', 'bitly', '--delimiter', ';'], 2, /--format must be one of ndjson, csv, shlink, yourls/],
      ['import', ['x.csv', '--delimiter', ';;'], 2, /--delimiter must be one character/],
      ['import', [join(dir, 'missing.csv')], 1, /cannot read '.*missing\.csv': ENOENT/],
      ['import', [join(dir, 'typo.csv')], 1, /the column 'url' is not one linkyard knows; the columns are name, uri, title/],
    ];
    const commands = { export: true, import: true };
    const runs = await Promise.all(cases.map(([command, args]) => runCli(command, target, args)));
    for (const [index, [command, args, code, message]] of cases.entries()) {
      const run = runs[index];
      assert.equal(run?.code, code, `${command} ${args.join(' ')}: ${run?.stderr}`);
      assert.match(run?.stderr ?? '', message, `${command} ${args.join(' ')}`);
    }
    assert.deepEqual(await names(target), []);
  });
});

/** The import read in this process from `input`, against a real SQLite store: the rows it reported, and its summary. */
async function importInProcess(
  store: BookmarkStore,
  input: string | Buffer,
  options: Partial<ImportOptions> & Pick<ImportOptions, 'format'>,
) {
  const rows: string[] = [];
  const summary = await importLinks(
    store,
    Readable.from([Buffer.from(input)]),
    { overwrite: false, ...options },
    {
      row: (at, message) => rows.push(`line ${at}: ${message}`),
      progress: () => {},
    },
  );
  return { rows, summary };
}

describe('the CSV export and import, in process', () => {
  it('writes CSV for people: named columns, a title that is a formula defused with a leading quote, which the CSV import takes off again', async (t) => {
    const source = await sqliteTarget(t).open();
    await fill(source, sampleLinks(11));
    const csv = await text(exportStream(source, 'csv'));
    const rows = parse(csv, { columns: true }) as Record<string, string>[];
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
    assert.equal(
      rows.find((row) => row.name === 'link-11')?.title,
      `'=HYPERLINK("https://evil.example/11","click")`,
      'a spreadsheet shows it as text, never runs it',
    );
    assert.equal(rows.find((row) => row.name === 'link-5')?.title, '', 'no title: an empty cell');

    const empty = await sqliteTarget(t).open();
    const { rows: reported, summary } = await importInProcess(empty, csv, { format: 'csv' });
    assert.deepEqual(reported, []);
    assert.equal(summary.imported, 11);
    assert.equal((await empty.get('link-11'))?.title, '=HYPERLINK("https://evil.example/11","click")');
    assert.equal((await empty.get('link-7'))?.visits, 12);
  });

  it('refuses a UTF-16 file whole, and reports a Latin-1 cell, a javascript: URI and a broken quote row by row', async (t) => {
    const store = await sqliteTarget(t).open();
    const wide = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('name,uri\nx,https://example.com/\n', 'utf16le')]);
    await assert.rejects(importInProcess(store, wide, { format: 'csv' }), {
      name: 'Error',
      message: 'the file is UTF-16 (it starts with a UTF-16 byte order mark): convert it to UTF-8 (iconv -f UTF-16 -t UTF-8).',
    });
    const people = Buffer.concat([
      Buffer.from('name,uri,title\nok,https://example.com/ok,Fine\n'),
      Buffer.from('cafe,https://example.com/cafe,Caf\u00e9\n', 'latin1'),
      Buffer.from('js,javascript:alert(1),x\n"open,https://example.com/\n'),
    ]);
    const { rows, summary } = await importInProcess(store, people, { format: 'csv' });
    assert.deepEqual(rows, [
      'line 3: is not valid UTF-8 (Latin-1 or Windows-1252?): convert the file to UTF-8 (iconv -f LATIN1 -t UTF-8).',
      "line 4: INVALID_URI: Only http and https URIs can be bookmarked, not 'javascript:'.",
      'line 5: is not well-formed CSV (Quote Not Closed: the parsing is finished with an opening quote at line 5).',
    ]);
    assert.deepEqual([summary.imported, summary.bad], [1, 3]);
    assert.deepEqual(
      (await store.exportLinks({ limit: 10 })).items.map((item) => item.name),
      ['ok'],
    );
  });

  it('refuses a file that is not a linkyard export, or of a newer version, before writing anything', async (t) => {
    const store = await sqliteTarget(t).open();
    await assert.rejects(importInProcess(store, `${line('x')}\n`, { format: 'ndjson' }), {
      message: `line 1: not a linkyard export: its first line must be ${HEADER} (a CSV file needs --format csv, shlink or yourls).`,
    });
    await assert.rejects(importInProcess(store, '{"format":"linkyard-links","version":2}\n', { format: 'ndjson' }), {
      message: 'line 1: the export is of version 2; this linkyard reads version 1: upgrade it first.',
    });
    await assert.rejects(importInProcess(store, '', { format: 'ndjson' }), { message: /the file is empty/ });
    await assert.rejects(importInProcess(store, `\n> linkyard@0.1.0 export\n${HEADER}\n`, { format: 'ndjson' }), {
      message: /^line 2: not a linkyard export: .* It starts with npm's banner: export with `npm run -s export` or --output\.$/,
    });
    assert.equal(await store.count(), 0);
  });

  it('reads the CSV that Shlink imports and the yourls_url table as CSV, saying which columns it leaves out', async (t) => {
    const store = await sqliteTarget(t).open();
    const shlink = await importInProcess(
      store,
      'Long URL,Short code,Title,Domain,Tags\nhttps://example.com/docs,docs,Docs,s.example,a|b\nhttps://example.com/x,,No code,,\n',
      { format: 'shlink' },
    );
    assert.deepEqual(shlink.rows, ['line 3: has no name: every imported link needs one.']);
    assert.deepEqual(shlink.summary.ignoredColumns, ['domain', 'tags']);
    const yourls = await importInProcess(
      store,
      '"keyword","url","title","timestamp","ip","clicks"\n"ozh","https://ozh.org/","Ozh","2015-03-01 12:34:56","127.0.0.1","42"\n',
      { format: 'yourls' },
    );
    assert.deepEqual(yourls.rows, []);
    assert.deepEqual(yourls.summary.ignoredColumns, ['ip']);
    const docs = await store.get('docs');
    assert.deepEqual(
      [docs?.uri, docs?.title, docs?.checkStatus, docs?.createdBy],
      ['https://example.com/docs', 'Docs', NOT_CHECKED, 'command'],
    );
    const ozh = await store.get('ozh');
    assert.deepEqual(
      [ozh?.uri, ozh?.title, ozh?.visits, ozh?.createdAt.toISOString()],
      ['https://ozh.org/', 'Ozh', 42, '2015-03-01T12:34:56.000Z'],
    );
  });
});
