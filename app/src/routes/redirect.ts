import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import { NAME_PATTERN } from '../services/validation.ts';
import { answerOtherMethods } from './allow-methods.ts';

/** GET /<name> → 303 to the long URI: the hot path, no write (visits are counted in memory). */
export function registerRedirectRoute(app: FastifyInstance, { service }: AppContext): void {
  app.get<{ Params: { name: string } }>('/:name', async (request, reply) => {
    const { name } = request.params;
    const uri = NAME_PATTERN.test(name) ? await service.resolve(name) : undefined;
    if (uri === undefined) {
      return reply.code(404).type('text/plain; charset=utf-8').send(`I don't know '${name}'.`);
    }
    // Browsers and caches ask again each time, so that a deleted bookmark stops redirecting.
    return reply.code(303).header('location', uri).header('cache-control', 'no-store').send();
  });
  answerOtherMethods(app, '/:name', ['GET']);
}
