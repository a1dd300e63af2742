import { DomainError } from '../errors.ts';
import type { CheckResult, UriChecker } from './types.ts';

/** Where checks run: worker threads (the pool) or the request thread (inline). */
export interface CheckEngine {
  /**
   * Runs one check in a slot; rejects only when `signal` aborts, or with
   * DomainError('CHECKS_UNAVAILABLE') when no check can run at all (no thread could start).
   */
  run(uri: string, signal: AbortSignal | undefined): Promise<CheckResult>;
  /** False once the engine has failed (a worker module that does not load). */
  readonly healthy: boolean;
  /** Worker threads alive now: 0 on the main thread, and while the pool is idle. */
  readonly threads: number;
  close(): Promise<void>;
}

/** What a refused check's Retry-After says: a slot, or a new thread, is there within one check deadline. */
export function retryAfterSeconds(timeoutMs: number): number {
  return Math.max(1, Math.ceil(timeoutMs / 1000));
}

interface Waiting {
  uri: string;
  signal: AbortSignal | undefined;
  resolve: (result: CheckResult) => void;
  reject: (reason: unknown) => void;
  onAbort: () => void;
  /** Refuses the check if no slot came free within maxWaitMs. */
  expiry: NodeJS.Timeout | undefined;
  /** performance.now() when it began to wait. */
  since: number;
}

/**
 * The checker the app uses, whatever the engine: the admission bound is the same for both, so the
 * benchmark compares them under the same rule: `slots` checks run at once, `maxQueue` more wait, the next is refused with
 * CHECK_QUEUE_FULL (a 503 with Retry-After). A check also waits at most one check deadline for a
 * slot, then is refused the same way: under a flood of slow checks a queue of 200 behind 50 slots
 * would otherwise hold its last arrival for four deadlines before its own check even began, and
 * clients (and nginx) would time out instead of being told to come back. And once the check at
 * the head of the line has waited half that, the line is not moving: new checks are refused at
 * once rather than queued only to be refused later.
 *
 * The pool keeps its waiting line here rather than in piscina: a waiting check whose caller gives
 * up is simply dropped from this set (piscina's own `signal` would do that too, but once the task
 * has reached a worker it aborts by terminating the whole thread and every check on it), and
 * queueDepth/running are then exact, where piscina cannot tell queued from running.
 */
export class CheckQueue implements UriChecker {
  readonly #engine: CheckEngine;
  readonly #slots: number;
  readonly #maxQueue: number;
  readonly #retryAfter: number;
  readonly #maxWaitMs: number;
  /** A Set keeps arrival order and lets an abandoned check leave from the middle in O(1). */
  readonly #waiting = new Set<Waiting>();
  #running = 0;
  #closed = false;

  constructor(engine: CheckEngine, options: { slots: number; maxQueue: number; timeoutMs: number }) {
    this.#engine = engine;
    this.#slots = options.slots;
    this.#maxQueue = options.maxQueue;
    this.#retryAfter = retryAfterSeconds(options.timeoutMs);
    this.#maxWaitMs = options.timeoutMs;
  }

  get queueDepth(): number {
    return this.#waiting.size;
  }

  get running(): number {
    return this.#running;
  }

  get healthy(): boolean {
    return !this.#closed && this.#engine.healthy;
  }

  get threads(): number {
    return this.#engine.threads;
  }

  check(uri: string, signal?: AbortSignal): Promise<CheckResult> {
    if (this.#closed) return Promise.reject(this.#refusal('URI checks are shutting down; try again shortly.'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#running < this.#slots) return this.#start(uri, signal);
    if (this.#waiting.size >= this.#maxQueue || this.#stalled()) {
      return Promise.reject(this.#refusal('Too many URI checks are waiting; try again shortly.'));
    }

    const { promise, resolve, reject } = Promise.withResolvers<CheckResult>();
    const entry: Waiting = {
      uri,
      signal,
      resolve,
      reject,
      onAbort: () => {
        this.#waiting.delete(entry);
        clearTimeout(entry.expiry);
        reject(signal?.reason);
      },
      expiry: undefined,
      since: performance.now(),
    };
    signal?.addEventListener('abort', entry.onAbort, { once: true });
    entry.expiry = setTimeout(() => {
      this.#waiting.delete(entry);
      signal?.removeEventListener('abort', entry.onAbort);
      reject(this.#refusal('No URI check slot came free in time; try again shortly.'));
    }, this.#maxWaitMs);
    this.#waiting.add(entry);
    return promise;
  }

  /** Refuses everything waiting and everything new, then closes the engine (ending running checks). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const entry of this.#waiting) {
      entry.signal?.removeEventListener('abort', entry.onAbort);
      clearTimeout(entry.expiry);
      entry.reject(this.#refusal('URI checks are shutting down; try again shortly.'));
    }
    this.#waiting.clear();
    await this.#engine.close();
  }

  #start(uri: string, signal: AbortSignal | undefined): Promise<CheckResult> {
    this.#running++;
    const run = this.#engine.run(uri, signal).finally(() => {
      this.#running--;
      this.#startWaiting();
    });
    if (signal === undefined) return run;
    // The caller stops waiting at once; the slot stays taken until the check has really stopped.
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      run.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  #startWaiting(): void {
    for (const entry of this.#waiting) {
      if (this.#running >= this.#slots) return;
      this.#waiting.delete(entry);
      entry.signal?.removeEventListener('abort', entry.onAbort);
      clearTimeout(entry.expiry);
      this.#start(entry.uri, entry.signal).then(entry.resolve, entry.reject);
    }
  }

  /** The oldest waiting check (a Set iterates in arrival order) has waited half its allowance. */
  #stalled(): boolean {
    const oldest = this.#waiting.values().next().value;
    return oldest !== undefined && performance.now() - oldest.since > this.#maxWaitMs / 2;
  }

  #refusal(message: string): DomainError {
    return new DomainError('CHECK_QUEUE_FULL', message, { retryAfter: this.#retryAfter });
  }
}
