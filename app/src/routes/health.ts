import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import { answerOtherMethods } from './allow-methods.ts';

export function registerHealthRoutes(app: FastifyInstance, { store, checker, lifecycle }: AppContext): void {
  // Alive: the event loop answers. Nothing else, so a slow store never gets the process killed.
  app.get('/healthz', async () => ({ status: 'ok' }));

  // Ready for traffic: store answers, checks can run, not shutting down.
  app.get('/readyz', async (_request, reply) => {
    const problems: string[] = [];
    if (lifecycle.draining) problems.push('draining');
    if (!checker.healthy) problems.push('check pool unavailable');
    try {
      await store.ping();
    } catch {
      problems.push('store unavailable');
    }
    if (problems.length > 0) return reply.code(503).send({ status: 'unavailable', problems });
    return { status: 'ready' };
  });

  answerOtherMethods(app, '/healthz', ['GET']);
  answerOtherMethods(app, '/readyz', ['GET']);
}
