import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { encodeCursor } from '../../../app/src/store/cursor.ts';
import { type DatasetPlan, indexOfRank, nameKey, nameOf } from '../dataset/plan.ts';
import type { StoreSpec } from '../dataset/store-spec.ts';

/**
 * Search terms grouped by how many links they hit, so a middle group's growth shows: a link's own
 * name (one link), then title phrases of three, two and one of words.ts's words, each a few
 * hundred times as common as the last (a title has 2–12 of 62 words; slugs join words with '-',
 * so a phrase with spaces hits titles only; a single word hits slugs too).
 */
export function searchTerms(plan: Pick<DatasetPlan, 'links' | 'seed'>): Array<{ group: string; term: string }> {
  const key = nameKey(plan);
  return [
    { group: 'one link (its name)', term: nameOf(key, indexOfRank(key, plan.links, Math.ceil(plan.links / 2))) },
    { group: 'three words', term: 'kernel tuning report' },
    { group: 'two words', term: 'kernel tuning' },
    { group: 'one word', term: 'kernel' },
  ];
}

/** The stats rollups' tables and their indexes: what the visits cost on disk beside the links. */
const ROLLUP_RELATIONS = ['visit_hours', 'visit_hours_hour', 'visit_days', 'visit_dimensions'];

/** What the bench reads from a dataset's store directly, with no stack running on it. */
export interface StoreFacts {
  links: number;
  /** The store's size: the SQLite file and its WAL, or pg_database_size. */
  bytesOnDisk: number;
  /**
   * The cursor of the page that starts `depth` links below the newest: the id of the row at
   * OFFSET depth − 1, read once here with an OFFSET scan (the cost of finding it is the bench's,
   * not the request's). Passing it back is what a client that paged that far down would do.
   */
  deepCursor: string;
  depth: number;
  /** The rollups' tables and indexes, in bytes. */
  rollupBytes: number;
  /** Each search term and the links whose name, target or title hold it (case-insensitively, as search matches). */
  searchTerms: Array<{ group: string; term: string; hits: number }>;
}

export async function storeFacts(
  spec: StoreSpec,
  wantedDepth: number,
  terms: ReadonlyArray<{ group: string; term: string }>,
): Promise<StoreFacts> {
  if (spec.engine === 'sqlite') {
    const file = join(spec.dataDir, 'linkyard.sqlite');
    const db = new Database(file, { readonly: true });
    try {
      const links = db.prepare<[], number>('SELECT count(*) FROM bookmarks').pluck().get() ?? 0;
      const depth = Math.max(1, Math.min(wantedDepth, links - 1));
      const id = db
        .prepare<[number], number>('SELECT id FROM bookmarks ORDER BY id DESC LIMIT 1 OFFSET ?')
        .pluck()
        .get(depth - 1);
      if (id === undefined) throw new Error(`no row ${depth} deep in ${file}`);
      const bytesOnDisk = readdirSync(spec.dataDir)
        .filter((name) => name.startsWith('linkyard.sqlite'))
        .reduce((total, name) => total + statSync(join(spec.dataDir, name)).size, 0);
      const rollupBytes =
        db
          .prepare<string[], number>(`SELECT sum(pgsize) FROM dbstat WHERE name IN (${ROLLUP_RELATIONS.map(() => '?').join(', ')})`)
          .pluck()
          .get(...ROLLUP_RELATIONS) ?? 0;
      // The search index's own query (store/sqlite.ts): a phrase, matched by trigrams anywhere, any case.
      const hitsOf = db.prepare<[string], number>('SELECT count(*) FROM bookmarks_search WHERE bookmarks_search MATCH ?').pluck();
      const searchTerms = terms.map((term) => ({ ...term, hits: hitsOf.get(`"${term.term.replaceAll('"', '""')}"`) ?? 0 }));
      return { links, bytesOnDisk, deepCursor: encodeCursor(id), depth, rollupBytes, searchTerms };
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: spec.url });
  await client.connect();
  try {
    const links = Number((await client.query<{ count: string }>('SELECT count(*) AS count FROM bookmarks')).rows[0]?.count ?? 0);
    const depth = Math.max(1, Math.min(wantedDepth, links - 1));
    const row = (await client.query<{ id: string }>('SELECT id FROM bookmarks ORDER BY id DESC LIMIT 1 OFFSET $1', [depth - 1])).rows[0];
    if (row === undefined) throw new Error(`no row ${depth} deep`);
    const size = (await client.query<{ bytes: string }>('SELECT pg_database_size(current_database()) AS bytes')).rows[0];
    // pg_total_relation_size: each table with its indexes and TOAST (visit_hours_hour comes with visit_hours).
    const rollups = await client.query<{ bytes: string }>(
      `SELECT coalesce(sum(pg_total_relation_size(relation::regclass)), 0) AS bytes FROM unnest($1::text[]) AS relation`,
      [ROLLUP_RELATIONS.filter((relation) => relation !== 'visit_hours_hour')],
    );
    const searchTerms: StoreFacts['searchTerms'] = [];
    for (const term of terms) {
      // What search matches (store/postgres.ts's SEARCH_TEXT ILIKE), with LIKE's wildcards taken literally.
      const pattern = `%${term.term.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
      const hits = await client.query<{ count: string }>(
        `SELECT count(*) AS count FROM bookmarks WHERE name || ' ' || uri || ' ' || coalesce(title, '') ILIKE $1`,
        [pattern],
      );
      searchTerms.push({ ...term, hits: Number(hits.rows[0]?.count ?? 0) });
    }
    return {
      links,
      bytesOnDisk: Number(size?.bytes ?? 0),
      deepCursor: encodeCursor(Number(row.id)),
      depth,
      rollupBytes: Number(rollups.rows[0]?.bytes ?? 0),
      searchTerms,
    };
  } finally {
    await client.end();
  }
}

/** Drops a PostgreSQL dataset's database (the smoke test's), through the server's `postgres` database. */
export async function dropDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  target.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: target.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** Established TCP connections whose local port is one of `ports` (the apps' side of nginx's upstream connections). */
export function establishedTo(ports: ReadonlySet<number>): number {
  let count = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      // st 01: ESTABLISHED.
      if (local === undefined || fields[3] !== '01') continue;
      const port = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
      if (ports.has(port)) count++;
    }
  }
  return count;
}

/** nginx's processes: the master (from its pid file) and its children, the workers. */
export function nginxPids(pidFile: string): number[] {
  let master: number;
  try {
    master = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return [];
  }
  try {
    const children = readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return [master, ...children];
  } catch {
    return [master];
  }
}
