import type { FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify';
import type { Metrics, RouteAnswers } from './metrics.ts';

/** The route label of requests no route matched (the 404 handler's). */
const UNMATCHED_ROUTE = 'unmatched';

/**
 * Counts every request in flight and every answer by method, route pattern and status, and times
 * it. These hooks run on every request, the redirect included, so they do the least they can there:
 * callback style (no promise each), no closure made per request, and each route has its own
 * `onResponse` hook, bound to its pattern when the route is registered (`request.routeOptions`
 * would build a 13-field object on every read). Call before any route is registered.
 * Why and the figures: docs/decisions/0009-request-metrics-off-the-hot-path.md
 */
export function recordRequests(app: FastifyInstance, metrics: Metrics): void {
  const { requests } = metrics;
  const observe = (answers: RouteAnswers, request: FastifyRequest, reply: FastifyReply): void => {
    answers.count(request.method, reply.statusCode).observe(reply.elapsedTime / 1000);
  };
  const leaveFlight = (): void => {
    requests.inFlight--;
  };
  app.addHook('onRequest', (_request, reply, done) => {
    requests.inFlight++;
    // 'close' fires once per response, finished or aborted, so the count never drifts.
    reply.raw.on('close', leaveFlight);
    done();
  });
  app.addHook('onRoute', (route) => {
    const answers = requests.route(route.url);
    const record: onResponseHookHandler = (request, reply, done) => {
      observe(answers, request, reply);
      done();
    };
    // A new array, never a push: Fastify copies a GET route's options for its HEAD twin before
    // these hooks run, sharing the arrays, and each of the two gets this hook once.
    route.onResponse = [...toArray(route.onResponse), record];
  });
  // The 404 handler is not a route (no onRoute), so it is recorded here; every other request's
  // route recorded it above.
  const unmatched = requests.route(UNMATCHED_ROUTE);
  app.addHook('onResponse', (request, reply, done) => {
    if (request.is404) observe(unmatched, request, reply);
    done();
  });
}

function toArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}
