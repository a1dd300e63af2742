import { CheckQueue } from './check-queue.ts';
import { checkUri, closeAgent } from './check-uri.ts';
import type { CheckOptions, CheckResult, UriChecker } from './types.ts';

/**
 * The same check on the request thread, behind the same admission bound as the pool. It exists so
 * the benchmark can measure what the worker threads cost and buy; the pool is the default.
 */
export class InlineChecker implements UriChecker {
  readonly #queue: CheckQueue;
  readonly #options: CheckOptions;

  constructor(options: CheckOptions, bound: { slots: number; maxQueue: number }) {
    this.#options = options;
    this.#queue = new CheckQueue({
      run: (uri, signal) => checkUri(uri, options, signal),
      slots: bound.slots,
      maxQueue: bound.maxQueue,
      timeoutMs: options.timeoutMs,
    });
  }

  check(uri: string, signal?: AbortSignal): Promise<CheckResult> {
    return this.#queue.check(uri, signal);
  }

  get queueDepth(): number {
    return this.#queue.queueDepth;
  }

  get running(): number {
    return this.#queue.running;
  }

  get healthy(): boolean {
    return !this.#queue.closed;
  }

  async close(): Promise<void> {
    this.#queue.close();
    await closeAgent(this.#options);
  }
}
