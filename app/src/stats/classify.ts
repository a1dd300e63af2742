import type { IncomingHttpHeaders } from 'node:http';
import { isbot } from 'isbot';
import { LRUCache } from 'lru-cache';
import UAParser from 'ua-parser-js';

/** What a user agent is counted as: family names only, never the string itself. */
export interface AgentClass {
  bot: boolean;
  /** A bot's family (`Slackbot`, `curl`…), or the browser's (`Chrome`, `Mobile Safari`…). */
  browser: string;
  os: string;
  /** `desktop`, `mobile`, `tablet`, `tv`, `console`, `wearable`, `embedded`, or `bot`. */
  device: string;
}

const UNKNOWN = 'unknown';

/** Bots whose user agent names them in a way the first-token rule below would miss. */
const KNOWN_BOTS: readonly [RegExp, string][] = [
  [/Slackbot/i, 'Slackbot'],
  [/SkypeUriPreview|MicrosoftPreview|Teams/i, 'Microsoft Teams/Skype'],
  [/Discordbot/i, 'Discordbot'],
  // Before Twitterbot: Telegram's agent says "like TwitterBot".
  [/TelegramBot/i, 'TelegramBot'],
  [/Twitterbot/i, 'Twitterbot'],
  [/facebookexternalhit|facebookcatalog|meta-externalagent/i, 'facebookexternalhit'],
  [/WhatsApp/i, 'WhatsApp'],
  [/LinkedInBot/i, 'LinkedInBot'],
  [/Googlebot|Google-InspectionTool|GoogleOther/i, 'Googlebot'],
  [/bingbot/i, 'bingbot'],
];

/** A bot's family: a known one, the product after "compatible;", or the first product token. */
function botFamily(userAgent: string): string {
  for (const [pattern, family] of KNOWN_BOTS) if (pattern.test(userAgent)) return family;
  const compatible = /compatible;\s*([A-Za-z][\w.-]{0,39})/.exec(userAgent);
  const first = /^([A-Za-z][\w.-]{0,39})/.exec(userAgent);
  return compatible?.[1] ?? first?.[1] ?? 'other';
}

const DEVICE_NAMES: Readonly<Record<string, string>> = {
  mobile: 'mobile',
  tablet: 'tablet',
  smarttv: 'tv',
  console: 'console',
  wearable: 'wearable',
  embedded: 'embedded',
};

function classifyUncached(userAgent: string): AgentClass {
  // No user agent at all is counted as a person, as isbot does: the total stays what it was for
  // clients that say nothing (curl, wget and k6 do say who they are, and are bots).
  if (userAgent === '') return { bot: false, browser: UNKNOWN, os: UNKNOWN, device: UNKNOWN };
  if (isbot(userAgent)) return { bot: true, browser: botFamily(userAgent), os: UNKNOWN, device: 'bot' };
  const { browser, os, device } = new UAParser(userAgent).getResult();
  return {
    bot: false,
    browser: browser.name ?? UNKNOWN,
    os: os.name ?? UNKNOWN,
    // ua-parser-js leaves the type unset for desktop browsers.
    device: device.type === undefined ? 'desktop' : (DEVICE_NAMES[device.type] ?? UNKNOWN),
  };
}

/** Distinct user agents remembered: a busy process sees a few hundred; parsing one costs ~30 µs. */
const REMEMBERED_AGENTS = 2000;
/** Longer strings are not remembered (nor worth a parse): anyone can send a megabyte of header. */
const MAX_AGENT_LENGTH = 512;

const agents = new LRUCache<string, AgentClass>({ max: REMEMBERED_AGENTS });
const OVERLONG: AgentClass = { bot: true, browser: 'other', os: UNKNOWN, device: 'bot' };

/** The class of a user agent, parsed once per distinct string while it stays in the cache. */
export function classifyAgent(userAgent: string | undefined): AgentClass {
  const agent = userAgent ?? '';
  if (agent.length > MAX_AGENT_LENGTH) return OVERLONG;
  let found = agents.get(agent);
  if (found === undefined) {
    found = classifyUncached(agent);
    agents.set(agent, found);
  }
  return found;
}

const MAX_HOST_LENGTH = 100;
export const DIRECT = 'direct';

/**
 * The host a visit came from: `direct` without a Referer (or one that is no http(s) URL), the
 * host lower-cased, without port, credentials or a leading `www.`. One pass over the characters
 * and one slice: a URL parse per redirect would cost more than the rest of the counting.
 */
export function referrerHost(referer: string | undefined): string {
  if (referer === undefined) return DIRECT;
  let start: number;
  if (referer.startsWith('https://')) start = 8;
  else if (referer.startsWith('http://')) start = 7;
  else return DIRECT;
  let end = referer.length;
  let port = -1;
  let upper = false;
  let bracket = false;
  for (let i = start; i < referer.length; i++) {
    const c = referer.charCodeAt(i);
    // '/', '?', '#' end the authority.
    if (c === 47 || c === 63 || c === 35) {
      end = i;
      break;
    }
    if (c === 64) {
      // '@': what came before is credentials.
      start = i + 1;
      port = -1;
      upper = false;
    } else if (c === 91) bracket = true;
    else if (c === 93) bracket = false;
    else if (c === 58) {
      if (!bracket && port < 0) port = i;
    } else if (c >= 65 && c <= 90) upper = true;
    else if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 46 || c === 45)) return DIRECT;
  }
  if (port >= 0) end = port;
  if (referer.startsWith('www.', start) || referer.startsWith('WWW.', start)) start += 4;
  if (end <= start || end - start > MAX_HOST_LENGTH) return DIRECT;
  const host = referer.slice(start, end);
  return upper ? host.toLowerCase() : host;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * A request a browser makes ahead of a click that may never come: not a visit. Chrome sends
 * `Sec-Purpose: prefetch` (and `prefetch;prerender`), older Chrome `Purpose: prefetch`, Firefox
 * `X-Moz: prefetch`.
 */
export function isPrefetch(headers: IncomingHttpHeaders): boolean {
  const purpose = headerValue(headers, 'sec-purpose') ?? headerValue(headers, 'purpose') ?? headerValue(headers, 'x-moz');
  return purpose?.toLowerCase().includes('prefetch') === true;
}
