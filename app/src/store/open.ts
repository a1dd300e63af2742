import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.ts';
import type { BookmarkStore } from './types.ts';

/** The SQLite store's file in DATA_DIR. */
export const SQLITE_FILE_NAME = 'linkyard.sqlite';

/**
 * The store the configuration asks for, with its schema up to date. Each driver is loaded only
 * when it is the one asked for: pg alone costs an app process about 4 MiB it would never use.
 */
export async function openStore(
  config: Pick<Config, 'dataDir' | 'databaseUrl'> &
    Partial<Pick<Config, 'databaseConnectTimeoutMs' | 'databaseQueryTimeoutMs' | 'sqliteWalPresize'>>,
): Promise<BookmarkStore> {
  let store: BookmarkStore;
  if (config.databaseUrl !== undefined) {
    const { PostgresStore } = await import('./postgres.ts');
    store = new PostgresStore({
      connectionString: config.databaseUrl,
      connectTimeoutMs: config.databaseConnectTimeoutMs,
      queryTimeoutMs: config.databaseQueryTimeoutMs,
    });
  } else {
    await mkdir(config.dataDir, { recursive: true });
    const { SqliteStore } = await import('./sqlite.ts');
    const sqlite = new SqliteStore({ file: join(config.dataDir, SQLITE_FILE_NAME) });
    store = await migrated(sqlite);
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
  return migrated(store);
}

/** `store` with its schema brought up to date, or closed when that fails. */
export async function migrated(store: BookmarkStore): Promise<BookmarkStore> {
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}
