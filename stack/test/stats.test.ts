import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { escapeIdentifier, Pool } from 'pg';
import { httpRequest, runLoad } from '../../app/test/client.ts';
import { postgresSkip, testDatabaseUrl, uniqueSchema } from '../../app/test/store/pg-env.ts';
import { eventually, SuiteCleanups, tempDir } from '../../test/support/index.ts';
import { type Stack, startStack } from '../src/stack.ts';

// Issue 22's exactness: redirects with a chosen mix of user agents, referrers and methods, spread
// over every app process through nginx and across a rolling restart, add up to exactly what was
// answered, in every dimension, on SQLite and on PostgreSQL.

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';
const ANDROID = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';

interface Kind {
  method: 'GET' | 'HEAD';
  headers: Record<string, string>;
  /** What it must count as: people with these values, a bot of this family, or nothing. */
  counts: { browser: string; device: string; referrer: string } | { bot: string } | 'nothing';
}

const MIX: readonly Kind[] = [
  {
    method: 'GET',
    headers: { 'user-agent': CHROME, referer: 'https://www.google.com/search?q=a' },
    counts: { browser: 'Chrome', device: 'desktop', referrer: 'google.com' },
  },
  { method: 'GET', headers: { 'user-agent': IPHONE }, counts: { browser: 'Mobile Safari', device: 'mobile', referrer: 'direct' } },
  {
    method: 'GET',
    headers: { 'user-agent': ANDROID, referer: 'https://news.ycombinator.com/item?id=1' },
    counts: { browser: 'Chrome', device: 'mobile', referrer: 'news.ycombinator.com' },
  },
  { method: 'GET', headers: { 'user-agent': 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)' }, counts: { bot: 'Slackbot' } },
  { method: 'HEAD', headers: { 'user-agent': FIREFOX }, counts: 'nothing' },
  { method: 'GET', headers: { 'user-agent': CHROME, 'sec-purpose': 'prefetch' }, counts: 'nothing' },
  { method: 'GET', headers: { 'user-agent': 'Twitterbot/1.0' }, counts: { bot: 'Twitterbot' } },
];
const NAMES = ['mix-a', 'mix-b', 'mix-c'];

interface Expected {
  visits: number;
  bots: number;
  values: Map<string, number>;
}

function tally(expected: Map<string, Expected>, name: string, kind: Kind): void {
  let entry = expected.get(name);
  if (entry === undefined) {
    entry = { visits: 0, bots: 0, values: new Map() };
    expected.set(name, entry);
  }
  const add = (key: string) => entry.values.set(key, (entry.values.get(key) ?? 0) + 1);
  const { counts } = kind;
  if (counts === 'nothing') return;
  if ('bot' in counts) {
    entry.bots++;
    add(`bot:${counts.bot}`);
    return;
  }
  entry.visits++;
  add(`browser:${counts.browser}`);
  add(`device:${counts.device}`);
  add(`referrer:${counts.referrer}`);
}

interface StatsJson {
  visits: number;
  totals: { visits: number; bots: number };
  top: Record<string, { value: string; visits: number }[]>;
}

async function exactAcrossRollingRestart(t: TestContext, stack: Stack): Promise<void> {
  for (const name of NAMES) {
    const created = await httpRequest(`${stack.url}/api/bookmarks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uri: `${stack.url}/?stats=${name}`, name }),
    });
    assert.equal(created.status, 201, created.body);
  }
  const expected = new Map<string, Expected>();
  const restarted = sleep(500).then(() => stack.rollingRestart());
  const load = await runLoad(8, restarted, async (loop, i, agent) => {
    const name = NAMES[loop % NAMES.length] as string;
    const kind = MIX[(loop + i) % MIX.length] as Kind;
    const answer = await httpRequest(`${stack.url}/${name}`, { method: kind.method, headers: kind.headers, agent, resend: false });
    if (answer.status !== 303) return `${kind.method} /${name}: ${answer.status}`;
    tally(expected, name, kind);
    return undefined;
  });
  t.diagnostic(`${load.requests} redirects across the rolling restart, ${load.failures.length} failed`);
  assert.deepEqual(load.failures, []);
  assert.ok(load.requests > 200, `enough redirects: ${load.requests}`);

  for (const name of NAMES) {
    const want = expected.get(name) ?? { visits: 0, bots: 0, values: new Map() };
    let stats: StatsJson | undefined;
    // Each process flushes every VISITS_FLUSH_MS; the replaced ones flushed as they drained. The
    // rollups ride along only every STATS_FLUSH_MS (decision 0019), so the link's total can be a
    // flush ahead of them: wait for both.
    const flushed = await eventually(async () => {
      stats = JSON.parse((await httpRequest(`${stack.url}/api/bookmarks/${name}/stats?granularity=day`)).body) as StatsJson;
      return stats.visits === want.visits && stats.totals.visits === want.visits && stats.totals.bots === want.bots;
    }, 10_000);
    assert.ok(flushed, `${name}: ${JSON.stringify(stats)} against ${want.visits} people, ${want.bots} bots`);
    assert.deepEqual(stats?.totals, { visits: want.visits, bots: want.bots }, name);
    const got = new Map<string, number>();
    for (const [dimension, values] of Object.entries(stats?.top ?? {})) {
      for (const { value, visits } of values) got.set(`${dimension}:${value}`, visits);
    }
    // The OS is as exact; the mix's browsers, devices, referrers and bots are what is checked by name.
    for (const key of [...got.keys()]) if (key.startsWith('os:')) got.delete(key);
    assert.deepEqual(got, want.values, name);
  }
}

describe('stats through the native stack', { timeout: 120_000 }, () => {
  describe('on SQLite', () => {
    let stack: Stack;
    const fixtures = new SuiteCleanups();
    before(async () => {
      const dir = tempDir(fixtures, 'linkyard-stats-');
      stack = await startStack({
        instances: 3,
        port: 0,
        stateDir: join(dir, 'state'),
        dataDir: join(dir, 'data'),
        env: { CHECK_ALLOW_PRIVATE: 'false', LOG_LEVEL: 'warn', VISITS_FLUSH_MS: '200', STATS_FLUSH_MS: '200' },
        rateLimit: '100000r/s',
        accessLog: false,
        quiet: true,
      });
    });
    after(async () => {
      await stack?.stop();
      await fixtures.run();
    });
    it('counts every redirect exactly once in every dimension across a rolling restart', (t) => exactAcrossRollingRestart(t, stack));
  });

  describe('on PostgreSQL', { skip: postgresSkip }, () => {
    let stack: Stack;
    const fixtures = new SuiteCleanups();
    const admin = new Pool({ connectionString: testDatabaseUrl, max: 1 });
    const schema = uniqueSchema();
    before(async () => {
      await admin.query(`CREATE SCHEMA ${escapeIdentifier(schema)}`);
      const url = new URL(testDatabaseUrl);
      url.searchParams.set('options', `-c search_path=${schema}`);
      const dir = tempDir(fixtures, 'linkyard-stats-pg-');
      stack = await startStack({
        instances: 3,
        port: 0,
        stateDir: join(dir, 'state'),
        dataDir: join(dir, 'data'),
        env: { CHECK_ALLOW_PRIVATE: 'false', LOG_LEVEL: 'warn', VISITS_FLUSH_MS: '200', STATS_FLUSH_MS: '200', DATABASE_URL: url.href },
        rateLimit: '100000r/s',
        accessLog: false,
        quiet: true,
      });
    });
    after(async () => {
      await stack?.stop();
      await admin.query(`DROP SCHEMA IF EXISTS ${escapeIdentifier(schema)} CASCADE`);
      await admin.end();
      await fixtures.run();
    });
    it('counts every redirect exactly once in every dimension across a rolling restart', (t) => exactAcrossRollingRestart(t, stack));
  });
});
