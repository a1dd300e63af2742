import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

/**
 * One log line per request, written when it completes and carrying the request too, instead of
 * Fastify's two (received, completed): on a redirect, logging is a large share of the work
 * (see the benchmark), and the one line still says what was asked, what was answered, and how long
 * it took, under the request id nginx logged too. With `logRequests` off (behind nginx, which logs
 * every request), only failures get their line: errors and 5xx answers, except a 503 that says
 * when to come back (a full check queue shedding load: a line each would make a flood write its
 * every refusal twice, and the metrics count them).
 */
export class OneLinePerRequest extends LogController {
  readonly #logRequests: boolean;

  constructor(options: { logRequests: boolean }) {
    super();
    this.#logRequests = options.logRequests;
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (!this.#logRequests && !error && (reply.statusCode < 500 || isDeliberateRefusal(reply))) return;
    if (this.isLogDisabled(request)) return;
    // Plain fields rather than Fastify's req/res serializers: same facts, a fraction of the work.
    const entry = {
      method: request.method,
      url: request.url,
      statusCode: reply.statusCode,
      responseTime: Math.round(reply.elapsedTime * 1000) / 1000,
      remoteAddress: request.ip,
    };
    if (error) reply.log.error({ ...entry, err: error }, 'request errored');
    else reply.log.info(entry, 'request completed');
  }
}

/** A 503 with Retry-After: the app refusing work on purpose, not failing. */
function isDeliberateRefusal(reply: FastifyReply): boolean {
  return reply.statusCode === 503 && reply.hasHeader('retry-after');
}
