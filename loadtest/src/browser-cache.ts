/**
 * A browser's private HTTP cache, reduced to what decides whether a request is sent at all
 * (RFC 9111): freshness from max-age (or Expires), no-cache and no-store, and revalidation with
 * If-None-Match / If-Modified-Since answered by 304. Left out on purpose: heuristic freshness
 * (a response without max-age or Expires is treated as stale, the conservative choice), Vary
 * (nothing here varies) and the reload button.
 */
export type CachePolicy = 'none' | 'validate' | 'browser';

export const CACHE_POLICIES: Readonly<Record<CachePolicy, string>> = {
  none: 'nothing kept: every visit fetches everything (the seed\'s "before")',
  validate: 'copies kept but always revalidated: If-None-Match → 304 (what an ETag alone buys)',
  browser: 'Cache-Control honoured: nothing sent while fresh, revalidated when stale (the seed\'s "after")',
};

export type Headers = Readonly<Record<string, string | string[] | undefined>>;

export type Decision =
  | { kind: 'from-cache' }
  | { kind: 'revalidate'; headers: Record<string, string> }
  | { kind: 'fetch' };

interface Stored {
  /** When the response was received (or last revalidated), minus the Age it arrived with. */
  bornAt: number;
  freshForMs: number;
  noCache: boolean;
  etag: string | undefined;
  lastModified: string | undefined;
}

/** Status codes a cache may store (RFC 9110 §15.1 "heuristically cacheable", minus the exotic). */
const STORABLE_STATUS = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]);

export function parseCacheControl(value: string | undefined): Map<string, string | true> {
  const directives = new Map<string, string | true>();
  if (value === undefined) return directives;
  for (const part of value.split(',')) {
    const [rawName = '', ...rest] = part.split('=');
    const name = rawName.trim().toLowerCase();
    if (name === '') continue;
    directives.set(name, rest.length === 0 ? true : rest.join('=').trim().replace(/^"(.*)"$/, '$1'));
  }
  return directives;
}

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function seconds(value: string | true | undefined): number | undefined {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined;
  return Number(value) * 1000;
}

/** max-age wins over Expires; without either a response is stale at once (no heuristics). */
export function freshnessLifetimeMs(headers: Headers): number {
  const directives = parseCacheControl(header(headers, 'cache-control'));
  const maxAge = seconds(directives.get('max-age'));
  if (maxAge !== undefined) return maxAge;
  const expires = Date.parse(header(headers, 'expires') ?? '');
  const date = Date.parse(header(headers, 'date') ?? '');
  if (!Number.isNaN(expires) && !Number.isNaN(date)) return Math.max(0, expires - date);
  return 0;
}

export class BrowserCache {
  readonly policy: CachePolicy;
  readonly #entries = new Map<string, Stored>();

  constructor(policy: CachePolicy) {
    this.policy = policy;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Whether to send a request for `url` at time `now` (ms), and with which conditional headers. */
  decide(url: string, now: number): Decision {
    const entry = this.#entries.get(url);
    if (entry === undefined) return { kind: 'fetch' };
    const fresh = !entry.noCache && now - entry.bornAt < entry.freshForMs;
    if (fresh && this.policy === 'browser') return { kind: 'from-cache' };
    const headers: Record<string, string> = {};
    if (entry.etag !== undefined) headers['if-none-match'] = entry.etag;
    if (entry.lastModified !== undefined) headers['if-modified-since'] = entry.lastModified;
    return Object.keys(headers).length === 0 ? { kind: 'fetch' } : { kind: 'revalidate', headers };
  }

  /** Feed every response back: 304 refreshes the stored copy, a storable answer replaces it. */
  update(url: string, status: number, headers: Headers, now: number): void {
    if (this.policy === 'none') return;
    const directives = parseCacheControl(header(headers, 'cache-control'));
    if (directives.has('no-store')) {
      this.#entries.delete(url);
      return;
    }
    const ageMs = seconds(header(headers, 'age')) ?? 0;
    if (status === 304) {
      const entry = this.#entries.get(url);
      if (entry === undefined) return;
      entry.bornAt = now - ageMs;
      if (directives.has('max-age') || header(headers, 'expires') !== undefined) entry.freshForMs = freshnessLifetimeMs(headers);
      entry.etag = header(headers, 'etag') ?? entry.etag;
      entry.lastModified = header(headers, 'last-modified') ?? entry.lastModified;
      return;
    }
    if (!STORABLE_STATUS.has(status)) {
      this.#entries.delete(url);
      return;
    }
    const etag = header(headers, 'etag');
    const lastModified = header(headers, 'last-modified');
    const freshForMs = freshnessLifetimeMs(headers);
    const noCache = directives.has('no-cache');
    // Nothing to gain from a copy that is never fresh and cannot be revalidated.
    if ((freshForMs === 0 || noCache) && etag === undefined && lastModified === undefined) {
      this.#entries.delete(url);
      return;
    }
    this.#entries.set(url, { bornAt: now - ageMs, freshForMs, noCache, etag, lastModified });
  }
}
