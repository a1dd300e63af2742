/**
 * The SQLite visit writer's thread (sqlite-visit-writer.ts): one connection of its own, one batch
 * at a time, in the order posted. Every failure, opening the file included, is answered to the
 * batch it failed, with SQLite's code, so the store maps it as it maps its own (503 when the disk
 * is full, read-only or failing).
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { openSqlite, prepareVisitWrite } from './sqlite.ts';
import type { VisitWrite, VisitWritten } from './sqlite-visit-writer.ts';

const { file } = workerData as { file: string };
const port = parentPort;
if (port === null) throw new Error('sqlite-visit-worker.ts runs as a worker thread');

let db: Database.Database | undefined;
let write: ReturnType<typeof prepareVisitWrite> | undefined;

port.on('message', (message: VisitWrite | 'close') => {
  if (message === 'close') {
    db?.close();
    port.close();
    return;
  }
  let answer: VisitWritten;
  try {
    // Opened on the first batch, and again after a failure to open (the disk may be back).
    db ??= openSqlite(file);
    write ??= prepareVisitWrite(db);
    write(message.counts, message.batchId, message.rollups);
    answer = { seq: message.seq };
  } catch (error) {
    const code = error instanceof Database.SqliteError ? error.code : undefined;
    answer = { seq: message.seq, error: { message: error instanceof Error ? error.message : String(error), code } };
  }
  port.postMessage(answer);
});
