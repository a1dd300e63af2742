import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config.ts';
import type { BookmarkStore } from './types.ts';

/** The SQLite store's file in DATA_DIR. */
export const SQLITE_FILE_NAME = 'linkyard.sqlite';

/** The first pause between start-up attempts; each next one doubles, up to the last. */
const FIRST_RETRY_MS = 250;
const LONGEST_RETRY_MS = 5000;

/** A failed start-up attempt, for the log: the next is in `retryInMs`. */
export interface StartupRetry {
  attempt: number;
  retryInMs: number;
  error: unknown;
}

/**
 * The store the configuration asks for, with its schema up to date. Each driver is loaded only
 * when it is the one asked for: pg alone costs an app process about 4 MiB it would never use.
 * With `onRetry` (the app's start-up), a PostgreSQL that cannot be reached yet is tried again
 * with backoff for up to DATABASE_STARTUP_WAIT_MS: on a busy host (Swarm, compose) the database
 * may come up, or accept a connection in time, seconds after the apps.
 */
export async function openStore(
  config: Pick<Config, 'dataDir' | 'databaseUrl'> &
    Partial<Pick<Config, 'databaseConnectTimeoutMs' | 'databaseQueryTimeoutMs' | 'databaseStartupWaitMs' | 'sqliteWalPresize'>>,
  onRetry?: (retry: StartupRetry) => void,
): Promise<BookmarkStore> {
  if (config.databaseUrl !== undefined) {
    const { PostgresStore, unavailableReason } = await import('./postgres.ts');
    const store = new PostgresStore({
      connectionString: config.databaseUrl,
      connectTimeoutMs: config.databaseConnectTimeoutMs,
      queryTimeoutMs: config.databaseQueryTimeoutMs,
    });
    const waitMs = onRetry === undefined ? 0 : (config.databaseStartupWaitMs ?? 0);
    const deadline = performance.now() + waitMs;
    return migrated(store, (error, attempt) => {
      // Only the database being away or overloaded passes with time; a bad password or schema does not.
      const reason = unavailableReason(error);
      if (reason !== 'unreachable' && reason !== 'busy') return undefined;
      const retryInMs = Math.min(FIRST_RETRY_MS * 2 ** (attempt - 1), LONGEST_RETRY_MS);
      if (performance.now() + retryInMs > deadline) return undefined;
      onRetry?.({ attempt, retryInMs, error });
      return retryInMs;
    });
  }
  await mkdir(config.dataDir, { recursive: true });
  const { SqliteStore } = await import('./sqlite.ts');
  const sqlite = new SqliteStore({ file: join(config.dataDir, SQLITE_FILE_NAME) });
  const store = await migrated(sqlite);
  // After the schema: a store too new or broken fails start-up first. Closed when it fails, as a failed migration is.
  if (config.sqliteWalPresize !== false) {
    try {
      sqlite.presizeWal();
    } catch (error) {
      await sqlite.close();
      throw error;
    }
  }
  return store;
}

/**
 * `store` with its schema brought up to date, or closed when that fails. `retryIn` says, of a
 * failed attempt (counted from 1), how long to wait before the next, or undefined to give up.
 */
export async function migrated(
  store: BookmarkStore,
  retryIn: (error: unknown, attempt: number) => number | undefined = () => undefined,
): Promise<BookmarkStore> {
  for (let attempt = 1; ; attempt++) {
    try {
      await store.migrate();
      return store;
    } catch (error) {
      const delay = retryIn(error, attempt);
      if (delay === undefined) {
        await store.close();
        throw error;
      }
      await sleep(delay);
    }
  }
}
