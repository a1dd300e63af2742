import type { ResourceLimits } from 'node:worker_threads';
import { parentPort, Worker, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { openSqlite } from './sqlite.ts';

/** A request to the thread, numbered so its answer finds its caller. */
interface Call<Request> {
  seq: number;
  request: Request;
}

/** The thread's answer: a result, or what failed (an SQLite error's code, so the store maps it as its own). */
interface Answer<Result> {
  seq: number;
  result?: Result;
  error?: { message: string; code: string | undefined };
}

/**
 * Work on the SQLite file on a thread of its own with a connection of its own, so it never holds
 * the event loop (WAL lets the store's own connection read and write meanwhile). Started on the
 * first call, so stores that never make one start no thread; held open (ref'd) only while a call
 * is in flight. Calls are answered in the order made.
 */
export class SqliteThread<Request, Result> {
  readonly #module: string | URL;
  readonly #file: string;
  readonly #limits: ResourceLimits;
  readonly #what: string;
  readonly #translate: (error: unknown) => unknown;
  #worker: Worker | undefined;
  #closed = false;
  #seq = 0;
  readonly #waiting = new Map<number, { resolve: (result: Result) => void; reject: (error: unknown) => void }>();

  /** `module`: the thread's entry (serveSqliteThread); `what`: how errors name it. */
  constructor(options: {
    module: string | URL;
    file: string;
    limits: ResourceLimits;
    what: string;
    translate: (error: unknown) => unknown;
  }) {
    this.#module = options.module;
    this.#file = options.file;
    this.#limits = options.limits;
    this.#what = options.what;
    this.#translate = options.translate;
  }

  call(request: Request): Promise<Result> {
    // As the store's own connection answers once closed.
    if (this.#closed) return Promise.reject(new TypeError('The database connection is not open'));
    const worker = this.#started();
    const seq = ++this.#seq;
    return new Promise<Result>((resolve, reject) => {
      this.#waiting.set(seq, { resolve, reject });
      worker.ref();
      worker.postMessage({ seq, request } satisfies Call<Request>);
    });
  }

  /** Waits for the calls in flight, then closes the thread's connection and ends it. */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    if (worker === undefined) return;
    this.#worker = undefined;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    // Messages are handled in order: the calls already posted are answered before this.
    worker.ref();
    worker.postMessage('close');
    await exited;
  }

  #started(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(this.#module, { workerData: { file: this.#file }, resourceLimits: this.#limits });
    worker.unref();
    worker.on('message', (message: Answer<Result>) => {
      const waiting = this.#waiting.get(message.seq);
      this.#waiting.delete(message.seq);
      if (this.#waiting.size === 0) worker.unref();
      if (waiting === undefined) return;
      if (message.error === undefined) waiting.resolve(message.result as Result);
      else waiting.reject(this.#translate(rebuilt(message.error)));
    });
    // A thread that died (it should not: every failure is answered as a message) fails what it
    // held; the next call starts another.
    worker.on('error', (error) => this.#failAll(error));
    worker.on('exit', (code) => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#failAll(new Error(`the ${this.#what}'s thread stopped (exit code ${code})`));
    });
    this.#worker = worker;
    return worker;
  }

  #failAll(error: unknown): void {
    for (const { reject } of this.#waiting.values()) reject(error);
    this.#waiting.clear();
  }
}

/** The thread's failure as the error SQLite raised on this thread would be: the store maps its code. */
function rebuilt({ message, code }: { message: string; code: string | undefined }): Error {
  return code === undefined ? new Error(message) : new Database.SqliteError(message, code);
}

/**
 * The thread's side of SqliteThread: the file opened on the first call (and again after a failure
 * to open: the disk may be back), `prepare`d once, each call answered in order. Every failure is
 * answered to the call it failed, with SQLite's code.
 */
export function serveSqliteThread<Request, Result>(prepare: (db: Database.Database) => (request: Request) => Result): void {
  const { file } = workerData as { file: string };
  const port = parentPort;
  if (port === null) throw new Error('serveSqliteThread runs on a worker thread');
  let db: Database.Database | undefined;
  let handle: ((request: Request) => Result) | undefined;
  port.on('message', (message: Call<Request> | 'close') => {
    if (message === 'close') {
      db?.close();
      port.close();
      return;
    }
    let answer: Answer<Result>;
    try {
      db ??= openSqlite(file);
      handle ??= prepare(db);
      answer = { seq: message.seq, result: handle(message.request) };
    } catch (error) {
      const code = error instanceof Database.SqliteError ? error.code : undefined;
      answer = { seq: message.seq, error: { message: error instanceof Error ? error.message : String(error), code } };
    }
    port.postMessage(answer);
  });
}
