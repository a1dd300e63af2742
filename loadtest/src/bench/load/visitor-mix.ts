import type { WrkRequest } from './wrk.ts';

/**
 * Redirects as people and bots send them: several hundred distinct user agents (browser, OS and
 * version combinations, phones, tablets, unfurlers and crawlers) and referrers (hundreds of
 * hosts, with paths, and none). Each request a different pairing, cycled by wrk in order.
 */
const BROWSERS: readonly ((version: number, build: number) => string)[] = [
  (v, b) => `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.${b}.0 Safari/537.36`,
  (v, b) => `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.${b}.0 Safari/537.36`,
  (v, b) => `Mozilla/5.0 (X11; Linux x86_64; rv:${v}.0) Gecko/20100101 Firefox/${v}.${b % 10}`,
  (v, b) =>
    `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Safari/537.36 Edg/${v}.0.${b}.0`,
  (v, b) =>
    `Mozilla/5.0 (Linux; Android ${10 + (b % 5)}; Pixel ${5 + (v % 4)}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.${b}.0 Mobile Safari/537.36`,
  (v, b) =>
    `Mozilla/5.0 (iPhone; CPU iPhone OS ${15 + (v % 4)}_${b % 7} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${15 + (v % 4)}.${b % 7} Mobile/15E148 Safari/604.1`,
  (v, b) =>
    `Mozilla/5.0 (iPad; CPU OS ${15 + (v % 4)}_${b % 7} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${15 + (v % 4)}.${b % 7} Mobile/15E148 Safari/604.1`,
  (v, b) =>
    `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${15 + (v % 4)}.${b % 7} Safari/605.1.15`,
];
const BOTS: readonly string[] = [
  'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
  'Twitterbot/1.0',
  'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
  'Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)',
  'WhatsApp/2.23.20.0',
  'TelegramBot (like TwitterBot)',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'curl/8.5.0',
];
const REFERRER_HOSTS = [
  'www.google.com',
  'news.ycombinator.com',
  't.co',
  'mastodon.social',
  'www.reddit.com',
  'lobste.rs',
  'duckduckgo.com',
  'www.bing.com',
];

/** `agents` distinct user agents (one in ten a bot) and as many referrers, over `names`. */
export function visitorMix(names: readonly string[], agents = 600): WrkRequest[] {
  const requests: WrkRequest[] = [];
  for (let i = 0; i < agents; i++) {
    const browser = BROWSERS[i % BROWSERS.length];
    const userAgent = i % 10 === 9 ? `${BOTS[i % BOTS.length]} r${i}` : (browser?.(100 + (i % 32), 1000 + i) ?? '');
    // A third direct, the rest from hundreds of hosts and paths.
    const host = `${i % 50 === 0 ? '' : `s${i % 300}.`}${REFERRER_HOSTS[i % REFERRER_HOSTS.length]}`;
    const headers: Record<string, string> = { 'User-Agent': userAgent };
    if (i % 3 !== 0) headers.Referer = `https://${host}/path/${i}?q=${i * 7}`;
    requests.push({ method: 'GET', path: `/${names[i % names.length]}`, headers });
  }
  return requests;
}
