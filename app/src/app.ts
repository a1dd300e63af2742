import { randomUUID } from 'node:crypto';
import formBody from '@fastify/formbody';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { pino } from 'pino';
import { Authenticator } from './auth/principal.ts';
import { createChecker } from './check/create-checker.ts';
import type { UriChecker } from './check/types.ts';
import type { Config } from './config.ts';
import type { AppContext, Lifecycle } from './context.ts';
import { answerError } from './error-answer.ts';
import { DomainError } from './errors.ts';
import { createMetrics } from './metrics.ts';
import { OneLinePerRequest } from './request-log.ts';
import { deferredChildLogger } from './request-logger.ts';
import { recordRequests } from './request-metrics.ts';
import { registerAdminApiRoutes } from './routes/admin-api.ts';
import { registerApiRoutes } from './routes/api.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerMetricsRoute } from './routes/metrics.ts';
import { registerOpenApi, registerOpenApiRoute } from './routes/openapi.ts';
import { registerPageRoutes } from './routes/page.ts';
import { registerRedirectRoute } from './routes/redirect.ts';
import { registerSignInRoutes } from './routes/sign-in.ts';
import { registerStaticRoutes } from './routes/static.ts';
import { registerStatsRoutes } from './routes/stats.ts';
import { SearchIndexer } from './search-indexer.ts';
import { Denylist } from './services/blocklist.ts';
import { BookmarkService } from './services/bookmarks.ts';
import { Rechecker } from './services/rechecks.ts';
import { loadStaticAssets } from './static-assets.ts';
import { openCountryLookup } from './stats/geoip.ts';
import { startRetentionFold } from './stats/retention.ts';
import { visitDescriber } from './stats/visit.ts';
import { openStore } from './store/open.ts';
import type { BookmarkStore } from './store/types.ts';
import { compileAddressMatcher } from './trusted-proxies.ts';
import { VisitCounter } from './visits.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Flip on SIGTERM: readiness turns 503 and answers say `Connection: close` while the drain runs. */
    lifecycle: Lifecycle;
  }
}

/** 16 KiB is ample for a 2 KiB URI and a name; anything larger is a mistake or an attack. */
export const BODY_LIMIT = 16 * 1024;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface AppParts {
  /** Tests pass their own store or checker; otherwise they are made from the config. */
  store?: BookmarkStore;
  checker?: UriChecker;
}

/**
 * Builds the whole app without listening, so tests can `inject()` or listen on port 0.
 * Everything opened here is closed by `app.close()`.
 */
export async function buildApp(config: Config, parts: AppParts = {}): Promise<FastifyInstance> {
  const isTrustedProxy = compileAddressMatcher(config.trustedProxies);
  const app = Fastify({
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization'],
      // Buffered, written in 4 KiB batches off the request path; pino flushes what is left when
      // the process exits (a kill -9 can lose the last few lines, never a request).
      stream: pino.destination({ dest: 1, sync: false, minLength: 4096 }),
    },
    trustProxy: (address: string) => isTrustedProxy(address),
    // The proxy's X-Request-Id ties nginx's access log to ours; from anyone else it is ignored.
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      const peer = request.socket.remoteAddress;
      if (typeof given === 'string' && REQUEST_ID.test(given) && peer !== undefined && isTrustedProxy(peer)) return given;
      return randomUUID();
    },
    logController: new OneLinePerRequest({ logRequests: config.logRequests }),
    childLoggerFactory: deferredChildLogger,
    bodyLimit: BODY_LIMIT,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    requestTimeout: config.keepAliveTimeoutMs + 15_000,
  });
  // Node needs headersTimeout above keepAliveTimeout, or a reused idle socket can be cut mid-request.
  app.server.headersTimeout = config.keepAliveTimeoutMs + 5_000;

  const { stats } = config;
  // Before the store, so a bad GEOIP_DB_FILE stops start-up with nothing open.
  const countryOf = stats.enabled && stats.geoipDbFile !== undefined ? await openCountryLookup(stats.geoipDbFile) : undefined;
  const store =
    parts.store ??
    (await openStore(config, ({ attempt, retryInMs, error }) =>
      app.log.warn({ err: error, attempt, retryInMs }, 'database not reachable at start-up; trying again'),
    ));
  const checker = parts.checker ?? createChecker(config);
  const visits = new VisitCounter(store, config.visitsFlushMs, (error) => app.log.error({ err: error }, 'visit flush failed'), {
    stats: config.stats.enabled,
    statsFlushMs: config.stats.flushMs,
  });
  const stopFolding = stats.enabled
    ? startRetentionFold(store, stats.hourlyDays, (error) => app.log.warn({ err: error }, 'stats fold failed'))
    : () => {};
  const metrics = createMetrics({ checker, visits });
  const searchIndexer = new SearchIndexer(store, (error) =>
    app.log.error(
      { err: error },
      'search index not built yet (PostgreSQL: the role needs CREATE on the database for pg_trgm; see docs/links.md); retrying in a minute',
    ),
  );
  const rechecker = new Rechecker({
    store,
    checker,
    metrics,
    config: config.recheck,
    onError: (error) => app.log.warn({ err: error }, 're-check failed; the link stays due and is tried again'),
  });
  const denylist = new Denylist({
    access: store.access,
    refreshMs: config.blocklistRefreshMs,
    onChange: () => context.service.forgetRecent(),
    onError: (error) => app.log.warn({ err: error }, 'blocklist not read; the last one read stays in force'),
  });
  const context: AppContext = {
    config,
    store,
    checker,
    metrics,
    service: new BookmarkService({
      store,
      checker,
      visits,
      metrics,
      redirectCacheMs: config.redirectCacheMs,
      denylist,
      onAuditError: (error) => app.log.error({ err: error }, 'audit entry not written'),
      redirectCacheNames: config.redirectCacheNames,
      searchBudgetMs: config.searchBudgetMs,
    }),
    assets: loadStaticAssets(),
    lifecycle: { draining: false },
    auth: new Authenticator({
      access: store.access,
      apiToken: config.apiToken,
      keyCacheMs: config.keyCacheMs,
      onError: (error) => app.log.warn({ err: error }, 'key last-used times not written'),
    }),
    visitOf: visitDescriber({ stats: stats.enabled, countryOf }),
  };
  app.decorate('lifecycle', context.lifecycle);
  // Before the first request: a process that starts must not redirect to a host listed long ago.
  await denylist.refresh();
  // After the store answers, never before the process is ready: a large store's index takes minutes.
  searchIndexer.start();
  rechecker.start();

  recordRequests(app, metrics);
  // Runs on every request too: callback style, no closure made per request. Headers set here go
  // out with whatever answer the request gets, and no onSend hook is needed (Fastify sends
  // directly when there is none).
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    // While draining, each answer tells the proxy to close this connection after reading it: the
    // drain (drain.ts) ends when the proxy has closed them all, and never closes one itself. A
    // request already in flight when the drain began leaves its connection open, which the proxy
    // closes at its next request there or at its upstream keepalive_timeout (3 s).
    if (context.lifecycle.draining) reply.header('connection', 'close');
    done();
  });
  app.addHook('onClose', async () => {
    // Order matters: visits are written before the store they are written to closes.
    stopFolding();
    searchIndexer.close();
    // Before the checker and the store it uses: its checks are cancelled and its lease given up.
    await rechecker.close();
    await visits.close();
    await context.auth.close();
    denylist.close();
    await checker.close();
    await store.close();
  });

  app.setErrorHandler((error: FastifyError | DomainError, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) => sendError(new DomainError('NOT_FOUND', `Nothing here at ${request.url}.`), request, reply));

  await app.register(formBody, { bodyLimit: BODY_LIMIT });
  await registerOpenApi(app);
  registerHealthRoutes(app, context);
  registerMetricsRoute(app, context);
  if (config.serveStatic) registerStaticRoutes(app, context);
  registerApiRoutes(app, context);
  registerAdminApiRoutes(app, context);
  registerPageRoutes(app, context);
  registerSignInRoutes(app, context);
  registerStatsRoutes(app, context);
  registerRedirectRoute(app, context);
  registerOpenApiRoute(app);
  return app;
}

/** An error's answer (answerError) as JSON under /api/, as plain text elsewhere. */
function sendError(error: FastifyError | DomainError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { code, message } = answerError(error, request, reply);
  if (request.url.startsWith('/api/')) return reply.send({ error: code, message });
  return reply.type('text/plain; charset=utf-8').send(message);
}
