import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { UriChecker } from './check/types.ts';
import type { VisitCounter } from './visits.ts';

/**
 * One registry per app instance (not prom-client's global one), so several apps built in one
 * test process do not share counters.
 */
export interface Metrics {
  registry: Registry;
  /**
   * Requests in flight, answers by method, route and status, and their durations:
   * http_requests_in_flight, http_requests_total and http_request_duration_seconds.
   */
  requests: RequestCounts;
  checks: Counter<'outcome'>;
  /** linkyard_rechecks_total: background re-checks of targets, `ok` or `failed` (services/rechecks.ts). */
  rechecks: Counter<'outcome'>;
  /** linkyard_redirect_cache_hits_total and _misses_total, counted by the redirect, read at scrape time. */
  redirectCache: RedirectCacheCounts;
}

/**
 * Redirects answered from the process's memory (hits) and those that had to ask the store
 * (misses, unknown names included; every redirect when the cache is off). Plain numbers the
 * redirect increments, read at scrape time like the request counts (docs/decisions/0009).
 */
export class RedirectCacheCounts {
  hits = 0;
  misses = 0;
}

type DurationLabels = Readonly<Record<'method' | 'route', string>>;

/** http_request_duration_seconds' upper bounds, in seconds. */
const DURATION_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface HistogramValue {
  labels: { le?: number | '+Inf' };
  sharedLabels: DurationLabels;
  value: number;
  metricName: string;
}

/** One route and method's request durations, counted into their bucket as they come. */
export class DurationSeries {
  readonly labels: DurationLabels;
  /** Per bucket, not cumulative; the last counts what is above every bound. */
  readonly #perBucket = new Float64Array(DURATION_BUCKETS.length + 1);
  #sum = 0;
  #count = 0;

  constructor(labels: DurationLabels) {
    this.labels = labels;
  }

  observe(seconds: number): void {
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[bucket] ?? Infinity)) bucket++;
    this.#perBucket[bucket] = (this.#perBucket[bucket] ?? 0) + 1;
    this.#sum += seconds;
    this.#count++;
  }

  /**
   * The series in the shape prom-client's Histogram hands its registry: cumulative buckets, +Inf,
   * sum and count, the bucket bound in `labels` and the series' own labels in `sharedLabels`.
   */
  values(name: string): HistogramValue[] {
    const value = (labels: HistogramValue['labels'], metricName: string, count: number): HistogramValue => ({
      labels,
      sharedLabels: this.labels,
      value: count,
      metricName,
    });
    let cumulative = 0;
    const buckets = DURATION_BUCKETS.map((le, index) => {
      cumulative += this.#perBucket[index] ?? 0;
      return value({ le }, `${name}_bucket`, cumulative);
    });
    return [
      ...buckets,
      value({ le: '+Inf' }, `${name}_bucket`, this.#count),
      value({}, `${name}_sum`, this.#sum),
      value({}, `${name}_count`, this.#count),
    ];
  }
}

/** One route pattern's answers: a count per method and status, and its duration series made once. */
export class RouteAnswers {
  readonly #route: string;
  readonly #byMethod = new Map<string, { durations: DurationSeries; byStatus: Map<number, number> }>();

  constructor(route: string) {
    this.#route = route;
  }

  /** Counts an answer; returns the series its duration is observed in (the same object each time). */
  count(method: string, statusCode: number): DurationSeries {
    let answers = this.#byMethod.get(method);
    if (answers === undefined) {
      answers = { durations: new DurationSeries({ method, route: this.#route }), byStatus: new Map() };
      this.#byMethod.set(method, answers);
    }
    answers.byStatus.set(statusCode, (answers.byStatus.get(statusCode) ?? 0) + 1);
    return answers.durations;
  }

  *durations(): Generator<DurationSeries> {
    for (const { durations } of this.#byMethod.values()) yield durations;
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
  new RequestDurations(requests, registry);
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
    help: "Requests received and not yet answered (the L of Little's law, per process)",
    registers: [registry],
    collect() {
      this.set(requests.inFlight);
    },
  });
  const redirectCache = new RedirectCacheCounts();
  const metrics: Metrics = {
    registry,
    requests,
    redirectCache,
    checks: new Counter({
      name: 'linkyard_checks_total',
      help: 'URI checks by outcome (accepted, accepted_with_warning, or the failure reason)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    rechecks: new Counter({
      name: 'linkyard_rechecks_total',
      help: "Background re-checks of links' targets by outcome (ok, failed); only the process holding the re-check lease makes them",
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
  new Counter({
    name: 'linkyard_redirect_cache_hits_total',
    help: 'Redirects answered from the process memory of names resolved lately (REDIRECT_CACHE_MS)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(redirectCache.hits);
    },
  });
  new Counter({
    name: 'linkyard_redirect_cache_misses_total',
    help: 'Redirects that asked the store: names not resolved lately, unknown names, and every redirect with the cache off',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(redirectCache.misses);
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

/**
 * http_request_duration_seconds, a prom-client Histogram whose observations are the DurationSeries
 * the request hooks fill: prom-client's own `observe` validates and hashes its label object on
 * every call, a visible share of a redirect's CPU. Only what the registry reads at scrape time is
 * replaced, and it answers what prom-client's Histogram would for the same observations
 * (app/test/metrics.test.ts). Why and the figures: docs/decisions/0009-request-metrics-off-the-hot-path.md
 *
 * `getForPromString` is not in prom-client's typings, and no declared API is as cheap: a
 * Histogram child from `labels()` still hashes its labels on every observe, `collect()` can only
 * observe again, and `registerMetric` takes nothing but prom-client's own classes. So prom-client
 * is pinned to an exact version in package.json; an upgrade that stops calling this empties the
 * histogram, which app/test/metrics.test.ts fails on. The pin's figures: the same record.
 */
export class RequestDurations extends Histogram<'method' | 'route'> {
  static readonly NAME = 'http_request_duration_seconds';
  static readonly HELP = 'Time from request received to response finished';
  readonly #requests: RequestCounts;

  constructor(requests: RequestCounts, registry: Registry) {
    super({
      name: RequestDurations.NAME,
      help: RequestDurations.HELP,
      labelNames: ['method', 'route'],
      buckets: [...DURATION_BUCKETS],
      registers: [registry],
    });
    this.#requests = requests;
  }

  /**
   * What prom-client 15's registry formats for /metrics (it asks for this before `get`, and the
   * Histogram's own `get` reads it too, merging each value's labels for JSON).
   */
  async getForPromString(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: HistogramValue[] }> {
    const values: HistogramValue[] = [];
    for (const route of this.#requests.routes) for (const series of route.durations()) values.push(...series.values(RequestDurations.NAME));
    return { name: RequestDurations.NAME, help: RequestDurations.HELP, type: 'histogram', aggregator: 'sum', values };
  }
}
