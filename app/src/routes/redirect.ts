import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AppContext } from '../context.ts';
import { EXPIRED, GONE, type Resolved, STORED } from '../services/bookmarks.ts';
import { NAME_PATTERN } from '../services/validation.ts';
import { assetUrl } from '../static-assets.ts';
import { renderGone } from '../views/gone.ts';
import { answerOtherMethods } from './allow-methods.ts';

/** GET /<name> → 303 to the long URI: the hot path, no write (visits are counted in memory). */
export function registerRedirectRoute(app: FastifyInstance, { service, assets, visitOf }: AppContext): void {
  const chrome = { stylesheetUrl: assetUrl(assets, 'style.css'), logoUrl: assetUrl(assets, 'logo.svg') };
  const answer = (reply: FastifyReply, name: string, uri: Resolved): FastifyReply => {
    if (uri !== GONE && uri !== EXPIRED) return answerUri(reply, name, uri);
    reply.code(410).header('cache-control', 'no-store');
    // A program that asks for JSON gets the API's error shape; a person, the page.
    if (uri === EXPIRED && wantsJson(reply.request.headers.accept)) {
      return reply.send({ error: 'LINK_EXPIRED', message: `'${name}' has expired.` });
    }
    return reply.type('text/html; charset=utf-8').send(renderGone({ name, ...chrome, expired: uri === EXPIRED }));
  };
  // Not async: a name resolved lately, or read from SQLite, is answered within this call, with no
  // promise and no turn of the microtask queue; only a name read from PostgreSQL waits for it.
  // A store error thrown here goes to the error handler as a rejected read's does.
  app.get<{ Params: { name: string } }>('/:name', (request, reply) => {
    const { name } = request.params;
    if (!NAME_PATTERN.test(name)) return void answer(reply, name, undefined);
    // HEAD (Fastify runs this handler for it too) and prefetches are no visits; bots are counted apart.
    const visit = visitOf(request);
    // The raw query, passed on to the target (per link); a search for '?', not a parse.
    const queryAt = request.url.indexOf('?');
    const query = queryAt === -1 || queryAt === request.url.length - 1 ? undefined : request.url.slice(queryAt + 1);
    const recent = service.resolveRecent(name, visit, query);
    if (recent !== STORED) return void answer(reply, name, recent);
    return service.resolveStored(name, visit, query).then((uri) => answer(reply, name, uri));
  });
  answerOtherMethods(app, '/:name', ['GET']);
}

function wantsJson(accept: string | undefined): boolean {
  return accept?.includes('application/json') === true && !accept.includes('text/html');
}

function answerUri(reply: FastifyReply, name: string, uri: string | undefined): FastifyReply {
  if (uri === undefined) return reply.code(404).type('text/plain; charset=utf-8').send(`I don't know '${name}'.`);
  // Browsers and caches ask again each time, so that a deleted bookmark stops redirecting.
  return reply.code(303).header('location', uri).header('cache-control', 'no-store').send();
}
