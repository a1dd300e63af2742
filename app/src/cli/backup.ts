/**
 * `npm run backup -- [--output FILE] [--pg-dump PATH]`: a consistent backup of the configured
 * store (DATA_DIR's SQLite file, or DATABASE_URL) while the stack serves, checked before it is
 * called done. In the image: `node app/dist/cli/backup.js …` (SQLite only: the image has no
 * pg_dump; docs/data.md#backup-and-restore says how compose and Swarm do PostgreSQL).
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { configuredLocation } from '../data/location.ts';
import { backupPostgres } from '../data/postgres-backup.ts';
import { BackupRefusedError, backupSqlite } from '../data/sqlite-backup.ts';
import { RefusedError, runTool } from './command.ts';

const USAGE = `Usage:
  backup [--output FILE] [--pg-dump PATH]
    --output FILE    where the backup goes; must not exist. A folder: linkyard-<engine>-<UTC time>.sqlite
                     (or .pgdump) in it, as in the current folder by default
    --pg-dump PATH   PostgreSQL only: the pg_dump of the server's major version (found by itself
                     in /usr/lib/postgresql/<major>/bin or on PATH otherwise)`;

/** 20261207T093000Z: sorts by time, and has no character a file system refuses. */
function stamp(): string {
  return new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

async function run(args: string[], out: (line: string) => void): Promise<void> {
  const { values } = parseArgs({ args, options: { output: { type: 'string' }, 'pg-dump': { type: 'string' } }, strict: true });
  const location = configuredLocation(loadConfig());
  const named = `linkyard-${location.engine}-${stamp()}.${location.engine === 'sqlite' ? 'sqlite' : 'pgdump'}`;
  const asked = resolve(values.output ?? '.');
  const output = existsSync(asked) && statSync(asked).isDirectory() ? join(asked, named) : asked;
  try {
    if (location.engine === 'sqlite') await backupSqlite(location.file, output, out);
    else await backupPostgres(location.url, output, values['pg-dump'], out);
  } catch (error) {
    if (error instanceof BackupRefusedError) throw new RefusedError(error.message);
    throw error;
  }
}

await runTool('backup', USAGE, run);
