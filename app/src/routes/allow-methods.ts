import type { FastifyInstance, HTTPMethods } from 'fastify';

const ALL_METHODS: readonly HTTPMethods[] = ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS'];

/**
 * Fastify answers 404 for a known path with an unknown method; HTTP says 405 with `Allow`.
 * OPTIONS gets 204 with the same `Allow`.
 */
export function answerOtherMethods(app: FastifyInstance, url: string, allowed: readonly HTTPMethods[]): void {
  const allow = [...allowed, ...(allowed.includes('GET') && !allowed.includes('HEAD') ? ['HEAD'] : [])].join(', ');
  const others = ALL_METHODS.filter((method) => !allowed.includes(method) && !(method === 'HEAD' && allowed.includes('GET')));
  app.route({
    method: others,
    url,
    handler: async (request, reply) => {
      reply.header('allow', allow);
      if (request.method === 'OPTIONS') return reply.code(204).send();
      return reply.code(405).type('text/plain; charset=utf-8').send(`Method ${request.method} is not allowed here; use ${allow}.`);
    },
  });
}
