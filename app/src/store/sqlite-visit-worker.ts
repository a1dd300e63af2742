/**
 * The SQLite visit writer's thread (sqlite-visit-writer.ts): one batch at a time, in the order
 * posted; a failure is answered with SQLite's code, so the store maps it as it maps its own (503
 * when the disk is full, read-only or failing).
 */
import { prepareVisitWrite } from './sqlite.ts';
import { serveSqliteThread } from './sqlite-thread.ts';
import type { VisitWrite } from './sqlite-visit-writer.ts';

serveSqliteThread<VisitWrite, void>((db) => {
  const write = prepareVisitWrite(db);
  return ({ counts, batchId, rollups }) => write(counts, batchId, rollups);
});
