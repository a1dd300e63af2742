import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Config } from '../config.ts';
import { migrated, SQLITE_FILE_NAME } from '../store/open.ts';
import { PostgresStore } from '../store/postgres.ts';
import { SqliteStore } from '../store/sqlite.ts';
import type { BookmarkStore } from '../store/types.ts';
import { PostgresTables, redactedUrl } from './postgres-tables.ts';
import { SqliteTables } from './sqlite-tables.ts';
import type { TableAccess } from './table-access.ts';

/** A store named on the command line or by the configuration: a SQLite file or a PostgreSQL URL. */
export type StoreLocation = { engine: 'sqlite'; file: string } | { engine: 'postgres'; url: string };

/**
 * `postgres://…` (or `postgresql://…`) is PostgreSQL; anything else a SQLite file, or a data folder
 * (DATA_DIR) holding linkyard.sqlite.
 */
export function parseLocation(raw: string): StoreLocation {
  if (/^postgres(ql)?:\/\//.test(raw)) return { engine: 'postgres', url: raw };
  const path = resolve(raw);
  const folder = existsSync(path) && statSync(path).isDirectory();
  return { engine: 'sqlite', file: folder ? join(path, SQLITE_FILE_NAME) : path };
}

/** The store the app's configuration names: DATABASE_URL, else DATA_DIR/linkyard.sqlite. */
export function configuredLocation(config: Pick<Config, 'dataDir' | 'databaseUrl'>): StoreLocation {
  return config.databaseUrl === undefined
    ? { engine: 'sqlite', file: join(config.dataDir, SQLITE_FILE_NAME) }
    : { engine: 'postgres', url: config.databaseUrl };
}

/** For messages: the file, or the URL without its password. */
export function describeLocation(location: StoreLocation): string {
  return location.engine === 'sqlite' ? `SQLite ${location.file}` : `PostgreSQL ${redactedUrl(location.url)}`;
}

export function openTables(location: StoreLocation): Promise<TableAccess> {
  return location.engine === 'sqlite' ? Promise.resolve(new SqliteTables(location.file)) : PostgresTables.connect(location.url);
}

/** The store itself, its schema created or brought up to date (as the app does on start). */
export async function openMigrated(location: StoreLocation): Promise<BookmarkStore> {
  if (location.engine === 'sqlite') await mkdir(dirname(location.file), { recursive: true });
  const store =
    location.engine === 'sqlite'
      ? new SqliteStore({ file: location.file })
      : new PostgresStore({ connectionString: location.url, maxConnections: 2, queryTimeoutMs: 60_000 });
  return migrated(store);
}

/** Same store named twice (a move onto itself). */
export function sameLocation(a: StoreLocation, b: StoreLocation): boolean {
  if (a.engine === 'sqlite' && b.engine === 'sqlite') return a.file === b.file;
  if (a.engine === 'postgres' && b.engine === 'postgres') return redactedUrl(a.url) === redactedUrl(b.url);
  return false;
}
