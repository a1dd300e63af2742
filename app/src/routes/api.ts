import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import { DomainError } from '../errors.ts';
import { MAX_URI_LENGTH } from '../services/validation.ts';
import type { Bookmark } from '../store/types.ts';
import { clientAbortSignal } from './abort-signal.ts';
import { answerOtherMethods } from './allow-methods.ts';

export interface BookmarkJson {
  name: string;
  uri: string;
  shortUrl: string;
  title: string | null;
  checkStatus: number;
  visits: number;
  createdAt: string;
}

const createBodySchema = {
  type: 'object',
  required: ['uri'],
  additionalProperties: false,
  properties: {
    uri: { type: 'string', minLength: 1, maxLength: MAX_URI_LENGTH * 2 },
    name: { type: 'string', maxLength: 256 },
  },
} as const;

const listQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 500 },
    cursor: { type: 'string', maxLength: 200 },
  },
} as const;

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The JSON API for programs. Errors are `{ error, message }` (see the app's error handler). */
export function registerApiRoutes(app: FastifyInstance, { service, config }: AppContext): void {
  const toJson = (bookmark: Bookmark): BookmarkJson => ({
    name: bookmark.name,
    uri: bookmark.uri,
    shortUrl: new URL(bookmark.name, config.publicUrl).href,
    title: bookmark.title,
    checkStatus: bookmark.checkStatus,
    visits: bookmark.visits,
    createdAt: bookmark.createdAt.toISOString(),
  });

  function requireToken(request: FastifyRequest): void {
    if (config.apiToken === undefined) {
      throw new DomainError('API_DISABLED', 'Deleting is disabled: the server has no API_TOKEN configured.');
    }
    const header = request.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    if (!sameSecret(token, config.apiToken)) {
      throw new DomainError('UNAUTHORIZED', 'A valid bearer token is required.');
    }
  }

  app.post<{ Body: { uri: string; name?: string } }>('/api/bookmarks', { schema: { body: createBodySchema } }, async (request, reply) => {
    const { bookmark, created } = await service.create(request.body, clientAbortSignal(reply));
    // 201 for a new bookmark; 200 for an idempotent repeat of an existing one.
    return reply
      .code(created ? 201 : 200)
      .header('location', `/api/bookmarks/${bookmark.name}`)
      .send(toJson(bookmark));
  });

  app.get<{ Querystring: { limit?: number; cursor?: string } }>(
    '/api/bookmarks',
    { schema: { querystring: listQuerySchema } },
    async (request) => {
      const page = await service.list(request.query.limit ?? config.pageSize, request.query.cursor);
      return { items: page.items.map(toJson), nextCursor: page.nextCursor };
    },
  );

  app.get<{ Params: { name: string } }>('/api/bookmarks/:name', async (request) => {
    const bookmark = await service.get(request.params.name);
    if (!bookmark) throw new DomainError('NOT_FOUND', `I don't know '${request.params.name}'.`);
    return toJson(bookmark);
  });

  app.delete<{ Params: { name: string } }>('/api/bookmarks/:name', async (request, reply) => {
    requireToken(request);
    const deleted = await service.delete(request.params.name);
    if (!deleted) throw new DomainError('NOT_FOUND', `I don't know '${request.params.name}'.`);
    return reply.code(204).send();
  });

  answerOtherMethods(app, '/api/bookmarks', ['GET', 'POST']);
  answerOtherMethods(app, '/api/bookmarks/:name', ['GET', 'DELETE']);
}
