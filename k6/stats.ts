// STATS: do the stats count what was sent? A realistic mix of browsers, phones, link unfurlers,
// crawlers, referrers, HEAD requests and prefetches to one fresh short link, then the stats API
// read back and compared, dimension by dimension, with what the mix must add up to.
//
// A fixed number of redirects (shared-iterations), so the expected counts are known: iteration n
// sends MIX[n % MIX.length]. The link is new (`stats-<TAG>`), so the counts start at zero.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e COUNT=2000 -e VUS=20 -e SEED_URI=https://example.com/ k6/stats.ts
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Rate } from 'k6/metrics';
import type { Options } from 'k6/options';
import { BASE_URL, numberFromEnv, RESULTS_DIR, requireReady, stringFromEnv } from './lib/config.ts';
import { fmt, metricValue, type SummaryData, TREND_STATS, writeSummary } from './lib/summary.ts';

const COUNT = numberFromEnv('COUNT', 2000);
const VUS = numberFromEnv('VUS', 20);
const SEED_URI = stringFromEnv('SEED_URI', 'https://example.com/');
const TAG = stringFromEnv('TAG', Date.now().toString(36));
/** How long teardown waits for every app process to flush its counts (VISITS_FLUSH_MS, 1 s by default). */
const FLUSH_WAIT_SECONDS = numberFromEnv('FLUSH_WAIT', 15);
const NAME = `stats-${TAG}`;
const SERIES = 'GET /:name (stats mix)';

interface Sent {
  method: 'GET' | 'HEAD';
  headers: Record<string, string>;
  /** What it counts as: a person with these values, a bot of this family, or nothing at all. */
  counts: { browser: string; os: string; device: string; referrer: string } | { bot: string } | 'nothing';
}

const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const MIX: readonly Sent[] = [
  {
    method: 'GET',
    headers: { 'user-agent': CHROME_WINDOWS, referer: 'https://www.google.com/' },
    counts: { browser: 'Chrome', os: 'Windows', device: 'desktop', referrer: 'google.com' },
  },
  {
    method: 'GET',
    headers: {
      'user-agent':
        'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
    },
    counts: { browser: 'Mobile Safari', os: 'iOS', device: 'mobile', referrer: 'direct' },
  },
  {
    method: 'GET',
    headers: {
      'user-agent':
        'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36',
      referer: 'https://t.co/abc',
    },
    counts: { browser: 'Chrome', os: 'Android', device: 'mobile', referrer: 't.co' },
  },
  {
    method: 'GET',
    headers: {
      'user-agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
      referer: 'https://news.ycombinator.com/item?id=1',
    },
    counts: { browser: 'Safari', os: 'Mac OS', device: 'desktop', referrer: 'news.ycombinator.com' },
  },
  {
    method: 'GET',
    headers: {
      'user-agent':
        'Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1',
      referer: 'https://mastodon.social/@a',
    },
    counts: { browser: 'Mobile Safari', os: 'iOS', device: 'tablet', referrer: 'mastodon.social' },
  },
  {
    method: 'GET',
    headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0' },
    counts: { browser: 'Firefox', os: 'Linux', device: 'desktop', referrer: 'direct' },
  },
  { method: 'GET', headers: { 'user-agent': 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)' }, counts: { bot: 'Slackbot' } },
  {
    method: 'GET',
    headers: { 'user-agent': 'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)' },
    counts: { bot: 'facebookexternalhit' },
  },
  {
    method: 'GET',
    headers: { 'user-agent': 'Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)' },
    counts: { bot: 'Discordbot' },
  },
  {
    method: 'GET',
    headers: { 'user-agent': 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' },
    counts: { bot: 'Googlebot' },
  },
  { method: 'HEAD', headers: { 'user-agent': CHROME_WINDOWS }, counts: 'nothing' },
  { method: 'GET', headers: { 'user-agent': CHROME_WINDOWS, 'sec-purpose': 'prefetch' }, counts: 'nothing' },
];

// k6's runtime has console (its output goes to k6's log); @types/k6 does not declare it.
declare const console: { error(...data: unknown[]): void };

/** One sample per dimension value compared in teardown: 1 when the stats API says what was sent. */
const statsExact = new Rate('stats_exact');

export const options: Options = {
  scenarios: {
    stats: { executor: 'shared-iterations', iterations: COUNT, vus: VUS, maxDuration: '10m' },
  },
  summaryTrendStats: TREND_STATS,
  thresholds: {
    [`http_req_failed{name:${SERIES}}`]: ['rate==0'],
    [`http_reqs{name:${SERIES}}`]: [`count==${COUNT}`],
    checks: ['rate==1'],
    // The goal: every people, bot and dimension count is exactly what the mix adds up to.
    stats_exact: ['rate==1'],
  },
};

export function setup(): void {
  requireReady();
  const created = http.post(`${BASE_URL}/api/bookmarks`, JSON.stringify({ uri: SEED_URI, name: NAME }), {
    headers: { 'content-type': 'application/json' },
    tags: { name: 'setup' },
  });
  if (created.status !== 201)
    throw new Error(`creating ${NAME} for ${SEED_URI} failed with ${created.status}: ${String(created.body)}. Set SEED_URI.`);
}

export default function send(): void {
  const sent = MIX[exec.scenario.iterationInTest % MIX.length] as Sent;
  const response = http.request(sent.method, `${BASE_URL}/${NAME}`, null, { headers: sent.headers, redirects: 0, tags: { name: SERIES } });
  check(response, { '303': (r) => r.status === 303 });
}

/** What COUNT iterations of the mix add up to, keyed `dimension:value`, with `people` and `bots`. */
function expected(): Map<string, number> {
  const totals = new Map<string, number>([
    ['people', 0],
    ['bots', 0],
  ]);
  const add = (key: string) => totals.set(key, (totals.get(key) ?? 0) + 1);
  for (let n = 0; n < COUNT; n++) {
    const { counts } = MIX[n % MIX.length] as Sent;
    if (counts === 'nothing') continue;
    if ('bot' in counts) {
      add('bots');
      add(`bot:${counts.bot}`);
      continue;
    }
    add('people');
    for (const [dimension, value] of Object.entries(counts)) add(`${dimension}:${value}`);
  }
  return totals;
}

interface StatsAnswer {
  visits: number;
  totals: { visits: number; bots: number };
  top: Record<string, { value: string; visits: number }[]>;
}

function counted(answer: StatsAnswer): Map<string, number> {
  const totals = new Map<string, number>([
    ['people', answer.totals.visits],
    ['bots', answer.totals.bots],
  ]);
  for (const [dimension, values] of Object.entries(answer.top))
    for (const { value, visits } of values) totals.set(`${dimension}:${value}`, visits);
  return totals;
}

export function teardown(): void {
  const want = expected();
  let got = new Map<string, number>();
  // Each app process writes its counts every VISITS_FLUSH_MS: wait until the totals are in.
  for (let waited = 0; waited <= FLUSH_WAIT_SECONDS; waited += 0.5) {
    const response = http.get(`${BASE_URL}/api/bookmarks/${NAME}/stats?granularity=day`, { tags: { name: 'teardown' } });
    if (response.status === 200) {
      got = counted(response.json() as unknown as StatsAnswer);
      if (got.get('people') === want.get('people') && got.get('bots') === want.get('bots')) break;
    }
    sleep(0.5);
  }
  for (const key of new Set([...want.keys(), ...got.keys()])) {
    const exact = want.get(key) === got.get(key);
    statsExact.add(exact, { key });
    if (!exact) console.error(`stats: ${key} sent ${want.get(key) ?? 0}, counted ${got.get(key) ?? 0}`);
  }
}

export function handleSummary(data: SummaryData): Record<string, string> {
  const want = expected();
  const result = {
    name: NAME,
    sent: metricValue(data, `http_reqs{name:${SERIES}}`, 'count'),
    people: want.get('people') ?? 0,
    bots: want.get('bots') ?? 0,
    exactRate: metricValue(data, 'stats_exact', 'rate'),
    compared: metricValue(data, 'stats_exact', 'passes') + metricValue(data, 'stats_exact', 'fails'),
    p99Ms: metricValue(data, `http_req_duration{name:${SERIES}}`, 'p(99)'),
  };
  const lines = [
    `${fmt(result.sent)} requests to /${NAME}: ${result.people} people, ${result.bots} bots, the rest HEAD or prefetch`,
    `stats API exact in ${fmt(result.exactRate * 100)}% of ${fmt(result.compared)} counts compared (people, bots, each dimension value)`,
  ];
  return writeSummary(data, { scenario: 'stats', lines, result }, RESULTS_DIR);
}
