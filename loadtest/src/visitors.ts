import { Agent, request } from 'undici';
import { BrowserCache, type CachePolicy } from './browser-cache.ts';

/**
 * Visitors that behave like browsers: each visit loads the page, the stylesheet it links and one
 * short link, asking its own BrowserCache before every request. Each visitor keeps one cache for
 * all its visits, as one browser would; visitors run side by side, visits of one visitor in turn.
 *
 * The page also links a script, a logo and a favicon; a browser caches them exactly like the
 * stylesheet. They are left out so a visit is the seed's three requests, a third of them CSS.
 */
export interface VisitorOptions {
  baseUrl: string;
  visitors: number;
  visitsPerVisitor: number;
  policy: CachePolicy;
  names: readonly string[];
}

export type Resource = 'page' | 'stylesheet' | 'redirect';

export interface VisitTotals {
  visits: number;
  /** Requests the browsers sent (a stylesheet served from cache sends none). */
  clientRequests: number;
  sent: Record<Resource, number>;
  /** Uses answered by the cache without a request. */
  fromCache: number;
  /** Conditional requests answered 304 Not Modified. */
  notModified: number;
  /** Stylesheet bodies actually transferred (200). */
  stylesheetDownloads: number;
  bytesReceived: number;
  failed: number;
  statuses: Record<string, number>;
}

const STYLESHEET = /<link\s+rel="stylesheet"\s+href="([^"]+)"/;
const EXPECTED: Readonly<Record<Resource, readonly number[]>> = { page: [200], stylesheet: [200, 304], redirect: [303] };

export class VisitorLoad {
  readonly totals: VisitTotals = {
    visits: 0,
    clientRequests: 0,
    sent: { page: 0, stylesheet: 0, redirect: 0 },
    fromCache: 0,
    notModified: 0,
    stylesheetDownloads: 0,
    bytesReceived: 0,
    failed: 0,
    statuses: {},
  };
  inFlight = 0;
  readonly #options: VisitorOptions;
  readonly #agent: Agent;

  constructor(options: VisitorOptions) {
    if (options.names.length === 0) throw new Error('visitors need at least one short name to follow');
    this.#options = options;
    // One connection per visitor, as a browser keeps one open to a site between page loads.
    this.#agent = new Agent({ connections: options.visitors, keepAliveTimeout: 10_000 });
  }

  async run(): Promise<VisitTotals> {
    const visitors = Array.from({ length: this.#options.visitors }, (_, i) => this.#visitor(i));
    await Promise.all(visitors);
    await this.#agent.close();
    return this.totals;
  }

  async #visitor(index: number): Promise<void> {
    const cache = new BrowserCache(this.#options.policy);
    const { names, visitsPerVisitor } = this.#options;
    for (let visit = 0; visit < visitsPerVisitor; visit++) {
      const page = await this.#get(cache, 'page', '/');
      const stylesheet = page === undefined ? undefined : STYLESHEET.exec(page)?.[1];
      if (stylesheet === undefined) this.totals.failed++;
      else await this.#get(cache, 'stylesheet', stylesheet);
      await this.#get(cache, 'redirect', `/${names[(index * visitsPerVisitor + visit) % names.length] ?? ''}`);
      this.totals.visits++;
    }
  }

  /** One resource through the cache; the page's HTML is returned so its stylesheet can be found. */
  async #get(cache: BrowserCache, resource: Resource, path: string): Promise<string | undefined> {
    const decision = cache.decide(path, Date.now());
    if (decision.kind === 'from-cache') {
      this.totals.fromCache++;
      return undefined;
    }
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (decision.kind === 'revalidate') Object.assign(headers, decision.headers);
    this.totals.clientRequests++;
    this.totals.sent[resource]++;
    this.inFlight++;
    try {
      const response = await request(new URL(path, this.#options.baseUrl), {
        dispatcher: this.#agent,
        headers,
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      const body = await response.body.text();
      const status = response.statusCode;
      this.totals.statuses[status] = (this.totals.statuses[status] ?? 0) + 1;
      this.totals.bytesReceived += Buffer.byteLength(body);
      if (status === 304) this.totals.notModified++;
      if (resource === 'stylesheet' && status === 200) this.totals.stylesheetDownloads++;
      if (!EXPECTED[resource].includes(status)) this.totals.failed++;
      cache.update(path, status, response.headers, Date.now());
      return resource === 'page' ? body : undefined;
    } catch {
      this.totals.failed++;
      this.totals.statuses['0'] = (this.totals.statuses['0'] ?? 0) + 1;
      return undefined;
    } finally {
      this.inFlight--;
    }
  }
}
