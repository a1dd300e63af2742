import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import type { AppContext } from '../context.ts';
import { DomainError } from '../errors.ts';
import { type CreateRequest, type EditRequest, isExpired, MAX_TITLE_LENGTH } from '../services/bookmarks.ts';
import { unreachableSince } from '../services/rechecks.ts';
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
  /** A key's name, `form`, `anonymous`, or null for links made before keys existed. */
  createdBy: string | null;
  /** ISO 8601, or null: never. */
  expiresAt: string | null;
  maxVisits: number | null;
  /** Past its date or its visits: the link answers 410 (LINK_EXPIRED) until renewed by an edit. */
  expired: boolean;
  forwardQuery: boolean;
  /** When the target was last fetched: at create, at an edit of it, or by a background re-check. */
  checkedAt: string;
  /** Set once re-checks failed FAILURES_TO_FLAG times in a row: since when. The link still redirects. */
  unreachableSince: string | null;
  /** Why the last re-check failed; null when it succeeded. */
  checkError: string | null;
}

/**
 * The bookmark as answered: also the response schema, so Fastify serialises it with a compiled
 * serializer instead of JSON.stringify, and the OpenAPI document describes it. Every field of
 * BookmarkJson must be here (a field left out would be left out of the answer).
 */
const bookmarkJsonSchema = {
  type: 'object',
  required: [
    'name',
    'uri',
    'shortUrl',
    'title',
    'checkStatus',
    'visits',
    'createdAt',
    'createdBy',
    'expiresAt',
    'maxVisits',
    'expired',
    'forwardQuery',
    'checkedAt',
    'unreachableSince',
    'checkError',
  ],
  properties: {
    name: { type: 'string' },
    uri: { type: 'string' },
    shortUrl: { type: 'string' },
    title: { type: ['string', 'null'] },
    checkStatus: { type: 'integer' },
    visits: { type: 'integer' },
    createdAt: { type: 'string', format: 'date-time' },
    createdBy: { type: ['string', 'null'] },
    expiresAt: { type: ['string', 'null'], format: 'date-time' },
    maxVisits: { type: ['integer', 'null'] },
    expired: { type: 'boolean' },
    forwardQuery: { type: 'boolean' },
    checkedAt: { type: 'string', format: 'date-time' },
    unreachableSince: { type: ['string', 'null'], format: 'date-time' },
    checkError: { type: ['string', 'null'] },
  },
} as const;

const bookmarkPageSchema = {
  type: 'object',
  required: ['items', 'nextCursor', 'partial'],
  properties: {
    items: { type: 'array', items: bookmarkJsonSchema },
    nextCursor: { type: ['string', 'null'] },
    /** A search that stopped at its work budget before filling the page: nextCursor continues below what it examined. */
    partial: { type: 'boolean' },
  },
} as const;

const nameParamsSchema = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string' } },
} as const;

/** Expiry and forwarding, on create and edit alike (checked by parseLinkOptions for clear codes). */
const linkOptionProperties = {
  expiresAt: { type: ['string', 'null'], maxLength: 64 },
  maxVisits: { type: ['number', 'null'] },
  forwardQuery: { type: 'boolean' },
} as const;

const createBodySchema = {
  type: 'object',
  required: ['uri'],
  additionalProperties: false,
  properties: {
    uri: { type: 'string', minLength: 1, maxLength: MAX_URI_LENGTH * 2 },
    name: { type: 'string', maxLength: 256 },
    ...linkOptionProperties,
  },
} as const;

/** Any subset; at least one field. `title: null` clears the title. */
const editBodySchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    uri: { type: 'string', minLength: 1, maxLength: MAX_URI_LENGTH * 2 },
    title: { type: ['string', 'null'], maxLength: MAX_TITLE_LENGTH },
    ...linkOptionProperties,
  },
} as const;

const listQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 500 },
    cursor: { type: 'string', maxLength: 200 },
    /** Search: name, target or title contain it (3 characters or more). */
    q: { type: 'string', maxLength: 200 },
  },
} as const;

/** The JSON API for programs. Errors are `{ error, message }` (see the app's error handler). */
export function registerApiRoutes(app: FastifyInstance, { service, config, auth }: AppContext): void {
  const toJson = (bookmark: Bookmark): BookmarkJson => ({
    name: bookmark.name,
    uri: bookmark.uri,
    shortUrl: new URL(bookmark.name, config.publicUrl).href,
    title: bookmark.title,
    checkStatus: bookmark.checkStatus,
    visits: bookmark.visits,
    createdAt: bookmark.createdAt.toISOString(),
    createdBy: bookmark.createdBy,
    expiresAt: bookmark.expiresAt?.toISOString() ?? null,
    maxVisits: bookmark.maxVisits,
    expired: isExpired({ ...bookmark, expiresAt: bookmark.expiresAt?.getTime() ?? null }, 0, Date.now()),
    forwardQuery: bookmark.forwardQuery,
    checkedAt: bookmark.checkedAt.toISOString(),
    unreachableSince: unreachableSince(bookmark)?.toISOString() ?? null,
    checkError: bookmark.checkError,
  });

  /** The API takes bearer keys only, never the page's cookie: a cross-site script cannot borrow a session here. */
  async function requireKey(request: FastifyRequest): Promise<Principal> {
    const principal = await auth.fromAuthorization(request.headers.authorization);
    if (principal === undefined) throw new DomainError('UNAUTHORIZED', 'An API key is required: send Authorization: Bearer lyk_….');
    return principal;
  }

  /** Private mode: reading the list or a link's details needs a key too. */
  async function requireKeyWhenPrivate(request: FastifyRequest): Promise<void> {
    if (config.private) await requireKey(request);
  }

  app.post<{ Body: Omit<CreateRequest, 'createdBy'> }>(
    '/api/bookmarks',
    { schema: { body: createBodySchema, response: { 200: bookmarkJsonSchema, 201: bookmarkJsonSchema } } },
    async (request, reply) => {
      const principal = config.private ? await requireKey(request) : await auth.fromAuthorization(request.headers.authorization);
      const createdBy = principal?.name ?? 'anonymous';
      const { bookmark, created } = await service.create({ ...request.body, createdBy }, clientAbortSignal(reply));
      // 201 for a new bookmark; 200 for an idempotent repeat of an existing one.
      return reply
        .code(created ? 201 : 200)
        .header('location', `/api/bookmarks/${bookmark.name}`)
        .send(toJson(bookmark));
    },
  );

  app.get<{ Querystring: { limit?: number; cursor?: string; q?: string } }>(
    '/api/bookmarks',
    { schema: { querystring: listQuerySchema, response: { 200: bookmarkPageSchema } } },
    async (request) => {
      await requireKeyWhenPrivate(request);
      const { limit = config.pageSize, cursor, q } = request.query;
      const page = q === undefined ? { ...(await service.list(limit, cursor)), partial: false } : await service.search(q, limit, cursor);
      return { items: page.items.map(toJson), nextCursor: page.nextCursor, partial: page.partial };
    },
  );

  app.get<{ Params: { name: string } }>(
    '/api/bookmarks/:name',
    { schema: { params: nameParamsSchema, response: { 200: bookmarkJsonSchema } } },
    async (request) => {
      await requireKeyWhenPrivate(request);
      const bookmark = await service.get(request.params.name);
      if (!bookmark) throw new DomainError('NOT_FOUND', `I don't know '${request.params.name}'.`);
      return toJson(bookmark);
    },
  );

  app.delete<{ Params: { name: string } }>('/api/bookmarks/:name', { schema: { params: nameParamsSchema } }, async (request, reply) => {
    await service.delete(request.params.name, await requireKey(request));
    return reply.code(204).send();
  });

  // A key as for DELETE: an admin edits any link, an author its own.
  app.patch<{ Params: { name: string }; Body: EditRequest }>(
    '/api/bookmarks/:name',
    { schema: { params: nameParamsSchema, body: editBodySchema, response: { 200: bookmarkJsonSchema } } },
    async (request, reply) => {
      const principal = await requireKey(request);
      // Unknown fields are dropped by the schema (as on create), so `{ name }` arrives empty: say so.
      if (Object.keys(request.body).length === 0) {
        throw new DomainError('MISSING_FIELD', 'Send at least one field to change: uri, title, expiresAt, maxVisits or forwardQuery.');
      }
      return toJson(await service.edit(request.params.name, request.body, principal, clientAbortSignal(reply)));
    },
  );

  answerOtherMethods(app, '/api/bookmarks', ['GET', 'POST']);
  answerOtherMethods(app, '/api/bookmarks/:name', ['GET', 'PATCH', 'DELETE']);
}
