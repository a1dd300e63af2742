import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyAgent, isPrefetch, referrerHost } from '../../src/stats/classify.ts';

/** Real user agents, as their senders sent them. */
const PEOPLE = {
  'Chrome on Windows': [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    { browser: 'Chrome', os: 'Windows', device: 'desktop' },
  ],
  'Firefox on Linux': [
    'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
    { browser: 'Firefox', os: 'Linux', device: 'desktop' },
  ],
  'Safari on a Mac': [
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
    { browser: 'Safari', os: 'Mac OS', device: 'desktop' },
  ],
  'Edge on Windows': [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
    { browser: 'Edge', os: 'Windows', device: 'desktop' },
  ],
  'Safari on an iPhone': [
    'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
    { browser: 'Mobile Safari', os: 'iOS', device: 'mobile' },
  ],
  'Chrome on an Android phone': [
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36',
    { browser: 'Chrome', os: 'Android', device: 'mobile' },
  ],
  'Safari on an iPad': [
    'Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1',
    { browser: 'Mobile Safari', os: 'iOS', device: 'tablet' },
  ],
} as const;

/** Link unfurlers and crawlers: counted apart, by family. */
const BOTS = {
  'Slack unfurling a link': ['Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)', 'Slackbot'],
  Twitterbot: ['Twitterbot/1.0', 'Twitterbot'],
  'Facebook and Messenger previews': ['facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)', 'facebookexternalhit'],
  Discord: ['Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)', 'Discordbot'],
  WhatsApp: ['WhatsApp/2.23.20.0', 'WhatsApp'],
  Telegram: ['TelegramBot (like TwitterBot)', 'TelegramBot'],
  'Teams and Skype previews': [
    'Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/51.0.2704.103 Safari/537.36 SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com',
    'Microsoft Teams/Skype',
  ],
  curl: ['curl/8.5.0', 'curl'],
  Googlebot: ['Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'Googlebot'],
  'python-requests': ['python-requests/2.32.3', 'python-requests'],
} as const;

describe('classifyAgent', () => {
  for (const [who, [agent, expected]] of Object.entries(PEOPLE)) {
    test(`a person: ${who}`, () => {
      assert.deepEqual(classifyAgent(agent), { bot: false, ...expected });
    });
  }
  for (const [who, [agent, family]] of Object.entries(BOTS)) {
    test(`a bot: ${who}`, () => {
      assert.deepEqual(classifyAgent(agent), { bot: true, browser: family, os: 'unknown', device: 'bot' });
    });
  }
  test('no user agent is a person of unknown kind (as isbot says); one too long to be a browser is a bot', () => {
    assert.deepEqual(classifyAgent(undefined), { bot: false, browser: 'unknown', os: 'unknown', device: 'unknown' });
    assert.deepEqual(classifyAgent(''), classifyAgent(undefined));
    assert.deepEqual(classifyAgent(`Mozilla/5.0 ${'x'.repeat(600)}`), { bot: true, browser: 'other', os: 'unknown', device: 'bot' });
  });
  test('an agent is parsed once and then answered from the cache', () => {
    const agent = PEOPLE['Firefox on Linux'][0];
    assert.equal(classifyAgent(agent), classifyAgent(agent));
  });
});

describe('referrerHost', () => {
  const cases: [string | undefined, string][] = [
    [undefined, 'direct'],
    ['', 'direct'],
    ['https://www.google.com/', 'google.com'],
    ['https://News.YCombinator.com/item?id=1', 'news.ycombinator.com'],
    ['http://user:secret@example.org:8080/path#x', 'example.org'],
    ['https://t.co', 't.co'],
    ['https://[2001:db8::1]:443/x', '[2001:db8::1]'],
    ['android-app://com.slack/', 'direct'],
    ['javascript:alert(1)', 'direct'],
    ['https://exa mple.com/', 'direct'],
    [`https://${'a'.repeat(120)}.com/`, 'direct'],
  ];
  for (const [referer, host] of cases) {
    test(`${JSON.stringify(referer)} → ${host}`, () => assert.equal(referrerHost(referer), host));
  }
});

describe('isPrefetch', () => {
  test('the three prefetch headers browsers send', () => {
    assert.equal(isPrefetch({ 'sec-purpose': 'prefetch' }), true);
    assert.equal(isPrefetch({ 'sec-purpose': 'prefetch;prerender' }), true);
    assert.equal(isPrefetch({ purpose: 'prefetch' }), true);
    assert.equal(isPrefetch({ 'x-moz': 'prefetch' }), true);
  });
  test('an ordinary navigation is not', () => {
    assert.equal(isPrefetch({}), false);
    assert.equal(isPrefetch({ 'user-agent': 'prefetch' }), false);
  });
});
