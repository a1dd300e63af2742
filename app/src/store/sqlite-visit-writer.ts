import { siblingModule } from '../module-path.ts';
import { SqliteThread } from './sqlite-thread.ts';
import type { VisitRollupRows } from './stats-types.ts';

/** A batch for the writer's thread. */
export interface VisitWrite {
  counts: ReadonlyMap<string, number>;
  batchId: string;
  rollups: VisitRollupRows | undefined;
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
 * The SQLite store's visit flushes, written on a thread of their own (sqlite-visit-worker.ts):
 * the transaction, its page reads and its fsync no longer hold the event loop (decision 0021).
 */
export function visitWriter(file: string, translate: (error: unknown) => unknown): SqliteThread<VisitWrite, void> {
  return new SqliteThread({
    module: siblingModule('./sqlite-visit-worker', import.meta.url),
    file,
    limits: VISIT_WRITER_LIMITS,
    what: 'visit writer',
    translate,
  });
}
