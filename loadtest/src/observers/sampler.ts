import { Worker } from 'node:worker_threads';

/** What the service's own observers said at one instant. */
export interface ObserverSample {
  /** Epoch milliseconds (performance.timeOrigin + now(): the clock k6 stamps its requests with). */
  at: number;
  /** Σ http_requests_in_flight over the apps, less one per app for the scrape reading it. */
  apps: number | undefined;
  /** nginx Reading + Writing, less the status request. */
  nginx: number | undefined;
  /** nginx Active connections, idle keep-alive ones included: not requests, shown for contrast. */
  nginxActive: number | undefined;
}

export interface SamplerOptions {
  appMetricsUrls: readonly string[];
  nginxStatusUrl: string | undefined;
  meanIntervalMs?: number;
  maxSamples?: number;
}

export type SamplerMessage = { kind: 'sample'; sample: ObserverSample } | { kind: 'done'; failures: number };

/**
 * Samples the in-flight counts of nginx and the apps about every 100 ms while k6 runs, from a
 * worker thread of its own, so a sample is taken when it is due and not when this process's
 * event loop gets round to it. The interval is jittered (uniform 50–150 ms) so samples do not
 * fall in step with a constant arrival rate: a time average needs sample instants that do not
 * depend on the state being sampled.
 */
export class InFlightSampler {
  readonly samples: ObserverSample[] = [];
  failures = 0;
  readonly #options: SamplerOptions;
  #worker: Worker | undefined;
  #done: Promise<void> = Promise.resolve();

  constructor(options: SamplerOptions) {
    this.#options = options;
  }

  start(): void {
    const worker = new Worker(new URL('./sampler-worker.ts', import.meta.url), { workerData: this.#options });
    this.#worker = worker;
    this.#done = new Promise((resolve, reject) => {
      worker.on('message', (message: SamplerMessage) => {
        if (message.kind === 'sample') this.samples.push(message.sample);
        else this.failures = message.failures;
      });
      worker.once('error', reject);
      worker.once('exit', () => resolve());
    });
  }

  async stop(): Promise<ObserverSample[]> {
    this.#worker?.postMessage('stop');
    // Bounded: a scrape times out after 2 s, so the worker is gone well within this.
    const timer = setTimeout(() => void this.#worker?.terminate(), 5000);
    await this.#done;
    clearTimeout(timer);
    return this.samples;
  }
}

/** The mean of the defined values, NaN if there are none. */
export function meanOf(values: ReadonlyArray<number | undefined>): number {
  let sum = 0;
  let count = 0;
  for (const value of values) {
    if (value === undefined) continue;
    sum += value;
    count++;
  }
  return count === 0 ? Number.NaN : sum / count;
}
