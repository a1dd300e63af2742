import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import type { RedirectTarget } from '../../../app/src/store/types.ts';
import { existingStore, positive, UsageError } from './arguments.ts';

const USAGE = `node --expose-gc loadtest/src/cli/redirect-cache-bytes.ts --store sqlite:DATA_DIR --names N

What REDIRECT_CACHE_NAMES costs (issue 25, decision 0021): an LRU cache as the app makes one
(app/src/services/bookmarks.ts), filled with N links of a store made by npm run dataset, each as
the app keeps it (its name, and its target with the redirect's fields). Prints V8's heap taken a
name: by the empty cache (its slots are allocated up front) and by each entry. Reads the store only.
`;

/** V8's heap and array buffers in use after full collections. */
function used(gc: () => void): number {
  gc();
  gc();
  const memory = process.memoryUsage();
  return memory.heapUsed + memory.arrayBuffers;
}

if (import.meta.filename === process.argv[1]) {
  try {
    const { values } = parseArgs({
      options: { store: { type: 'string' }, names: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
    });
    if (values.help) throw new UsageError(USAGE, 0);
    const spec = existingStore(values.store, USAGE);
    if (spec.engine !== 'sqlite') throw new UsageError(`--store must be sqlite:DATA_DIR\n\n${USAGE}`);
    const names = Math.round(positive('names', values.names, 10_000));
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc === undefined) throw new UsageError(`run node with --expose-gc\n\n${USAGE}`);
    const db = new Database(join(spec.dataDir, 'linkyard.sqlite'), { readonly: true });
    const rows = db.prepare<
      [number],
      { name: string; uri: string; expires_at: number | null; max_visits: number | null; visits: number; forward_query: number }
    >('SELECT name, uri, expires_at, max_visits, visits, forward_query FROM bookmarks LIMIT ?');
    const before = used(gc);
    // As bookmarks.ts makes it; the lifetime only decides when an entry may be replaced.
    const cache = new LRUCache<string, RedirectTarget>({ max: names, ttl: 60_000 });
    const empty = used(gc);
    let characters = 0;
    for (const row of rows.iterate(names)) {
      characters += row.name.length + row.uri.length;
      cache.set(row.name, {
        uri: row.uri,
        expiresAt: row.expires_at,
        maxVisits: row.max_visits,
        visits: row.visits,
        forwardQuery: row.forward_query === 1,
      });
    }
    const filled = used(gc);
    db.close();
    const each = (bytes: number) => Math.round(bytes / cache.size);
    process.stdout.write(
      `${cache.size} names (name and target ${Math.round(characters / cache.size)} characters on average): ` +
        `${each(empty - before)} bytes a slot empty, ${each(filled - empty)} an entry, ${each(filled - before)} a name in all, ` +
        `${((filled - before) / 2 ** 20).toFixed(1)} MiB\n`,
    );
  } catch (error) {
    if (error instanceof UsageError) {
      (error.exitCode === 0 ? process.stdout : process.stderr).write(`${error.message}\n`);
      process.exit(error.exitCode);
    }
    throw error;
  }
}
