import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import type { AppContext } from '../context.ts';
import { DomainError } from '../errors.ts';
import { normalizeHost } from '../services/blocklist.ts';
import { requireAdmin } from '../services/bookmarks.ts';
import { CONTENT_TYPES, EXPORT_FORMATS, type ExportFormat, exportStream } from '../services/export.ts';
import type { AuditPage } from '../store/access-types.ts';
import { InvalidCursorError } from '../store/types.ts';
import { answerOtherMethods } from './allow-methods.ts';

const hostBodySchema = {
  type: 'object',
  required: ['host'],
  additionalProperties: false,
  properties: { host: { type: 'string', minLength: 1, maxLength: 253 } },
} as const;

const auditQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 500 },
    cursor: { type: 'string', maxLength: 200 },
  },
} as const;

const exportQuerySchema = {
  type: 'object',
  required: ['format'],
  additionalProperties: false,
  properties: { format: { type: 'string', enum: EXPORT_FORMATS } },
} as const;

/** Response schemas: compiled serialisation, and the OpenAPI document (docs/openapi.json). */
const blockedHostSchema = {
  type: 'object',
  required: ['host', 'addedAt', 'addedBy'],
  properties: { host: { type: 'string' }, addedAt: { type: 'string', format: 'date-time' }, addedBy: { type: 'string' } },
} as const;
const auditPageSchema = {
  type: 'object',
  required: ['items', 'nextCursor'],
  properties: {
    items: {
      type: 'array',
      items: {
        type: 'object',
        required: ['at', 'actor', 'action', 'subject', 'detail'],
        properties: {
          at: { type: 'string', format: 'date-time' },
          actor: { type: 'string' },
          action: { type: 'string' },
          subject: { type: 'string' },
          detail: { type: ['string', 'null'] },
        },
      },
    },
    nextCursor: { type: ['string', 'null'] },
  },
} as const;
const hostAnswerSchema = { type: 'object', required: ['host'], properties: { host: { type: 'string' } } } as const;

/**
 * The admin key's API: disabling and enabling a link, the blocklist, the audit trail, the export. Every route
 * needs a bearer key (401) of the admin role (403 FORBIDDEN for an author).
 */
export function registerAdminApiRoutes(app: FastifyInstance, { service, config, auth, store }: AppContext): void {
  async function requireAdminKey(request: FastifyRequest, what: string): Promise<Principal> {
    const principal = await auth.fromAuthorization(request.headers.authorization);
    if (principal === undefined) throw new DomainError('UNAUTHORIZED', 'An admin API key is required: send Authorization: Bearer lyk_….');
    requireAdmin(principal, what);
    return principal;
  }

  for (const [action, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    const url = `/api/bookmarks/:name/${action}`;
    app.post<{ Params: { name: string } }>(url, async (request, reply) => {
      const principal = await requireAdminKey(request, `${action} links`);
      await service.setDisabled(request.params.name, disabled, principal);
      return reply.code(204).send();
    });
    answerOtherMethods(app, url, ['POST']);
  }

  const blocklistSchema = {
    type: 'object',
    required: ['items'],
    properties: { items: { type: 'array', items: blockedHostSchema } },
  } as const;
  app.get('/api/blocklist', { schema: { response: { 200: blocklistSchema } } }, async (request) => {
    await requireAdminKey(request, 'read the blocklist');
    const hosts = await store.access.listBlockedHosts();
    return { items: hosts.map((entry) => ({ host: entry.host, addedAt: entry.addedAt.toISOString(), addedBy: entry.addedBy })) };
  });

  app.post<{ Body: { host: string } }>(
    '/api/blocklist',
    { schema: { body: hostBodySchema, response: { 200: hostAnswerSchema, 201: hostAnswerSchema } } },
    async (request, reply) => {
      const principal = await requireAdminKey(request, 'change the blocklist');
      const host = normalizeHost(request.body.host);
      const added = await service.blockHosts([host], principal.name);
      // 201 for a host newly listed, 200 for one that was already.
      return reply.code(added > 0 ? 201 : 200).send({ host });
    },
  );

  app.delete<{ Params: { host: string } }>('/api/blocklist/:host', async (request, reply) => {
    const principal = await requireAdminKey(request, 'change the blocklist');
    if (!(await service.unblockHost(request.params.host, principal.name))) {
      throw new DomainError('NOT_FOUND', `'${request.params.host}' is not on the blocklist.`);
    }
    return reply.code(204).send();
  });

  app.get<{ Querystring: { limit?: number; cursor?: string } }>(
    '/api/audit',
    { schema: { querystring: auditQuerySchema, response: { 200: auditPageSchema } } },
    async (request) => {
      await requireAdminKey(request, 'read the audit trail');
      let page: AuditPage;
      try {
        page = await store.access.listAudit({ limit: request.query.limit ?? config.pageSize, cursor: request.query.cursor });
      } catch (error) {
        if (error instanceof InvalidCursorError)
          throw new DomainError('INVALID_CURSOR', 'That page link is not valid (the cursor is malformed).');
        throw error;
      }
      return { items: page.items.map((entry) => ({ ...entry, at: entry.at.toISOString() })), nextCursor: page.nextCursor };
    },
  );

  // Every link, streamed as the store is read (docs/data.md): the export command's output, over HTTP.
  app.get<{ Querystring: { format: ExportFormat } }>(
    '/api/export',
    {
      schema: {
        querystring: exportQuerySchema,
        response: {
          200: {
            description: 'Every link, streamed, as `npm run export` writes it (docs/data.md).',
            content: {
              'application/x-ndjson': {
                schema: { type: 'string', description: 'linkyard NDJSON: a header line, a line a link, a footer line.' },
              },
              'text/csv': { schema: { type: 'string', description: 'A header and a row a link; formula-like cells defused.' } },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const principal = await requireAdminKey(request, 'export the links');
      const { format } = request.query;
      await store.access.audit({ actor: principal.name, action: 'links.export', subject: `${format} export`, detail: null });
      return reply
        .type(CONTENT_TYPES[format])
        .header('content-disposition', `attachment; filename="linkyard-links.${format}"`)
        .header('cache-control', 'no-store')
        .send(exportStream(store, format));
    },
  );

  answerOtherMethods(app, '/api/blocklist', ['GET', 'POST']);
  answerOtherMethods(app, '/api/blocklist/:host', ['DELETE']);
  answerOtherMethods(app, '/api/audit', ['GET']);
  answerOtherMethods(app, '/api/export', ['GET']);
}
