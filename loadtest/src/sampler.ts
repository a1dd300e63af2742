import { Worker } from 'node:worker_threads';

export interface InFlightSample {
  /** Seconds since the run began. */
  t: number;
  /** The load generator's own count of requests sent and not yet answered. */
  client: number;
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
  /** The load generator's in-flight count, shared memory (see ClientCounter). */
  clientCounter: ClientCounter;
  /** performance.timeOrigin + performance.now() at the start of the run, so times line up. */
  originEpochMs: number;
  meanIntervalMs?: number;
  maxSamples?: number;
}

export type SamplerWorkerData = Omit<SamplerOptions, 'clientCounter'> & { counter: SharedArrayBuffer };
export type SamplerMessage = { kind: 'sample'; sample: InFlightSample } | { kind: 'done'; failures: number };

/**
 * The load generator's count of requests in flight, in shared memory so that a sampler on
 * another thread can read it at any instant, not only between the generator's own callbacks.
 */
export class ClientCounter {
  readonly buffer = new SharedArrayBuffer(4);
  readonly #view = new Int32Array(this.buffer);

  increment(): void {
    Atomics.add(this.#view, 0, 1);
  }

  decrement(): void {
    Atomics.sub(this.#view, 0, 1);
  }

  get value(): number {
    return Atomics.load(this.#view, 0);
  }
}

/**
 * Samples in-flight counts about every 100 ms, from a worker thread of its own. A sampler on the
 * load generator's event loop would only ever look between two of its callbacks (timers run
 * right after the poll phase has handled every answer that arrived), and its samples came out a
 * third below the time average. The interval is jittered (uniform 50–150 ms) so samples do not
 * fall in step with a constant arrival rate either: a time average needs sample instants that do
 * not depend on the state being sampled.
 */
export class InFlightSampler {
  readonly samples: InFlightSample[] = [];
  failures = 0;
  readonly #options: SamplerOptions;
  #worker: Worker | undefined;
  #done: Promise<void> = Promise.resolve();

  constructor(options: SamplerOptions) {
    this.#options = options;
  }

  start(): void {
    const { clientCounter, ...rest } = this.#options;
    const workerData: SamplerWorkerData = { ...rest, counter: clientCounter.buffer };
    const worker = new Worker(new URL('./sampler-worker.ts', import.meta.url), { workerData });
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

  async stop(): Promise<InFlightSample[]> {
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
