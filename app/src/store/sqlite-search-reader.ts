import { siblingModule } from '../module-path.ts';
import type { SearchRead, SearchRow } from './sqlite.ts';
import { SqliteThread } from './sqlite-thread.ts';

/**
 * The search reader thread's heap: a page of at most 501 rows at a time. 6 MiB young: asked for 4,
 * V8's heap limit came out 6 MiB above the old generation all the same (thread-heap-limits.test.ts).
 * Without limits a thread takes V8's defaults (see VISIT_WRITER_LIMITS).
 */
export const SEARCH_READER_LIMITS = { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 6 } as const;

/**
 * The SQLite store's searches, read on a thread of their own (sqlite-search-worker.ts): FTS5
 * cannot be cut short from Node, and a phrase of common words walks long trigram lists, which on
 * the event loop held every redirect of the process (decision 0029). Started on the first search.
 */
export function searchReader(file: string, translate: (error: unknown) => unknown): SqliteThread<SearchRead, SearchRow[]> {
  return new SqliteThread({
    module: siblingModule('./sqlite-search-worker', import.meta.url),
    file,
    limits: SEARCH_READER_LIMITS,
    what: 'search reader',
    translate,
  });
}
