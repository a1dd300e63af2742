import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.ts';
import { PostgresStore } from './postgres.ts';
import { SqliteStore } from './sqlite.ts';
import type { BookmarkStore } from './types.ts';

/** The store the configuration asks for, with its schema up to date. */
export async function openStore(
  config: Pick<Config, 'dataDir' | 'databaseUrl'> & Partial<Pick<Config, 'databaseConnectTimeoutMs' | 'databaseQueryTimeoutMs'>>,
): Promise<BookmarkStore> {
  let store: BookmarkStore;
  if (config.databaseUrl !== undefined) {
    store = new PostgresStore({
      connectionString: config.databaseUrl,
      connectTimeoutMs: config.databaseConnectTimeoutMs,
      queryTimeoutMs: config.databaseQueryTimeoutMs,
    });
  } else {
    await mkdir(config.dataDir, { recursive: true });
    store = new SqliteStore({ file: join(config.dataDir, 'linkyard.sqlite') });
  }
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}
