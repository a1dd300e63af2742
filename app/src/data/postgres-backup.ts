/**
 * PostgreSQL backup and restore through pg_dump and pg_restore of the server's own major version:
 * an older pg_dump refuses a newer server, and a newer one writes archives an older pg_restore cannot
 * read. The archive is the custom format (compressed, restorable table by table) of the database,
 * or, where linkyard's tables are in a schema other than public, of that schema alone.
 */
import { spawn } from 'node:child_process';
import { existsSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from 'pg';
import { POSTGRES_SCHEMA_VERSION, PostgresStore, SEARCH_INDEX } from '../store/postgres.ts';
import { redactedUrl } from './postgres-tables.ts';
import { BackupRefusedError, type StoreCheck } from './sqlite-backup.ts';
import { TABLES } from './tables.ts';

/** Every table of linkyard's schema, the ones a move leaves out included. */
const ALL_TABLES = [...TABLES.map((table) => table.name), 'visit_batches', 'schema_migrations'];

/** The URL without its password, and the password for the PGPASSWORD of the child: never in its arguments, which `ps` shows. */
function connection(url: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  // Query parameters percent-encoded again: libpq takes '+' literally where node-postgres reads a space.
  parsed.search = [...parsed.searchParams].map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`).join('&');
  return { dbname: parsed.href, env: password === '' ? process.env : { ...process.env, PGPASSWORD: password } };
}

interface Server {
  major: number;
  /** The schema the URL's search_path puts linkyard's tables in. */
  schema: string;
}

async function server(url: string): Promise<Server> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    // current_schema() is the first search_path entry that exists; a restore may be the one creating it.
    const { rows } = await client.query<{ version: string; schema: string | null; path: string }>(
      `SELECT current_setting('server_version_num') AS version, current_schema() AS schema, current_setting('search_path') AS path`,
    );
    const row = rows[0];
    const first = row?.path
      .split(',')
      .map((entry) => entry.trim().replace(/^"(.*)"$/, '$1'))
      .find((entry) => entry !== '$user' && entry !== '');
    const schema = row?.schema ?? first;
    if (row === undefined || schema === undefined) throw new BackupRefusedError('the search_path names no schema');
    return { major: Math.floor(Number(row.version) / 10000), schema };
  } finally {
    await client.end();
  }
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, onLine?: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    const errors: string[] = [];
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    createInterface({ input: child.stderr }).on('line', (line) => {
      errors.push(line);
      onLine?.(line);
    });
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`${command} failed (exit ${code}): ${errors.slice(-5).join(' / ')}`)),
    );
  });
}

/**
 * The pg_dump or pg_restore of the server's major version: the one asked for, else Debian's
 * /usr/lib/postgresql/<major>/bin/, else the one on PATH; refused, saying what to do, when none matches.
 */
export async function findTool(tool: 'pg_dump' | 'pg_restore', major: number, asked: string | undefined): Promise<string> {
  const candidates = asked !== undefined ? [asked] : [`/usr/lib/postgresql/${major}/bin/${tool}`, tool];
  const found: string[] = [];
  for (const candidate of candidates) {
    if (candidate.includes('/') && !existsSync(candidate)) continue;
    let version: string;
    try {
      version = await run(candidate, ['--version'], process.env);
    } catch {
      continue;
    }
    const match = /\(PostgreSQL\)\s+(\d+)/.exec(version);
    if (match !== null && Number(match[1]) === major) return candidate;
    found.push(`${candidate} is ${match?.[1] ?? 'of an unknown version'}`);
  }
  throw new BackupRefusedError(
    `the server is PostgreSQL ${major} and needs the ${tool} of version ${major}` +
      `${found.length > 0 ? ` (${found.join('; ')})` : `; none found`}: install postgresql-client-${major} and pass --${tool.replace('_', '-')} ` +
      `/usr/lib/postgresql/${major}/bin/${tool}, or run it where the server is: ` +
      `docker compose exec postgres ${tool} … (docs/data.md#backup-and-restore)`,
  );
}

/** Dumps linkyard's schema of the server at `url` into `output` (which must not exist). */
export async function backupPostgres(url: string, output: string, pgDump: string | undefined, out: (line: string) => void): Promise<void> {
  if (existsSync(output)) throw new BackupRefusedError(`${output} exists already: name another --output, or move it away`);
  const { major, schema } = await server(url);
  const tool = await findTool('pg_dump', major, pgDump);
  const partial = `${output}.partial`;
  rmSync(partial, { force: true });
  out(`Backing up PostgreSQL ${redactedUrl(url)} (server ${major}, schema ${schema}) with ${tool}`);
  const started = performance.now();
  const { dbname, env } = connection(url);
  try {
    // One snapshot for the whole dump (pg_dump's own repeatable-read transaction): writes go on meanwhile.
    await run(
      tool,
      [
        '--format=custom',
        '--no-owner',
        '--no-privileges',
        // In public, the database is taken to be linkyard's own (compose's is): the whole of it, as
        // compose:backup dumps it, so either restore reads either archive. Elsewhere, that schema only.
        ...(schema === 'public' ? [] : [`--schema=${schema}`]),
        '--verbose',
        `--file=${partial}`,
        `--dbname=${dbname}`,
      ],
      env,
      (line) => {
        const table = /dumping contents of table "([^"]+)"/.exec(line);
        if (table !== null) out(`  ${table[1]}`);
      },
    );
    // The archive's table of contents must read back and hold the links.
    const list = await run(tool.replace(/pg_dump$/, 'pg_restore'), ['--list', partial], process.env);
    if (!new RegExp(`TABLE DATA ${schema} bookmarks `).test(list)) throw new Error('the archive holds no bookmarks table');
    renameSync(partial, output);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  out(`Backup ${output}: ${(statSync(output).size / 1024 / 1024).toFixed(1)} MiB in ${seconds} s (pg_dump ${major}, custom format)`);
}

/** Rows in linkyard's tables in the URL's schema, or undefined when there are none of them. */
async function rowsIn(client: Client): Promise<number | undefined> {
  const { rows } = await client.query<{ found: string | null }>(`SELECT to_regclass('bookmarks')::text AS found`);
  if (rows[0]?.found === null || rows[0]?.found === undefined) return undefined;
  let total = 0;
  // A table whose columns live in another (link_checks in bookmarks) is counted with that one.
  for (const table of TABLES.filter((spec) => spec.postgresColumnsIn === undefined)) {
    const counted = await client.query<{ count: string }>(`SELECT count(*)::text AS count FROM ${table.name}`);
    total += Number(counted.rows[0]?.count ?? 0);
  }
  return total;
}

/**
 * Restores an archive of backupPostgres into the URL's database, only where linkyard's tables are
 * absent or empty (a store the app just made is dropped first: it holds nothing). The search index
 * is left out of the restore and built again as the app builds it, so the archive does not depend on
 * where the target keeps pg_trgm. Then the checks: schema version, counts, the index valid.
 */
export async function restorePostgres(
  url: string,
  archive: string,
  pgRestore: string | undefined,
  out: (line: string) => void,
): Promise<StoreCheck> {
  const { major, schema } = await server(url).catch(async (error: unknown) => {
    if (error instanceof BackupRefusedError) throw error;
    throw new BackupRefusedError(`cannot reach ${redactedUrl(url)}: ${(error as Error).message}`);
  });
  const tool = await findTool('pg_restore', major, pgRestore);
  const list = await run(tool, ['--list', archive], process.env);
  const archived = /TABLE DATA (\S+) bookmarks /.exec(list)?.[1];
  if (archived === undefined) throw new BackupRefusedError(`${archive} holds no linkyard store (no bookmarks table)`);
  if (archived !== schema) {
    throw new BackupRefusedError(
      `the archive holds schema '${archived}' and the target's search_path selects '${schema}': restore into a database whose search_path starts with '${archived}'`,
    );
  }
  const client = new Client({ connectionString: url });
  await client.connect();
  const listFile = join(tmpdir(), `linkyard-restore-${process.pid}.list`);
  try {
    const held = await rowsIn(client);
    if (held !== undefined && held > 0) {
      throw new BackupRefusedError(
        `${redactedUrl(url)} holds ${held} rows in schema ${schema}: restore only into an empty store (a new database, or drop the schema's linkyard tables)`,
      );
    }
    const schemaExists = (await client.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [schema])).rowCount === 1;
    if (held !== undefined) {
      out(`Dropping the empty tables a start of the app made in ${schema}`);
      await client.query(`DROP TABLE IF EXISTS ${ALL_TABLES.join(', ')} CASCADE`);
    }
    // Left out: the search index (built below) and, where the schema exists, its CREATE SCHEMA.
    const entries = list
      .split('\n')
      .filter((line) => !new RegExp(`INDEX ${schema} ${SEARCH_INDEX} `).test(line))
      .filter((line) => !(schemaExists && new RegExp(`(SCHEMA|COMMENT) - (SCHEMA )?${schema} `).test(line)));
    writeFileSync(listFile, entries.join('\n'));
    out(`Restoring ${archive} into ${redactedUrl(url)} (server ${major}, schema ${schema}) with ${tool}`);
    const started = performance.now();
    const { dbname, env } = connection(url);
    await run(
      tool,
      [
        '--no-owner',
        '--no-privileges',
        '--exit-on-error',
        '--single-transaction',
        '--verbose',
        `--use-list=${listFile}`,
        `--dbname=${dbname}`,
        archive,
      ],
      env,
      (line) => {
        const table = /processing data for table "([^"]+)"/.exec(line);
        if (table !== null) out(`  ${table[1]}`);
      },
    );
    const version = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations');
    const restoredVersion = version.rows[0]?.version ?? 0;
    if (restoredVersion !== POSTGRES_SCHEMA_VERSION) {
      throw new Error(
        `restored schema version ${restoredVersion}, this build's is ${POSTGRES_SCHEMA_VERSION}: use the build that wrote it`,
      );
    }
    out('Building the search index');
    const store = new PostgresStore({ connectionString: url, maxConnections: 1, queryTimeoutMs: 60_000 });
    try {
      while (!(await store.searchIndexStep())) await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      await store.close();
    }
    const totals = await client.query<{ links: string; visits: string }>(
      'SELECT count(*)::text AS links, coalesce(sum(visits), 0)::text AS visits FROM bookmarks',
    );
    const rows = (await rowsIn(client)) ?? 0;
    const check = {
      schemaVersion: restoredVersion,
      links: Number(totals.rows[0]?.links ?? 0),
      visits: Number(totals.rows[0]?.visits ?? 0),
      rows,
    };
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    out(
      `Restored in ${seconds} s: ${check.links} links, ${check.visits} visits, ${check.rows} rows; ` +
        `schema version ${check.schemaVersion}, search index valid`,
    );
    return check;
  } finally {
    rmSync(listFile, { force: true });
    await client.end();
  }
}
