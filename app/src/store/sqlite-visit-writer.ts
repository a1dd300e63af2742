import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { siblingModule } from '../module-path.ts';
import type { VisitRollupRows } from './stats-types.ts';

/** A batch for the writer's thread. */
export interface VisitWrite {
  seq: number;
  counts: ReadonlyMap<string, number>;
  batchId: string;
  rollups: VisitRollupRows | undefined;
}

/** The writer's answer: nothing, or what failed (an SQLite error's code, so the store maps it as its own). */
export interface VisitWritten {
  seq: number;
  error?: { message: string; code: string | undefined };
}

/**
 * The writer thread's heap. Once letThreadsTakeTheirHeapLimits has cleared APP_NODE_FLAGS, a thread
 * without limits takes V8's defaults: a 64 MiB new space and an old generation sized from the
 * host's memory, which the batches of Zipf traffic over a million links filled with garbage
 * (decision 0021, the apps' peak RSS). The young generation is the main thread's (4 MiB
 * semi-spaces, 12 MiB in all); the old one half of its 128 MiB, which holds the same batch, bounded
 * by MAX_PENDING_NAMES and MAX_ROLLUP_LINKS, beside everything else.
 */
export const VISIT_WRITER_LIMITS = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 12 } as const;

/**
 * The SQLite store's visit flushes, written on a thread of their own with a connection of its own
 * (sqlite-visit-worker.ts): the transaction, its page reads and its fsync no longer hold the event
 * loop, and WAL lets the redirects' reads go on meanwhile (decision 0021). Started on the first
 * batch, so stores that never count visits (the data commands, most tests) start no thread; held
 * open (ref'd) only while a batch is in flight.
 */
export class SqliteVisitWriter {
  readonly #file: string;
  readonly #translate: (error: unknown) => unknown;
  #worker: Worker | undefined;
  #closed = false;
  #seq = 0;
  readonly #waiting = new Map<number, { resolve: () => void; reject: (error: unknown) => void }>();

  constructor(file: string, translate: (error: unknown) => unknown) {
    this.#file = file;
    this.#translate = translate;
  }

  write(counts: ReadonlyMap<string, number>, batchId: string, rollups: VisitRollupRows | undefined): Promise<void> {
    // As the store's own connection answers once closed.
    if (this.#closed) return Promise.reject(new TypeError('The database connection is not open'));
    const worker = this.#started();
    const seq = ++this.#seq;
    return new Promise<void>((resolve, reject) => {
      this.#waiting.set(seq, { resolve, reject });
      worker.ref();
      worker.postMessage({ seq, counts, batchId, rollups } satisfies VisitWrite);
    });
  }

  /** Waits for the batches in flight, then closes the writer's connection and ends its thread. */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    if (worker === undefined) return;
    this.#worker = undefined;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    // Messages are handled in order: the batches already posted are written before this.
    worker.ref();
    worker.postMessage('close');
    await exited;
  }

  #started(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(siblingModule('./sqlite-visit-worker', import.meta.url), {
      workerData: { file: this.#file },
      resourceLimits: VISIT_WRITER_LIMITS,
    });
    worker.unref();
    worker.on('message', (message: VisitWritten) => {
      const waiting = this.#waiting.get(message.seq);
      this.#waiting.delete(message.seq);
      if (this.#waiting.size === 0) worker.unref();
      if (waiting === undefined) return;
      if (message.error === undefined) waiting.resolve();
      else waiting.reject(this.#translate(rebuilt(message.error)));
    });
    // A thread that died (it should not: every failure is answered as a message) fails what it
    // held; the next batch starts another.
    worker.on('error', (error) => this.#failAll(error));
    worker.on('exit', (code) => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#failAll(new Error(`the visit writer's thread stopped (exit code ${code})`));
    });
    this.#worker = worker;
    return worker;
  }

  #failAll(error: unknown): void {
    for (const { reject } of this.#waiting.values()) reject(error);
    this.#waiting.clear();
  }
}

/** The writer's failure as the error SQLite raised on this thread would be: the store maps its code. */
function rebuilt({ message, code }: { message: string; code: string | undefined }): Error {
  return code === undefined ? new Error(message) : new Database.SqliteError(message, code);
}
