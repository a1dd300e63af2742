import type { PoolClient } from 'pg';
import type { LinkRow } from './postgres.ts';
import type { ImportOutcome, LinkRecord, StoredDay, StoredDimension, StoredHour } from './types.ts';

/**
 * Named queries, as postgres.ts's. Text sorts by bytes (COLLATE "C", SQLite's order), so both
 * engines export the same data in the same order whatever the database's collation.
 */
const TRANSFER_SQL = {
  links: {
    name: 'linkyard_export_links',
    text: `SELECT id, name, uri, title, check_status, visits, created_at, created_by, expires_at, max_visits, forward_query
           FROM bookmarks WHERE id > $1 ORDER BY id LIMIT $2`,
  },
  hours: {
    name: 'linkyard_export_hours',
    text: 'SELECT bookmark_id, hour, visits, bots FROM visit_hours WHERE bookmark_id BETWEEN $1 AND $2 ORDER BY bookmark_id, hour',
  },
  days: {
    name: 'linkyard_export_days',
    text: 'SELECT bookmark_id, day, visits, bots FROM visit_days WHERE bookmark_id BETWEEN $1 AND $2 ORDER BY bookmark_id, day',
  },
  dimensions: {
    name: 'linkyard_export_dimensions',
    text: `SELECT bookmark_id, day, dimension, value, visits FROM visit_dimensions WHERE bookmark_id BETWEEN $1 AND $2
           ORDER BY bookmark_id, day, dimension COLLATE "C", value COLLATE "C"`,
  },
  existing: {
    name: 'linkyard_import_existing',
    text: 'SELECT id, name, uri FROM bookmarks WHERE name = ANY ($1::text[]) ORDER BY id FOR UPDATE',
  },
  // In the order given (ORDINALITY): ids follow the file, so an export of the import lists the links as the file did.
  insert: {
    name: 'linkyard_import_insert',
    // checked_at as SQLite's link_checks trigger sets it: an imported link is due for its
    // re-check (services/rechecks.ts) as if checked when it was made.
    text: `INSERT INTO bookmarks (name, uri, title, check_status, visits, created_at, created_by, expires_at, max_visits, forward_query, checked_at)
           SELECT name, uri, title, check_status, visits, created_at, created_by, expires_at, max_visits, forward_query, created_at
           FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::bigint[], $6::timestamptz[], $7::text[],
                       $8::timestamptz[], $9::bigint[], $10::boolean[])
             WITH ORDINALITY AS v (name, uri, title, check_status, visits, created_at, created_by, expires_at, max_visits, forward_query, ord)
           ORDER BY ord
           ON CONFLICT (name) DO NOTHING
           RETURNING id, name`,
  },
  // An overwrite keeps the row (its id, and whether an admin disabled it) and replaces the rest.
  replace: {
    name: 'linkyard_import_replace',
    text: `UPDATE bookmarks b SET uri = v.uri, title = v.title, check_status = v.check_status, visits = v.visits,
             created_at = v.created_at, created_by = v.created_by, expires_at = v.expires_at, max_visits = v.max_visits,
             forward_query = v.forward_query
           FROM unnest($11::bigint[], $2::text[], $3::text[], $4::integer[], $5::bigint[], $6::timestamptz[], $7::text[],
                       $8::timestamptz[], $9::bigint[], $10::boolean[], $1::text[])
             AS v (id, uri, title, check_status, visits, created_at, created_by, expires_at, max_visits, forward_query, name)
           WHERE b.id = v.id`,
  },
  forgetRollups: {
    name: 'linkyard_import_forget_rollups',
    text: `WITH h AS (DELETE FROM visit_hours WHERE bookmark_id = ANY ($1::bigint[])),
                d AS (DELETE FROM visit_days WHERE bookmark_id = ANY ($1::bigint[]))
           DELETE FROM visit_dimensions WHERE bookmark_id = ANY ($1::bigint[])`,
  },
  rollups: {
    name: 'linkyard_import_rollups',
    text: `WITH h AS (
             INSERT INTO visit_hours (bookmark_id, hour, visits, bots)
             SELECT * FROM unnest($1::bigint[], $2::integer[], $3::bigint[], $4::bigint[])
           ), d AS (
             INSERT INTO visit_days (bookmark_id, day, visits, bots)
             SELECT * FROM unnest($5::bigint[], $6::integer[], $7::bigint[], $8::bigint[])
           )
           INSERT INTO visit_dimensions (bookmark_id, day, dimension, value, visits)
           SELECT * FROM unnest($9::bigint[], $10::integer[], $11::text[], $12::text[], $13::bigint[])`,
  },
} as const satisfies Record<string, { name: string; text: string }>;

type Keyed<T> = { [K in keyof T]: T[K] | string } & { bookmark_id: string };

function groupById<T>(rows: readonly Keyed<T>[], toItem: (row: Keyed<T>) => T): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    let group = groups.get(row.bookmark_id);
    if (group === undefined) {
      group = [];
      groups.set(row.bookmark_id, group);
    }
    group.push(toItem(row));
  }
  return groups;
}

/** One page of the export, read in one REPEATABLE READ snapshot on `client` (the caller's transaction). */
export async function exportPage(client: PoolClient, after: number, limit: number): Promise<{ id: number; link: LinkRecord }[]> {
  const { rows } = await client.query<LinkRow>({ ...TRANSFER_SQL.links, values: [after, limit] });
  const first = rows[0];
  const last = rows.at(-1);
  if (first === undefined || last === undefined) return [];
  const range = [first.id, last.id];
  const hours = await client.query<Keyed<StoredHour>>({ ...TRANSFER_SQL.hours, values: range });
  const days = await client.query<Keyed<StoredDay>>({ ...TRANSFER_SQL.days, values: range });
  const dimensions = await client.query<Keyed<StoredDimension>>({ ...TRANSFER_SQL.dimensions, values: range });
  const hoursOf = groupById<StoredHour>(hours.rows, (row) => ({
    hour: Number(row.hour),
    visits: Number(row.visits),
    bots: Number(row.bots),
  }));
  const daysOf = groupById<StoredDay>(days.rows, (row) => ({ day: Number(row.day), visits: Number(row.visits), bots: Number(row.bots) }));
  const dimensionsOf = groupById<StoredDimension>(dimensions.rows, (row) => ({
    day: Number(row.day),
    dimension: String(row.dimension),
    value: String(row.value),
    visits: Number(row.visits),
  }));
  return rows.map((row) => ({
    id: Number(row.id),
    link: {
      name: row.name,
      uri: row.uri,
      title: row.title,
      checkStatus: row.check_status,
      createdAt: row.created_at,
      createdBy: row.created_by,
      expiresAt: row.expires_at,
      maxVisits: row.max_visits === null ? null : Number(row.max_visits),
      forwardQuery: row.forward_query,
      visits: Number(row.visits),
      hours: hoursOf.get(row.id) ?? [],
      days: daysOf.get(row.id) ?? [],
      dimensions: dimensionsOf.get(row.id) ?? [],
    },
  }));
}

/** The row columns of `links`, one array each, in the order of TRANSFER_SQL.insert's parameters. */
function columns(links: readonly LinkRecord[]): unknown[] {
  return [
    links.map((link) => link.name),
    links.map((link) => link.uri),
    links.map((link) => link.title),
    links.map((link) => link.checkStatus),
    links.map((link) => link.visits),
    links.map((link) => link.createdAt.toISOString()),
    links.map((link) => link.createdBy),
    links.map((link) => link.expiresAt?.toISOString() ?? null),
    links.map((link) => link.maxVisits),
    links.map((link) => link.forwardQuery),
  ];
}

/**
 * Writes a batch inside the caller's transaction on `client`: the names are locked and settled
 * first (store/types.ts ImportOutcome), then the rows and rollups go in a few set-wise statements.
 */
export async function importBatch(client: PoolClient, batch: readonly LinkRecord[], overwrite: boolean): Promise<ImportOutcome[]> {
  const found = await client.query<{ id: string; name: string; uri: string }>({
    ...TRANSFER_SQL.existing,
    values: [[...new Set(batch.map((link) => link.name))]],
  });
  // What each name points at after the links before it in the batch: a name given twice is settled against its first.
  const current = new Map<string, { id: string | undefined; uri: string }>(
    found.rows.map((row) => [row.name, { id: row.id, uri: row.uri }]),
  );
  const outcomes: ImportOutcome[] = [];
  const inserts: LinkRecord[] = [];
  const replaces: { id: string; link: LinkRecord }[] = [];
  for (const link of batch) {
    const there = current.get(link.name);
    if (there === undefined) {
      inserts.push(link);
      current.set(link.name, { id: undefined, uri: link.uri });
      outcomes.push({ kind: 'imported' });
    } else if (there.uri === link.uri) {
      outcomes.push({ kind: 'skipped' });
    } else if (!overwrite || there.id === undefined) {
      outcomes.push({ kind: 'conflict', existingUri: there.uri });
    } else {
      replaces.push({ id: there.id, link });
      outcomes.push({ kind: 'overwritten', previousUri: there.uri });
      there.uri = link.uri;
    }
  }
  const ids = new Map<LinkRecord, string>();
  if (inserts.length > 0) {
    const inserted = await client.query<{ id: string; name: string }>({ ...TRANSFER_SQL.insert, values: columns(inserts) });
    const idOf = new Map(inserted.rows.map((row) => [row.name, row.id]));
    for (const link of inserts) {
      const id = idOf.get(link.name);
      if (id === undefined) throw new ImportRaceError(link.name);
      ids.set(link, id);
    }
  }
  if (replaces.length > 0) {
    const links = replaces.map((entry) => entry.link);
    await client.query({ ...TRANSFER_SQL.replace, values: [...columns(links), replaces.map((entry) => entry.id)] });
    await client.query({ ...TRANSFER_SQL.forgetRollups, values: [replaces.map((entry) => entry.id)] });
    for (const entry of replaces) ids.set(entry.link, entry.id);
  }
  const withRollups = [...ids].filter(([link]) => link.hours.length + link.days.length + link.dimensions.length > 0);
  if (withRollups.length > 0) {
    const hours = withRollups.flatMap(([link, id]) => link.hours.map((row) => ({ id, ...row })));
    const days = withRollups.flatMap(([link, id]) => link.days.map((row) => ({ id, ...row })));
    const dimensions = withRollups.flatMap(([link, id]) => link.dimensions.map((row) => ({ id, ...row })));
    await client.query({
      ...TRANSFER_SQL.rollups,
      values: [
        hours.map((row) => row.id),
        hours.map((row) => row.hour),
        hours.map((row) => row.visits),
        hours.map((row) => row.bots),
        days.map((row) => row.id),
        days.map((row) => row.day),
        days.map((row) => row.visits),
        days.map((row) => row.bots),
        dimensions.map((row) => row.id),
        dimensions.map((row) => row.day),
        dimensions.map((row) => row.dimension),
        dimensions.map((row) => row.value),
        dimensions.map((row) => row.visits),
      ],
    });
  }
  return outcomes;
}

/**
 * A name created by another process between the batch's read and its insert: the batch is rolled
 * back and tried again, when the name is there to be settled like any other.
 */
export class ImportRaceError extends Error {
  constructor(name: string) {
    super(`'${name}' was created while the import wrote it`);
    this.name = 'ImportRaceError';
  }
}
