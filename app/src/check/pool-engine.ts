import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { siblingModule } from '../module-path.ts';
import type { CheckEngine } from './check-queue.ts';
import type { CheckTask } from './worker.ts';
import type { CheckOptions, CheckResult } from './types.ts';

export interface PoolOptions {
  workers: number;
  concurrentPerWorker: number;
}

/**
 * Checks on worker threads, so HTML parsing and a hostile target's bytes never compete with
 * request handling, and a thread that blows its memory limit dies alone.
 *
 * Cancelling a running check: piscina's own abort terminates the worker thread, which would take
 * every other check on it along. Instead each task that can be cancelled carries one end of a
 * MessageChannel; the caller's abort posts on it and the worker aborts just that check (closing
 * its sockets), so the slot frees at once. A caller that never aborts costs no channel, and the
 * in-task deadline (timeoutMs) ends every check regardless.
 */
export class PoolEngine implements CheckEngine {
  readonly #pool: Piscina<CheckTask, CheckResult>;
  readonly #options: CheckOptions;
  #failed = false;

  constructor(options: CheckOptions, pool: PoolOptions) {
    this.#options = options;
    const slots = pool.workers * pool.concurrentPerWorker;
    this.#pool = new Piscina<CheckTask, CheckResult>({
      filename: siblingModule('./worker', import.meta.url).href,
      minThreads: pool.workers,
      maxThreads: pool.workers,
      concurrentTasksPerWorker: pool.concurrentPerWorker,
      // The default 'sync' parks an idle thread in Atomics.wait, freezing its keep-alive sockets
      // and timers between tasks; 'async' leaves its event loop running.
      atomics: 'async',
      // The bound lives in CheckQueue, which never hands piscina more than `slots` tasks; piscina
      // only holds them while a thread (re)starts, and must not refuse them then.
      maxQueue: slots,
      // Threads are fixed (min = max) and hold warm keep-alive sockets: never retire one for idling.
      idleTimeout: Infinity,
      // A target that makes a thread balloon kills that thread (and fails its checks), not the server.
      resourceLimits: { maxOldGenerationSizeMb: 64 },
    });
    // Emitted when a thread fails with no task to blame, e.g. the worker module does not load.
    this.#pool.on('error', () => {
      this.#failed = true;
    });
  }

  get healthy(): boolean {
    return !this.#failed;
  }

  async close(): Promise<void> {
    await this.#pool.destroy();
  }

  async run(uri: string, signal: AbortSignal | undefined): Promise<CheckResult> {
    const started = performance.now();
    const channel = signal === undefined ? undefined : new MessageChannel();
    const cancel = (): void => channel?.port1.postMessage('cancel');
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      const task: CheckTask = { uri, options: this.#options, ...(channel && { cancel: channel.port2 }) };
      return await this.#pool.run(task, channel && { transferList: [channel.port2] });
    } catch (error) {
      signal?.throwIfAborted();
      // The thread died under the check (memory limit, or close()): the check failed, the
      // server did not; piscina starts a replacement thread.
      const detail = `the check stopped: ${error instanceof Error ? error.message : String(error)}`;
      return { ok: false, reason: 'network', detail, status: null, durationMs: Math.round(performance.now() - started) };
    } finally {
      signal?.removeEventListener('abort', cancel);
      channel?.port1.close();
    }
  }
}
