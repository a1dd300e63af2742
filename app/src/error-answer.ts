import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from './errors.ts';

/** What an error answers, the status and headers already set on the reply; the body is the caller's. */
export interface ErrorAnswer {
  status: number;
  /** The error code: a DomainError's, Fastify's own, or INTERNAL. */
  code: string;
  /** A sentence for the person who sent the request. */
  message: string;
}

/**
 * The one place an error becomes an HTTP answer: its status, its headers (Retry-After,
 * WWW-Authenticate) and its log line. The JSON error handler and the form's re-rendered page
 * differ only in the body they send. Domain errors by their code, Fastify's own 4xx (bad JSON,
 * body too large, validation) as they are, and anything else as a logged 500 that leaves the
 * process serving.
 */
export function answerError(error: FastifyError | DomainError, request: FastifyRequest, reply: FastifyReply): ErrorAnswer {
  let answer: ErrorAnswer;
  if (error instanceof DomainError) {
    answer = { status: error.statusCode, code: error.code, message: error.message };
    if (error.retryAfter !== undefined) reply.header('retry-after', String(error.retryAfter));
    if (error.code === 'UNAUTHORIZED') reply.header('www-authenticate', 'Bearer');
    // The store away: the operator needs the driver's error, which no access log has.
    if (answer.status >= 500 && error.cause !== undefined) request.log.warn({ code: error.code, err: error.cause }, error.message);
    // Debug: nginx's access log has every answer once; at info a flood of refusals would write each again.
    else request.log.debug({ code: error.code }, 'request refused');
  } else if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    answer = {
      status: error.statusCode,
      code: error.validation ? 'INVALID_REQUEST' : (error.code ?? 'BAD_REQUEST'),
      message: error.message,
    };
  } else {
    request.log.error({ err: error }, 'request failed');
    answer = { status: 500, code: 'INTERNAL', message: 'Something went wrong on our side; it has been logged.' };
  }
  reply.code(answer.status);
  return answer;
}
