import type Database from 'better-sqlite3';
import type { LinkRow } from './sqlite.ts';
import type { ImportOutcome, LinkRecord, StoredDay, StoredDimension, StoredHour } from './types.ts';

type Keyed<T> = T & { bookmark_id: number };

/** Rows of one page's links, grouped by link id (each list already in key order). */
function groupById<T extends { bookmark_id: number }>(rows: readonly T[]): Map<number, Omit<T, 'bookmark_id'>[]> {
  const groups = new Map<number, Omit<T, 'bookmark_id'>[]>();
  for (const { bookmark_id, ...rest } of rows) {
    let group = groups.get(bookmark_id);
    if (group === undefined) {
      group = [];
      groups.set(bookmark_id, group);
    }
    group.push(rest);
  }
  return groups;
}

/** The export's and the import's statements (store/types.ts exportLinks, importLinks), prepared once beside the store's own. */
export function prepareTransferStatements(db: Database.Database) {
  const links = db.prepare<[number, number], LinkRow>(
    `SELECT id, name, uri, title, check_status, visits, created_at, created_by, expires_at, max_visits, forward_query
     FROM bookmarks WHERE id > ? ORDER BY id LIMIT ?`,
  );
  // A page's rollups by the range of its ids: one indexed range read per table, whatever the page.
  const hours = db.prepare<[number, number], Keyed<StoredHour>>(
    'SELECT bookmark_id, hour, visits, bots FROM visit_hours WHERE bookmark_id BETWEEN ? AND ? ORDER BY bookmark_id, hour',
  );
  const days = db.prepare<[number, number], Keyed<StoredDay>>(
    'SELECT bookmark_id, day, visits, bots FROM visit_days WHERE bookmark_id BETWEEN ? AND ? ORDER BY bookmark_id, day',
  );
  const dimensions = db.prepare<[number, number], Keyed<StoredDimension>>(
    `SELECT bookmark_id, day, dimension, value, visits FROM visit_dimensions
     WHERE bookmark_id BETWEEN ? AND ? ORDER BY bookmark_id, day, dimension, value`,
  );

  const existing = db.prepare<[string], { id: number; uri: string }>('SELECT id, uri FROM bookmarks WHERE name = ?');
  // An overwrite keeps the row (and so its id, and whether an admin disabled it) and replaces the rest.
  const replace = db.prepare<[string, string | null, number, number, number, string | null, number | null, number | null, number, number]>(
    `UPDATE bookmarks SET uri = ?, title = ?, check_status = ?, visits = ?, created_at = ?, created_by = ?, expires_at = ?,
       max_visits = ?, forward_query = ? WHERE id = ?`,
  );
  const forgetRollups = [
    db.prepare<[number]>('DELETE FROM visit_hours WHERE bookmark_id = ?'),
    db.prepare<[number]>('DELETE FROM visit_days WHERE bookmark_id = ?'),
    db.prepare<[number]>('DELETE FROM visit_dimensions WHERE bookmark_id = ?'),
  ];
  const insert = db.prepare<
    [string, string, string | null, number, number, number, string | null, number | null, number | null, number],
    { id: number }
  >(
    `INSERT INTO bookmarks (name, uri, title, check_status, visits, created_at, created_by, expires_at, max_visits, forward_query)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
  );
  const insertHour = db.prepare<[number, number, number, number]>(
    'INSERT INTO visit_hours (bookmark_id, hour, visits, bots) VALUES (?, ?, ?, ?)',
  );
  const insertDay = db.prepare<[number, number, number, number]>(
    'INSERT INTO visit_days (bookmark_id, day, visits, bots) VALUES (?, ?, ?, ?)',
  );
  const insertDimension = db.prepare<[number, number, string, string, number]>(
    'INSERT INTO visit_dimensions (bookmark_id, day, dimension, value, visits) VALUES (?, ?, ?, ?, ?)',
  );

  function fields(link: LinkRecord) {
    return [
      link.uri,
      link.title,
      link.checkStatus,
      link.visits,
      link.createdAt.getTime(),
      link.createdBy,
      link.expiresAt?.getTime() ?? null,
      link.maxVisits,
      link.forwardQuery ? 1 : 0,
    ] as const;
  }

  function writeRollups(id: number, link: LinkRecord): void {
    for (const row of link.hours) insertHour.run(id, row.hour, row.visits, row.bots);
    for (const row of link.days) insertDay.run(id, row.day, row.visits, row.bots);
    for (const row of link.dimensions) insertDimension.run(id, row.day, row.dimension, row.value, row.visits);
  }

  function insertLink(link: LinkRecord): void {
    const inserted = insert.get(link.name, ...fields(link));
    if (inserted === undefined) throw new Error(`link '${link.name}' not inserted`);
    writeRollups(inserted.id, link);
  }

  return {
    /** Deferred: the reads of one page share one snapshot, and a writer elsewhere is never held up. */
    exportPage: db.transaction((after: number, limit: number): { id: number; link: LinkRecord }[] => {
      const rows = links.all(after, limit);
      const first = rows[0];
      const last = rows.at(-1);
      if (first === undefined || last === undefined) return [];
      const hoursOf = groupById(hours.all(first.id, last.id));
      const daysOf = groupById(days.all(first.id, last.id));
      const dimensionsOf = groupById(dimensions.all(first.id, last.id));
      return rows.map((row) => ({
        id: row.id,
        link: {
          name: row.name,
          uri: row.uri,
          title: row.title,
          checkStatus: row.check_status,
          createdAt: new Date(row.created_at),
          createdBy: row.created_by,
          expiresAt: row.expires_at === null ? null : new Date(row.expires_at),
          maxVisits: row.max_visits,
          forwardQuery: row.forward_query === 1,
          visits: row.visits,
          hours: hoursOf.get(row.id) ?? [],
          days: daysOf.get(row.id) ?? [],
          dimensions: dimensionsOf.get(row.id) ?? [],
        },
      }));
    }),
    /** Run IMMEDIATE: the batch is one write transaction, all of it or none. */
    importBatch: db.transaction((batch: readonly LinkRecord[], overwrite: boolean): ImportOutcome[] =>
      batch.map((link): ImportOutcome => {
        const found = existing.get(link.name);
        if (found === undefined) {
          insertLink(link);
          return { kind: 'imported' };
        }
        if (found.uri === link.uri) return { kind: 'skipped' };
        if (!overwrite) return { kind: 'conflict', existingUri: found.uri };
        replace.run(...fields(link), found.id);
        for (const statement of forgetRollups) statement.run(found.id);
        writeRollups(found.id, link);
        return { kind: 'overwritten', previousUri: found.uri };
      }),
    ),
  };
}
