import { below } from './random.ts';

/** Hosts, path words and title words of plausible bookmarks: lengths and shapes, not meaning. */
const HOSTS = [
  'github.com',
  'en.wikipedia.org',
  'news.ycombinator.com',
  'www.youtube.com',
  'docs.python.org',
  'developer.mozilla.org',
  'stackoverflow.com',
  'medium.com',
  'www.nytimes.com',
  'arxiv.org',
  'blog.cloudflare.com',
  'www.bbc.co.uk',
  'lwn.net',
  'www.postgresql.org',
  'sqlite.org',
  'nodejs.org',
  'www.reddit.com',
  'gist.github.com',
  'docs.google.com',
  'www.amazon.de',
  'shop.example-store.com',
  'www.theguardian.com',
  'martinfowler.com',
  'web.dev',
  'learn.microsoft.com',
  'aws.amazon.com',
  'www.rust-lang.org',
  'pkg.go.dev',
  'www.npmjs.com',
  'kubernetes.io',
];
const WORDS = [
  'release',
  'notes',
  'guide',
  'how',
  'to',
  'build',
  'a',
  'faster',
  'index',
  'postgres',
  'query',
  'plan',
  'open',
  'source',
  'weekly',
  'digest',
  'design',
  'systems',
  'scaling',
  'cache',
  'memory',
  'the',
  'of',
  'and',
  'links',
  'shortener',
  'api',
  'reference',
  'tutorial',
  'intro',
  'advanced',
  'performance',
  'tuning',
  'kernel',
  'network',
  'latency',
  'review',
  'report',
  'annual',
  'budget',
  'meeting',
  'agenda',
  'recipe',
  'travel',
  'berlin',
  'paris',
  'summer',
  'winter',
  'sale',
  'offer',
  'product',
  'launch',
  'event',
  'talk',
  'video',
  'slides',
  'paper',
  'study',
  'data',
  'science',
  'learning',
  'model',
];
const QUERY_KEYS = ['utm_source', 'utm_medium', 'utm_campaign', 'ref', 'id', 'page', 'q', 'lang', 'v', 'sort'];

/**
 * Draw fields per row: each piece of a row takes its own field numbers so pieces do not correlate
 * (plan.ts takes 500 and up).
 */
const FIELD = {
  host: 1,
  length: 2,
  status: 3,
  title: 4,
  titleLength: 5,
  queryKey: 100,
  segmentWords: 10,
  separator: 40,
  slugWord: 1000,
  titleWord: 2000,
} as const;

/** A plausible https URL of 40–200 characters: a host, word-slug path segments, sometimes a query. */
export function targetOf(seed: number, row: number): string {
  const length = 40 + below(seed, row, FIELD.length, 161);
  let uri = `https://${HOSTS[below(seed, row, FIELD.host, HOSTS.length)]}/`;
  let inQuery = false;
  for (let segment = 0; uri.length < length && segment < 30; segment++) {
    const words = 1 + below(seed, row, FIELD.segmentWords + segment, 4);
    const slug: string[] = [];
    for (let w = 0; w < words; w++) slug.push(WORDS[below(seed, row, FIELD.slugWord + segment * 5 + w, WORDS.length)] ?? 'x');
    if (!inQuery && segment > 0 && below(seed, row, FIELD.separator + segment, 4) === 0) inQuery = true;
    if (inQuery) {
      const key = QUERY_KEYS[below(seed, row, FIELD.queryKey + segment, QUERY_KEYS.length)];
      uri += `${uri.includes('?') ? '&' : '?'}${key}=${slug.join('-')}`;
    } else {
      uri += `${segment === 0 ? '' : '/'}${slug.join('-')}`;
    }
  }
  return uri.slice(0, length);
}

/** A page title of 2–12 words, or null for about one link in ten (pages without one). */
export function titleOf(seed: number, row: number): string | null {
  if (below(seed, row, FIELD.title, 10) === 0) return null;
  const words = 2 + below(seed, row, FIELD.titleLength, 11);
  const title: string[] = [];
  for (let w = 0; w < words; w++) title.push(WORDS[below(seed, row, FIELD.titleWord + w, WORDS.length)] ?? 'x');
  const first = title[0] ?? '';
  title[0] = first.charAt(0).toUpperCase() + first.slice(1);
  return title.join(' ');
}

/** The check's final status: mostly 200, a few accepted with a warning (docs/uri-checks.md). */
export function checkStatusOf(seed: number, row: number): number {
  const draw = below(seed, row, FIELD.status, 100);
  return draw < 94 ? 200 : draw < 97 ? 403 : draw < 99 ? 429 : 401;
}
