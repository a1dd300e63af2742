import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';

const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * Only for the app running alone (`npm run app`): behind nginx, SERVE_STATIC is off and nginx
 * serves these files itself, so the app never sees a request for them.
 */
export function registerStaticRoutes(app: FastifyInstance, { assets }: AppContext): void {
  for (const [file, asset] of assets) {
    const send = async (_request: unknown, reply: import('fastify').FastifyReply) =>
      reply.header('cache-control', IMMUTABLE).type(asset.contentType).send(asset.body);
    app.get(asset.url, send);
    if (file === 'favicon.ico') app.get('/favicon.ico', send);
  }
}
