import type { FastifyInstance } from 'fastify';
import QRCode from 'qrcode';
import type { AppContext } from '../context.ts';
import { DomainError } from '../errors.ts';
import { assetUrl } from '../static-assets.ts';
import { parseRange, type StatsReport, statsReport } from '../stats/report.ts';
import { DAY_MS, HOUR_MS } from '../store/stats-types.ts';
import type { Bookmark } from '../store/types.ts';
import { renderSignIn } from '../views/sign-in.ts';
import { PAGE_RANGES, renderStatsPage } from '../views/stats.ts';
import { answerOtherMethods } from './allow-methods.ts';

/** `+` ends the name: names cannot contain it, so `/<name>+` never shadows a bookmark. */
const NAME = ':name([A-Za-z0-9_-]{1,64})';

const statsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { type: 'string', maxLength: 40 },
    to: { type: 'string', maxLength: 40 },
    granularity: { type: 'string', maxLength: 10 },
  },
} as const;

function reportJson(bookmark: Bookmark, shortUrl: string, report: StatsReport) {
  const { granularity, from, to } = report.range;
  const unit = granularity === 'day' ? DAY_MS : HOUR_MS;
  return {
    name: bookmark.name,
    shortUrl,
    visits: bookmark.visits,
    granularity,
    from: new Date(from * unit).toISOString(),
    to: new Date(to * unit).toISOString(),
    totals: report.totals,
    series: report.series.map((point) => ({ start: point.start.toISOString(), visits: point.visits, bots: point.bots })),
    top: report.top,
  };
}

/** The stats of a link: `GET /api/bookmarks/<name>/stats`, the page `/<name>+` and its QR code `/<name>+qr.svg`. */
export function registerStatsRoutes(app: FastifyInstance, context: AppContext): void {
  const { service, store, config, assets, auth } = context;
  const shortUrlOf = (name: string) => new URL(name, config.publicUrl).href;

  /** Private mode: stats follow the list, so a signed-out person (or a request without a key) sees none. */
  async function mayReadPage(cookie: string | undefined): Promise<boolean> {
    return !config.private || (await auth.fromCookie(cookie)) !== undefined;
  }
  async function requireKeyWhenPrivate(authorization: string | undefined): Promise<void> {
    if (config.private && (await auth.fromAuthorization(authorization)) === undefined) {
      throw new DomainError('UNAUTHORIZED', 'An API key is required: send Authorization: Bearer lyk_….');
    }
  }

  async function known(name: string): Promise<Bookmark> {
    const bookmark = await service.get(name);
    if (bookmark === undefined) throw new DomainError('NOT_FOUND', `I don't know '${name}'.`);
    return bookmark;
  }

  app.get<{ Params: { name: string }; Querystring: { from?: string; to?: string; granularity?: string } }>(
    '/api/bookmarks/:name/stats',
    { schema: { querystring: statsQuerySchema } },
    async (request) => {
      await requireKeyWhenPrivate(request.headers.authorization);
      if (!config.stats.enabled)
        throw new DomainError('STATS_DISABLED', 'Stats beyond the total are turned off on this server (STATS=false).');
      const range = parseRange(request.query, Date.now(), config.stats.hourlyDays);
      const bookmark = await known(request.params.name);
      return reportJson(bookmark, shortUrlOf(bookmark.name), await statsReport(store, bookmark.name, range));
    },
  );

  app.get<{ Params: { name: string }; Querystring: { range?: string } }>(`/${NAME}+`, async (request, reply) => {
    if (!(await mayReadPage(request.headers.cookie))) {
      const notice = 'This bookmark server is private: sign in with your key to see its links and their stats.';
      return reply
        .header('cache-control', 'no-store')
        .type('text/html; charset=utf-8')
        .send(renderSignIn({ stylesheetUrl: assetUrl(assets, 'style.css'), logoUrl: assetUrl(assets, 'logo.svg'), notice }));
    }
    const wanted = request.query.range ?? '7d';
    const range = PAGE_RANGES.find((option) => option.value === wanted);
    if (range === undefined) {
      throw new DomainError(
        'INVALID_STATS_QUERY',
        `'range' is one of ${PAGE_RANGES.map((option) => option.value).join(', ')}, not '${wanted}'.`,
      );
    }
    const bookmark = await known(request.params.name);
    const now = Date.now();
    const query = {
      from: new Date(now - range.days * DAY_MS).toISOString(),
      to: new Date(now).toISOString(),
      granularity: range.granularity,
    };
    const report = config.stats.enabled
      ? await statsReport(store, bookmark.name, parseRange(query, now, config.stats.hourlyDays))
      : undefined;
    const html = renderStatsPage({
      bookmark,
      shortUrl: shortUrlOf(bookmark.name),
      range,
      report,
      stylesheetUrl: assetUrl(assets, 'style.css'),
      statsStylesheetUrl: assetUrl(assets, 'stats.css'),
      logoUrl: assetUrl(assets, 'logo.svg'),
    });
    return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(html);
  });

  app.get<{ Params: { name: string } }>(`/${NAME}+qr.svg`, async (request, reply) => {
    if (!(await mayReadPage(request.headers.cookie))) throw new DomainError('UNAUTHORIZED', "Sign in to see this link's QR code.");
    const bookmark = await known(request.params.name);
    const svg = await QRCode.toString(shortUrlOf(bookmark.name), { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    // A name keeps its URI for life, but a deleted name can be taken again: a day, not forever (and
    // never in a shared cache when the instance is private).
    const cache = config.private ? 'private, max-age=86400' : 'public, max-age=86400';
    return reply.header('cache-control', cache).type('image/svg+xml; charset=utf-8').send(svg);
  });

  answerOtherMethods(app, '/api/bookmarks/:name/stats', ['GET']);
  answerOtherMethods(app, `/${NAME}+`, ['GET']);
  answerOtherMethods(app, `/${NAME}+qr.svg`, ['GET']);
}
