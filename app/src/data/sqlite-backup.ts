/**
 * SQLite backup and restore. The backup is `VACUUM INTO`: one read transaction, so a consistent
 * copy as of its start while the stack goes on writing (WAL readers do not block writers). Not a
 * file copy, which can catch the database and its WAL at different moments; not better-sqlite3's
 * online backup, which starts over whenever another connection writes, so under a steady write
 * load it may never finish.
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { siblingModule } from '../module-path.ts';
import { SQLITE_SCHEMA_VERSION } from '../store/sqlite.ts';
import { SqliteTables } from './sqlite-tables.ts';
import { TABLES } from './tables.ts';

/** Refused, with what to do: nothing was changed. */
export class BackupRefusedError extends Error {}

export interface StoreCheck {
  schemaVersion: number;
  links: number;
  visits: number;
  /** Rows in every table a move copies, for the summary. */
  rows: number;
}

const MIB = 1024 * 1024;
const mib = (bytes: number) => `${(bytes / MIB).toFixed(1)} MiB`;

/**
 * The checks a backup passes before it is called one and a restored store before it is used:
 * `PRAGMA integrity_check` (every page, index and constraint), foreign keys, the search index's own
 * integrity-check, and the schema version this build expects. Throws with what failed.
 */
export function checkSqliteFile(file: string): StoreCheck {
  const db = new Database(file, { fileMustExist: true });
  try {
    const integrity = db.prepare('PRAGMA integrity_check').pluck().all() as string[];
    if (integrity.length !== 1 || integrity[0] !== 'ok') throw new Error(`integrity_check: ${integrity.slice(0, 5).join('; ')}`);
    const orphans = db.prepare('PRAGMA foreign_key_check').all();
    if (orphans.length > 0) throw new Error(`foreign_key_check: ${orphans.length} row(s) refer to missing links`);
    const version = Number(db.pragma('user_version', { simple: true }));
    if (version !== SQLITE_SCHEMA_VERSION) {
      throw new Error(`schema version ${version}, this build's is ${SQLITE_SCHEMA_VERSION}: use the build that wrote it`);
    }
    // FTS5's own check that the index matches the rows; a command written as an insert, changing nothing.
    db.prepare(`INSERT INTO bookmarks_search (bookmarks_search) VALUES ('integrity-check')`).run();
    const totals = db.prepare('SELECT count(*) AS links, coalesce(sum(visits), 0) AS visits FROM bookmarks').get() as {
      links: number;
      visits: number;
    };
    let rows = 0;
    for (const table of TABLES)
      rows += Number(
        db
          .prepare(`SELECT count(*) FROM ${table.name} ${table.where === undefined ? '' : `WHERE ${table.where}`}`)
          .pluck()
          .get(),
      );
    return { schemaVersion: version, links: totals.links, visits: totals.visits, rows };
  } finally {
    db.close();
  }
}

/** `VACUUM INTO` on a worker thread, printing how much is written each second. */
async function vacuumInto(source: string, output: string, out: (line: string) => void): Promise<void> {
  const progress = setInterval(() => {
    if (existsSync(output)) out(`  ${mib(statSync(output).size)} written`);
  }, 1000);
  try {
    await new Promise<void>((resolve, reject) => {
      const worker = new Worker(siblingModule('./vacuum-into-worker', import.meta.url), {
        workerData: { source, output, busyTimeoutMs: 5000 },
      });
      worker.once('error', reject);
      worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`VACUUM INTO stopped with code ${code}`))));
    });
  } finally {
    clearInterval(progress);
  }
}

/** Copies the live store at `source` into `output` (which must not exist), checks the copy, and says how it went. */
export async function backupSqlite(source: string, output: string, out: (line: string) => void): Promise<StoreCheck> {
  if (!existsSync(source)) throw new BackupRefusedError(`no SQLite store at ${source} (DATA_DIR)`);
  if (existsSync(output)) throw new BackupRefusedError(`${output} exists already: name another --output, or move it away`);
  // Written under another name and renamed when checked: a file under the final name is a whole, checked backup.
  const partial = `${output}.partial`;
  rmSync(partial, { force: true });
  const size = statSync(source).size;
  out(`Backing up SQLite ${source} (${mib(size)}) with VACUUM INTO, while the stack serves`);
  const started = performance.now();
  try {
    await vacuumInto(source, partial, out);
    out('Checking the copy: integrity_check, foreign keys, search index, schema version');
    const check = checkSqliteFile(partial);
    renameSync(partial, output);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    out(
      `Backup ${output}: ${mib(statSync(output).size)} in ${seconds} s, ${check.links} links, ${check.visits} visits, ` +
        `${check.rows} rows; integrity_check ok, schema version ${check.schemaVersion}`,
    );
    return check;
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
}

/**
 * Whether another connection has the file open: leaving WAL mode needs it alone, so the switch to
 * DELETE fails (or does not happen) while a stack process holds it. Replacing a file a process has
 * open would leave that process writing to the old one.
 */
function inUse(file: string): boolean {
  const db = new Database(file, { fileMustExist: true, timeout: 0 });
  try {
    return db.pragma('journal_mode = DELETE', { simple: true }) !== 'delete';
  } catch {
    return true;
  } finally {
    db.close();
  }
}

/** Rows in the tables a move copies: 0 for a store just made by a start. */
async function rowsIn(file: string): Promise<number> {
  const tables = new SqliteTables(file);
  try {
    if ((await tables.schemaVersion()) === undefined) return 0;
    let rows = 0;
    for (const table of TABLES) rows += await tables.count(table);
    return rows;
  } finally {
    await tables.close();
  }
}

/**
 * Puts the backup at `target` (DATA_DIR/linkyard.sqlite): only where there is no store, or an empty
 * one no process has open. The backup is checked first, copied next to the target and renamed
 * into place, then checked again where it lies.
 */
export async function restoreSqlite(backup: string, target: string, out: (line: string) => void): Promise<StoreCheck> {
  if (existsSync(target)) {
    const rows = await rowsIn(target);
    if (rows > 0) {
      throw new BackupRefusedError(
        `${target} holds ${rows} rows: restore only into an empty store (move that file and its -wal away first, or set DATA_DIR to a new folder)`,
      );
    }
    if (inUse(target)) throw new BackupRefusedError(`${target} is open in another process: stop the stack first (npm start, or the app)`);
  }
  out(`Checking the backup ${backup}`);
  checkSqliteFile(backup);
  const partial = `${target}.restoring`;
  mkdirSync(dirname(target), { recursive: true });
  rmSync(partial, { force: true });
  out(`Restoring into ${target}`);
  const started = performance.now();
  try {
    // VACUUM INTO again rather than a byte copy: the same one-transaction copy, whatever the backup file's journal state.
    await vacuumInto(backup, partial, out);
    for (const suffix of ['-wal', '-shm', '']) rmSync(`${target}${suffix}`, { force: true });
    renameSync(partial, target);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
  const check = checkSqliteFile(target);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  out(
    `Restored in ${seconds} s: ${check.links} links, ${check.visits} visits, ${check.rows} rows; ` +
      `integrity_check ok, foreign keys ok, search index ok, schema version ${check.schemaVersion}`,
  );
  return check;
}
