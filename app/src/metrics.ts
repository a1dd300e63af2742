import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { UriChecker } from './check/types.ts';
import type { VisitCounter } from './visits.ts';

/**
 * One registry per app instance (not prom-client's global one), so several apps built in one
 * test process do not share counters.
 */
export interface Metrics {
  registry: Registry;
  /** Requests in flight and answers by method, route and status: http_requests_in_flight and _total. */
  requests: RequestCounts;
  duration: Histogram<'method' | 'route'>;
  checks: Counter<'outcome'>;
}

type DurationLabels = Readonly<Record<'method' | 'route', string>>;

/** One route pattern's answers: a count per method and status, and its histogram labels made once. */
export class RouteAnswers {
  readonly #route: string;
  readonly #byMethod = new Map<string, { labels: DurationLabels; byStatus: Map<number, number> }>();

  constructor(route: string) {
    this.#route = route;
  }

  /** Counts an answer; returns the labels its duration is observed under (the same object each time). */
  count(method: string, statusCode: number): DurationLabels {
    let answers = this.#byMethod.get(method);
    if (answers === undefined) {
      answers = { labels: { method, route: this.#route }, byStatus: new Map() };
      this.#byMethod.set(method, answers);
    }
    answers.byStatus.set(statusCode, (answers.byStatus.get(statusCode) ?? 0) + 1);
    return answers.labels;
  }

  *series(): Generator<{ labels: Record<'method' | 'route' | 'status_code', string | number>; count: number }> {
    for (const [method, { byStatus }] of this.#byMethod) {
      for (const [statusCode, count] of byStatus) yield { labels: { method, route: this.#route, status_code: statusCode }, count };
    }
  }
}

/**
 * Every request passes here twice (entering, answered), the redirect included, so the counting is
 * plain numbers in maps that prom-client reads at scrape time: its own counter and gauge would hash
 * a label object on every call.
 */
export class RequestCounts {
  /** Received and not yet answered (or given up by the client). */
  inFlight = 0;
  readonly #routes = new Map<string, RouteAnswers>();

  /** The one tally of a route pattern (a route and its HEAD twin share it). */
  route(pattern: string): RouteAnswers {
    let answers = this.#routes.get(pattern);
    if (answers === undefined) {
      answers = new RouteAnswers(pattern);
      this.#routes.set(pattern, answers);
    }
    return answers;
  }

  get routes(): Iterable<RouteAnswers> {
    return this.#routes.values();
  }
}

export function createMetrics(sources: { checker: UriChecker; visits: VisitCounter }): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new RequestCounts();
  new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route pattern and status',
    labelNames: ['method', 'route', 'status_code'],
    registers: [registry],
    collect() {
      this.reset();
      for (const route of requests.routes) {
        for (const { labels, count } of route.series()) this.inc(labels, count);
      }
    },
  });
  new Gauge({
    name: 'http_requests_in_flight',
    help: 'Requests received and not yet answered (the L of Little\'s law, per process)',
    registers: [registry],
    collect() {
      this.set(requests.inFlight);
    },
  });
  const metrics: Metrics = {
    registry,
    requests,
    duration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from request received to response finished',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    checks: new Counter({
      name: 'linkyard_checks_total',
      help: 'URI checks by outcome (accepted, accepted_with_warning, or the failure reason)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
  // Read from the visit counter at scrape time: a redirect already counts its visit there, and a
  // second count per redirect in prom-client would cost the hot path a label lookup for nothing.
  new Counter({
    name: 'linkyard_visits_total',
    help: 'Redirects served (each counts a visit)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.visits.recorded);
    },
  });
  new Gauge({
    name: 'linkyard_check_queue_depth',
    help: 'URI checks waiting for a worker',
    registers: [registry],
    collect() {
      this.set(sources.checker.queueDepth);
    },
  });
  new Gauge({
    name: 'linkyard_checks_running',
    help: 'URI checks running now',
    registers: [registry],
    collect() {
      this.set(sources.checker.running);
    },
  });
  new Gauge({
    name: 'linkyard_check_threads',
    help: 'Check worker threads alive (0 while an idle pool has retired its thread, and inline)',
    registers: [registry],
    collect() {
      this.set(sources.checker.threads);
    },
  });
  new Gauge({
    name: 'linkyard_visits_pending',
    help: 'Visits counted in memory, not yet flushed to the store',
    registers: [registry],
    collect() {
      this.set(sources.visits.pending);
    },
  });
  new Counter({
    name: 'linkyard_visits_dropped_total',
    help: 'Visits given up because too many names were waiting for an unavailable store',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.visits.dropped);
    },
  });
  return metrics;
}
