import type { FastifyReply } from 'fastify';

/**
 * Aborts when the client goes away before its answer is written, so a check nobody waits for
 * stops taking a worker slot.
 */
export function clientAbortSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new Error('client closed the connection'));
  });
  return controller.signal;
}
