import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import { answerOtherMethods } from './allow-methods.ts';

export function registerMetricsRoute(app: FastifyInstance, { metrics }: AppContext): void {
  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  answerOtherMethods(app, '/metrics', ['GET']);
}
