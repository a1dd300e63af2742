import { setFlagsFromString } from 'node:v8';
import { Piscina } from 'piscina';
import { DomainError } from '../errors.ts';
import { siblingModule } from '../module-path.ts';
import { cancel as cancelCheck, newCancelFlag } from './cancel-flag.ts';
import { type CheckEngine, retryAfterSeconds } from './check-queue.ts';
import type { CheckOptions, CheckResult } from './types.ts';
import type { CheckTask } from './worker.ts';

export interface PoolOptions {
  workers: number;
  concurrentPerWorker: number;
  /** A thread with no check for this long is retired; the next check starts one again. */
  idleMs: number;
  /** The check threads' heap limits; CHECK_THREAD_LIMITS unless a test needs a thread that cannot start. */
  threadLimits?: { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb: number };
}

/**
 * How long past its own deadline a check may take before the caller stops waiting for its thread:
 * a thread's start takes a fraction of that, and the in-task deadline ends every check that did
 * start. Past this, the thread never started or is wedged.
 * The figures: docs/decisions/0007-uri-checks-in-a-worker-pool.md
 */
export const THREAD_GRACE_MS = 2_000;

/**
 * The check thread's heap. A target that makes a thread balloon kills that thread (and fails its
 * checks), not the server. A limit near the live heap (bodies are streamed, never held whole)
 * trades a lower peak for more full GCs; 28 MiB is the middle of that trade.
 * Why and the figures: docs/decisions/0007-uri-checks-in-a-worker-pool.md
 */
export const CHECK_THREAD_LIMITS = { maxOldGenerationSizeMb: 28, maxYoungGenerationSizeMb: 6 } as const;

/**
 * V8's heap flags are process-wide and win over a worker's resourceLimits: under APP_NODE_FLAGS
 * the check thread would get the main thread's 128 MiB old generation instead of
 * CHECK_THREAD_LIMITS. The main isolate's heap was sized from the flags at start-up and keeps that
 * size; clearing them (0: unset) lets every thread started afterwards take its own.
 * The figures: docs/decisions/0003-v8-flags-for-app-processes.md
 */
export function letThreadsTakeTheirHeapLimits(): void {
  setFlagsFromString('--max-old-space-size=0');
  setFlagsFromString('--max-semi-space-size=0');
}

/**
 * Checks on worker threads, so HTML parsing and a hostile target's bytes never compete with
 * request handling, and a thread that blows its memory limit dies alone.
 *
 * Cancelling a running check: piscina's own abort terminates the worker thread, which would take
 * every other check on it along. Instead each task carries a flag in shared memory (cancel-flag.ts);
 * the caller's abort sets it and the worker aborts just that check (closing its sockets), so the
 * slot frees at once. The in-task deadline (timeoutMs) ends every check that runs; a check whose
 * thread has not answered THREAD_GRACE_MS after that is answered as timed out here, and cancelled
 * the same way should it ever start.
 *
 * Threads start on demand and retire after `idleMs` without a check: a process that only
 * redirects carries no second V8 isolate, and the first check after a quiet spell pays the
 * thread's start-up. Why and the figures: docs/decisions/0007-uri-checks-in-a-worker-pool.md
 */
export class PoolEngine implements CheckEngine {
  #pool: Piscina<CheckTask, CheckResult>;
  readonly #options: CheckOptions;
  readonly #poolOptions: PoolOptions;
  /** Why the last thread failed to start; cleared when a thread answers a check again. */
  #startFailure: Error | undefined;

  constructor(options: CheckOptions, pool: PoolOptions) {
    this.#options = options;
    this.#poolOptions = pool;
    letThreadsTakeTheirHeapLimits();
    this.#pool = this.#newPool();
  }

  #newPool(): Piscina<CheckTask, CheckResult> {
    const pool = this.#poolOptions;
    const slots = pool.workers * pool.concurrentPerWorker;
    const piscina = new Piscina<CheckTask, CheckResult>({
      filename: siblingModule('./worker', import.meta.url).href,
      minThreads: 0,
      maxThreads: pool.workers,
      concurrentTasksPerWorker: pool.concurrentPerWorker,
      // The default 'sync' parks an idle thread in Atomics.wait, freezing its keep-alive sockets
      // and timers between tasks; 'async' leaves its event loop running.
      atomics: 'async',
      // The bound lives in CheckQueue, which never hands piscina more than `slots` tasks; piscina
      // only holds them while a thread (re)starts, and must not refuse them then.
      maxQueue: slots,
      // Retiring a thread drops its keep-alive sockets too: after a quiet spell they would be stale.
      idleTimeout: pool.idleMs,
      resourceLimits: pool.threadLimits ?? CHECK_THREAD_LIMITS,
    });
    // Emitted when a thread fails with no task to blame: it died starting (its module does not
    // load, its heap limit is too small to load it). piscina then starts no thread again and keeps
    // the checks handed to it queued for good, so a pool with no thread left is replaced: the
    // checks it held are answered at once, and the next check tries a new thread.
    piscina.on('error', (error: unknown) => {
      if (piscina !== this.#pool) return;
      this.#startFailure = error instanceof Error ? error : new Error(String(error));
      if (piscina.threads.length > 0) return;
      this.#pool = this.#newPool();
      piscina.destroy().catch(() => {});
    });
    return piscina;
  }

  /** Retired threads are not a failure: the next check starts one. A thread that cannot start is. */
  get healthy(): boolean {
    return this.#startFailure === undefined;
  }

  get threads(): number {
    return this.#pool.threads.length;
  }

  async close(): Promise<void> {
    await this.#pool.destroy();
  }

  async run(uri: string, signal: AbortSignal | undefined): Promise<CheckResult> {
    const started = performance.now();
    // Every task carries a cancel flag: the caller's abort and the deadline below both set it.
    // Not piscina's own `signal`: piscina runs a task that has one alone on its thread (aborting
    // it terminates the thread), which would make the pool one check at a time.
    const flag = newCancelFlag();
    const cancel = (): void => cancelCheck(flag);
    signal?.addEventListener('abort', cancel, { once: true });
    const waitMs = this.#options.timeoutMs + THREAD_GRACE_MS;
    let deadline: NodeJS.Timeout | undefined;
    const outlived = new Promise<'outlived'>((resolve) => {
      deadline = setTimeout(resolve, waitMs, 'outlived');
    });
    try {
      const task: CheckTask = { uri, options: this.#options, cancel: flag };
      const running = this.#pool.run(task);
      // Answered or not, its settling must not go unhandled once the deadline has answered instead.
      running.catch(() => {});
      const outcome = await Promise.race([running, outlived]);
      if (outcome === 'outlived') {
        cancel();
        return {
          ok: false,
          reason: 'timeout',
          detail: `no answer from the check thread within ${waitMs} ms`,
          status: null,
          durationMs: Math.round(performance.now() - started),
        };
      }
      this.#startFailure = undefined;
      return outcome;
    } catch (error) {
      signal?.throwIfAborted();
      if (this.#startFailure !== undefined) {
        throw new DomainError(
          'CHECKS_UNAVAILABLE',
          'URI checks are unavailable right now (no check thread could start); try again shortly.',
          {
            retryAfter: retryAfterSeconds(this.#options.timeoutMs),
            cause: this.#startFailure,
          },
        );
      }
      // The thread died under the check (memory limit, or close()): the check failed, the
      // server did not; piscina starts a replacement thread.
      const detail = `the check stopped: ${error instanceof Error ? error.message : String(error)}`;
      return { ok: false, reason: 'network', detail, status: null, durationMs: Math.round(performance.now() - started) };
    } finally {
      clearTimeout(deadline);
      signal?.removeEventListener('abort', cancel);
    }
  }
}
