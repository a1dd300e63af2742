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
 * host lower-cased, without port, credentials or a leading `www.`. String operations only: a URL
 * parse per redirect costs more than the rest of the counting.
 */
export function referrerHost(referer: string | undefined): string {
  if (referer === undefined) return DIRECT;
  const scheme = referer.indexOf('://');
  if (scheme < 4 || scheme > 5) return DIRECT;
  const protocol = referer.slice(0, scheme).toLowerCase();
  if (protocol !== 'http' && protocol !== 'https') return DIRECT;
  let end = referer.length;
  for (let i = scheme + 3; i < referer.length; i++) {
    const c = referer.charCodeAt(i);
    // '/', '?', '#'
    if (c === 47 || c === 63 || c === 35) {
      end = i;
      break;
    }
  }
  let host = referer.slice(scheme + 3, end);
  const at = host.lastIndexOf('@');
  if (at >= 0) host = host.slice(at + 1);
  // IPv6 literals keep their brackets; a port after them or after a name goes.
  const colon = host.startsWith('[') ? host.indexOf(':', host.indexOf(']')) : host.indexOf(':');
  if (colon >= 0) host = host.slice(0, colon);
  host = host.toLowerCase();
  if (host.startsWith('www.')) host = host.slice(4);
  if (host === '' || host.length > MAX_HOST_LENGTH || !/^[a-z0-9.\-[\]:]+$/.test(host)) return DIRECT;
  return host;
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
