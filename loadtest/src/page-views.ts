import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { LatencyRecorder } from './latency.ts';
import { ClientCounter } from './sampler.ts';

/**
 * Open-model load, like k6's constant-arrival-rate: page views start on a fixed schedule whether
 * or not earlier ones have finished, which is the λ Little's law talks about. A closed model
 * (N users each waiting for the last answer) would pin L to N and make the comparison circular.
 *
 * One page view is what the seed counts as three requests: the page, its stylesheet and one short
 * link followed from it (a 303, not followed further).
 */
export interface PageViewOptions {
  baseUrl: string;
  viewsPerSecond: number;
  durationSeconds: number;
  stylesheetPath: string;
  names: readonly string[];
  /** Views allowed at once; an arrival beyond it is dropped and counted (k6's dropped_iterations). */
  maxConcurrentViews: number;
  /** performance.now() the schedule starts from (the sampler gets the same instant). */
  origin: number;
}

export type RequestKind = 'page' | 'stylesheet' | 'redirect';
const EXPECTED_STATUS: Readonly<Record<RequestKind, number>> = { page: 200, stylesheet: 200, redirect: 303 };

export class PageViewLoad {
  /** Requests sent and not yet answered, right now: the client's own, exact in-flight count. */
  readonly inFlight = new ClientCounter();
  completed = 0;
  failed = 0;
  dropped = 0;
  viewsStarted = 0;
  readonly latency = {
    all: new LatencyRecorder(),
    page: new LatencyRecorder(),
    stylesheet: new LatencyRecorder(),
    redirect: new LatencyRecorder(),
  };
  readonly statuses: Record<string, number> = {};
  /** Requests answered in each second of the run and their summed time in system (ms). */
  readonly perSecond: Array<{ completed: number; sumMs: number }> = [];
  /** performance.now() of the first request sent and the last answer received. */
  firstSentAt = Number.NaN;
  lastDoneAt = Number.NaN;
  readonly #options: PageViewOptions;
  readonly #agent: Agent;
  #activeViews = 0;

  constructor(options: PageViewOptions) {
    if (options.names.length === 0) throw new Error('page views need at least one short name to follow');
    this.#options = options;
    this.#agent = new Agent({ connections: options.maxConcurrentViews, keepAliveTimeout: 10_000 });
  }

  /** From the first request sent to the last answer: the window λ is measured over. */
  get windowSeconds(): number {
    return (this.lastDoneAt - this.firstSentAt) / 1000;
  }

  async run(): Promise<void> {
    const { viewsPerSecond, durationSeconds, maxConcurrentViews } = this.#options;
    const total = Math.max(1, Math.round(viewsPerSecond * durationSeconds));
    const views: Promise<void>[] = [];
    const start = this.#options.origin;
    while (this.viewsStarted + this.dropped < total) {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * viewsPerSecond) + 1);
      while (this.viewsStarted + this.dropped < due) {
        if (this.#activeViews >= maxConcurrentViews) {
          this.dropped++;
          continue;
        }
        views.push(this.#view(this.viewsStarted++));
      }
      // The next arrival is due in 1/rate s; a timer cannot fire sooner than ~1 ms, so several
      // views may start in one turn when the rate is high: the schedule is kept on average.
      const nextDue = start + ((this.viewsStarted + this.dropped) / viewsPerSecond) * 1000;
      await sleep(Math.max(0, nextDue - performance.now()));
    }
    await Promise.all(views);
    await this.#agent.close();
  }

  async #view(index: number): Promise<void> {
    this.#activeViews++;
    const { stylesheetPath, names } = this.#options;
    try {
      await this.#get('page', '/');
      await this.#get('stylesheet', stylesheetPath);
      await this.#get('redirect', `/${names[index % names.length] ?? ''}`);
    } finally {
      this.#activeViews--;
    }
  }

  async #get(kind: RequestKind, path: string): Promise<void> {
    this.inFlight.increment();
    const sentAt = performance.now();
    if (Number.isNaN(this.firstSentAt)) this.firstSentAt = sentAt;
    let status = 0; // no answer at all
    try {
      const response = await request(new URL(path, this.#options.baseUrl), {
        dispatcher: this.#agent,
        headers: { 'accept-encoding': 'gzip' },
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      status = response.statusCode;
      await response.body.dump({ limit: 1 << 20 });
    } catch {
      // counted below as a failure with status 0
    }
    const doneAt = performance.now();
    this.inFlight.decrement();
    this.lastDoneAt = Number.isNaN(this.lastDoneAt) ? doneAt : Math.max(this.lastDoneAt, doneAt);
    this.statuses[status] = (this.statuses[status] ?? 0) + 1;
    // Failed requests are arrivals with a time in system too: Little's law counts everything
    // that entered, not only what succeeded.
    this.completed++;
    this.latency.all.record(doneAt - sentAt);
    this.latency[kind].record(doneAt - sentAt);
    const second = Math.max(0, Math.floor((doneAt - this.#options.origin) / 1000));
    for (let i = this.perSecond.length; i <= second; i++) this.perSecond.push({ completed: 0, sumMs: 0 });
    const bucket = this.perSecond[second];
    if (bucket !== undefined) {
      bucket.completed++;
      bucket.sumMs += doneAt - sentAt;
    }
    if (status !== EXPECTED_STATUS[kind]) this.failed++;
  }
}
