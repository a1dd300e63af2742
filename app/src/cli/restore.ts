/**
 * `npm run restore -- FILE [--pg-restore PATH]`: a backup of `npm run backup` (or of pg_dump
 * --format=custom) into the configured store, which must be empty; checked after. In the image:
 * `node app/dist/cli/restore.js FILE` (SQLite only; docs/data.md#backup-and-restore).
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { configuredLocation, describeLocation } from '../data/location.ts';
import { restorePostgres } from '../data/postgres-backup.ts';
import { BackupRefusedError, restoreSqlite } from '../data/sqlite-backup.ts';
import { RefusedError, runTool, UsageError } from './command.ts';

const USAGE = `Usage:
  restore FILE [--pg-restore PATH]
    FILE               a backup: a SQLite file, or a PostgreSQL custom-format archive
    --pg-restore PATH  PostgreSQL only: the pg_restore of the server's major version
  Into the configured store (DATA_DIR or DATABASE_URL), which must be empty; stop the stack first.`;

/** What a file is by its first bytes. */
function kindOf(file: string): 'sqlite' | 'postgres' | undefined {
  const head = Buffer.alloc(16);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (head.toString('latin1') === 'SQLite format 3\0') return 'sqlite';
  if (head.subarray(0, 5).toString('latin1') === 'PGDMP') return 'postgres';
  return undefined;
}

async function run(args: string[], out: (line: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { 'pg-restore': { type: 'string' } }, strict: true, allowPositionals: true });
  const [file, extra] = positionals;
  if (file === undefined || extra !== undefined) throw new UsageError('restore takes one backup file');
  const backup = resolve(file);
  if (!existsSync(backup)) throw new RefusedError(`no file ${backup}`);
  const kind = kindOf(backup);
  if (kind === undefined) throw new RefusedError(`${backup} is neither a SQLite database nor a pg_dump custom-format archive`);
  const location = configuredLocation(loadConfig());
  if (kind !== location.engine) {
    throw new RefusedError(
      `${backup} is a ${kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'} backup and the configured store is ${describeLocation(location)}: ` +
        'restore it into a store of its own engine, then `npm run move` (docs/data.md#moving-between-sqlite-and-postgresql)',
    );
  }
  try {
    if (location.engine === 'sqlite') await restoreSqlite(backup, location.file, out);
    else await restorePostgres(location.url, backup, values['pg-restore'], out);
  } catch (error) {
    if (error instanceof BackupRefusedError) throw new RefusedError(error.message);
    throw error;
  }
}

await runTool('restore', USAGE, run);
