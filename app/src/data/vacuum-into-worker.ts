/**
 * `VACUUM INTO` on a thread of its own: better-sqlite3 is synchronous, and the backup command's
 * main thread keeps printing progress while a large store is copied.
 */
import { workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { source, output, busyTimeoutMs } = workerData as { source: string; output: string; busyTimeoutMs: number };
const db = new Database(source, { fileMustExist: true, timeout: busyTimeoutMs });
try {
  // One read transaction: the copy is the store as of its start, whatever is written meanwhile.
  db.prepare('VACUUM INTO ?').run(output);
} finally {
  db.close();
}
