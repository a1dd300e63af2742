import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { postgresSkip, testDatabaseUrl } from '../../../app/test/store/pg-env.ts';
import { tempDir } from '../../../test/support/index.ts';
import { datasetName } from '../../src/dataset/store-spec.ts';
import { Progress } from '../../src/progress.ts';
import { describeRun } from '../../src/report/run-info.ts';
import { scaleReport } from '../../src/report/scale.ts';
import { writeResults } from '../../src/report/write.ts';
import { SCALE_DEFAULTS, type ScaleOptions, type ScaleStore } from '../../src/scale/options.ts';
import { dropDatabase } from '../../src/scale/probes.ts';
import { runScale } from '../../src/scale/run.ts';
import { wrkSkip } from '../tool-skips.ts';

const LINKS = 100_000;

/** The 100 000-link smoke of `npm run bench:scale`: the whole path with tiny durations, its invariants, not its speed. */
test('bench:scale at 100 000 links: dataset made, every request answered, the report written', {
  skip: wrkSkip("bench:scale's smoke"),
}, async (t) => {
  const stores: ScaleStore[] = postgresSkip === false ? ['sqlite', 'postgres'] : ['sqlite'];
  if (postgresSkip !== false) t.diagnostic(`NOTICE: ${postgresSkip}: the smoke ran on SQLite only`);
  const dir = tempDir(t, 'linkyard-scale-smoke-');
  const server = new URL(testDatabaseUrl);
  const databases: string[] = [];
  t.after(async () => {
    for (const url of databases) await dropDatabase(url);
  });
  const options: ScaleOptions = {
    ...SCALE_DEFAULTS,
    sizes: [LINKS],
    stores,
    samples: 5,
    turns: 1,
    turnSeconds: 1,
    connectionLevels: [16, 256],
    connectionSeconds: 1,
    exportRuns: 1,
    storeOf: (store, plan) => {
      if (store === 'sqlite') return { engine: 'sqlite', dataDir: join(dir, 'sqlite') };
      server.pathname = `/${datasetName(plan)}_smoke_${process.pid}`;
      databases.push(server.href);
      return { engine: 'postgres', url: server.href };
    },
  };
  const result = await runScale(options, new Progress({ quiet: true }), 'npm run bench:scale (smoke)');

  assert.deepEqual(
    result.entries.map((entry) => [entry.store, entry.links]),
    stores.map((store) => [store, LINKS]),
  );
  for (const entry of result.entries) {
    assert.ok(entry.generatedSeconds > 0, `${entry.store}: the dataset was made in this run`);
    assert.ok(entry.bytesPerLink > 100, `${entry.store}: ${entry.bytesPerLink} bytes a link`);
    assert.equal(entry.deepPageDepth, LINKS - 1, 'a store smaller than the depth asked for gives its last page');
    for (const operation of entry.operations) {
      assert.equal(operation.samples, options.samples, operation.name);
      assert.equal(operation.failures, 0, `${entry.store}: ${operation.name} answered as expected every time`);
    }
    for (const kind of ['hot', 'zipf'] as const) {
      const mix = entry.redirects[kind];
      assert.ok(mix.load.requests > 0, `${entry.store} ${kind}: redirects sent`);
      assert.equal(mix.notRedirected, 0, `${entry.store} ${kind}: every name the script made exists (303, no 404)`);
      assert.ok(mix.cacheHitRate > 0 && mix.cacheHitRate <= 1, `${entry.store} ${kind}: hit rate ${mix.cacheHitRate}`);
    }
    assert.equal(entry.peakRssBytes.length, options.instances);
    assert.ok(entry.peakRssBytes.every((bytes) => bytes > 0));
    for (const probe of [
      'search, one link (its name)',
      'search, one word',
      'stats API (7 days by the hour), most visited',
      'stats page (90 days), cold link',
    ])
      assert.ok(
        entry.operations.some((operation) => operation.name === probe),
        `${entry.store}: ${probe} timed`,
      );
    const hits = entry.searchTerms.map((term) => term.hits);
    assert.equal(hits[0], 1, `${entry.store}: a link's name hits that link`);
    assert.deepEqual(
      [...hits].sort((a, b) => a - b),
      hits,
      `${entry.store}: the groups hit more links one after the other: ${hits}`,
    );
    assert.ok(
      entry.rollupBytesPerMillionVisits > 1_000_000,
      `${entry.store}: ${entry.rollupBytesPerMillionVisits} rollup bytes a million visits`,
    );
    assert.equal(entry.export.links, LINKS, `${entry.store}: the export wrote every link`);
    assert.ok(entry.export.peakRssBytes > 0 && entry.export.bytes > 0);
  }
  assert.deepEqual(
    result.connections.map((level) => [level.store, level.connections, level.failures]),
    stores.flatMap((store) => options.connectionLevels.map((connections) => [store, connections, 0])),
  );

  // The links the run created were deleted again: the dataset is still the plan's.
  const sqlite = new Database(join(dir, 'sqlite', 'linkyard.sqlite'), { readonly: true });
  assert.equal(sqlite.prepare('SELECT count(*) FROM bookmarks').pluck().get(), LINKS);
  // Every visit is in the rollups, where the stats page reads them.
  assert.equal(
    sqlite.prepare('SELECT (SELECT sum(visits + bots) FROM visit_hours) + (SELECT sum(visits + bots) FROM visit_days)').pluck().get(),
    sqlite.prepare('SELECT sum(visits) FROM bookmarks').pluck().get(),
  );
  sqlite.close();
  for (const url of databases) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    assert.equal(Number((await client.query<{ count: string }>('SELECT count(*) AS count FROM bookmarks')).rows[0]?.count), LINKS);
    await client.end();
  }

  const out = join(dir, 'results');
  writeResults(out, 'scale', result, scaleReport(result));
  const markdown = readFileSync(join(out, 'scale.md'), 'utf8');
  assert.ok(markdown.includes(`${describeRun(result.run)}. Compare the ratios`), 'headed by the command, hardware class and date');
  assert.match(markdown, /## 100,000 links/);
  assert.match(markdown, /## Targets/);
  for (const chart of ['scale-operations.svg', 'scale-redirects.svg', 'scale-memory.svg']) assert.ok(existsSync(join(out, chart)), chart);
});
