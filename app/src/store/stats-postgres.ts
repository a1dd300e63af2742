import type { VisitRollupRows } from './stats-types.ts';

/** The stats step of postgres.ts's MIGRATIONS (decision 0019). */
export const STATS_SCHEMA = `
  CREATE TABLE visit_hours (
    bookmark_id bigint NOT NULL REFERENCES bookmarks (id) ON DELETE CASCADE,
    hour integer NOT NULL,
    visits bigint NOT NULL,
    bots bigint NOT NULL,
    PRIMARY KEY (bookmark_id, hour)
  );
  CREATE INDEX visit_hours_hour ON visit_hours (hour);
  CREATE TABLE visit_days (
    bookmark_id bigint NOT NULL REFERENCES bookmarks (id) ON DELETE CASCADE,
    day integer NOT NULL,
    visits bigint NOT NULL,
    bots bigint NOT NULL,
    PRIMARY KEY (bookmark_id, day)
  );
  CREATE TABLE visit_dimensions (
    bookmark_id bigint NOT NULL REFERENCES bookmarks (id) ON DELETE CASCADE,
    day integer NOT NULL,
    dimension text NOT NULL,
    value text NOT NULL,
    visits bigint NOT NULL,
    PRIMARY KEY (bookmark_id, day, dimension, value)
  )`;

const LINK = '(SELECT id FROM bookmarks WHERE name = $1)';

/**
 * The start of every visit batch's statement ($1 names, $2 counts, $3 the batch id): the batch id is
 * recorded first, and if it already was, nothing else happens; ids older than a day are let go; the
 * rows are locked in id order, so two processes flushing overlapping names at once cannot deadlock.
 */
export const VISIT_BATCH_CTES = `WITH batch AS (
             INSERT INTO visit_batches (id) VALUES ($3) ON CONFLICT (id) DO NOTHING RETURNING id
           ), expired AS (
             DELETE FROM visit_batches WHERE applied_at < now() - interval '1 day'
           ), locked AS (
             SELECT b.id, v.visits
             FROM bookmarks b JOIN unnest($1::text[], $2::bigint[]) AS v (name, visits) ON v.name = b.name
             WHERE EXISTS (SELECT FROM batch)
             ORDER BY b.id
             FOR UPDATE OF b
           )`;

/**
 * Named queries, as postgres.ts's. The batch with rollups is one statement too (one transaction,
 * one round trip): every insert is guarded by the batch id being new, and rows are written in key
 * order so two processes flushing the same links cannot deadlock.
 */
export const STATS_SQL = {
  addVisitsWithRollups: {
    name: 'linkyard_add_visits_with_rollups',
    text: `${VISIT_BATCH_CTES}, counted AS (
             UPDATE bookmarks SET visits = bookmarks.visits + locked.visits
             FROM locked WHERE bookmarks.id = locked.id
           ), hours AS (
             INSERT INTO visit_hours (bookmark_id, hour, visits, bots)
             SELECT b.id, v.hour, v.visits, v.bots
             FROM bookmarks b JOIN unnest($4::text[], $5::integer[], $6::bigint[], $7::bigint[]) AS v (name, hour, visits, bots) ON v.name = b.name
             WHERE EXISTS (SELECT FROM batch)
             ORDER BY b.id, v.hour
             ON CONFLICT (bookmark_id, hour) DO UPDATE
               SET visits = visit_hours.visits + excluded.visits, bots = visit_hours.bots + excluded.bots
           )
           INSERT INTO visit_dimensions (bookmark_id, day, dimension, value, visits)
           SELECT b.id, v.day, v.dimension, v.value, v.visits
           FROM bookmarks b JOIN unnest($8::text[], $9::integer[], $10::text[], $11::text[], $12::bigint[]) AS v (name, day, dimension, value, visits) ON v.name = b.name
           WHERE EXISTS (SELECT FROM batch)
           ORDER BY b.id, v.day, v.dimension, v.value
           ON CONFLICT (bookmark_id, day, dimension, value) DO UPDATE SET visits = visit_dimensions.visits + excluded.visits`,
  },
  hours: {
    name: 'linkyard_visit_hours',
    text: `SELECT hour AS bucket, visits, bots FROM visit_hours
           WHERE bookmark_id = ${LINK} AND hour >= $2 AND hour < $3 ORDER BY hour`,
  },
  days: {
    name: 'linkyard_visit_days',
    text: `SELECT bucket, sum(visits) AS visits, sum(bots) AS bots FROM (
             SELECT day AS bucket, visits, bots FROM visit_days WHERE bookmark_id = ${LINK} AND day >= $2 AND day < $3
             UNION ALL
             SELECT hour / 24, visits, bots FROM visit_hours WHERE bookmark_id = ${LINK} AND hour >= $2 * 24 AND hour < $3 * 24
           ) AS buckets GROUP BY bucket ORDER BY bucket`,
  },
  top: {
    name: 'linkyard_visit_top',
    text: `SELECT dimension, value, sum(visits) AS visits FROM visit_dimensions
           WHERE bookmark_id = ${LINK} AND day >= $2 AND day < $3
           GROUP BY dimension, value ORDER BY dimension, visits DESC, value`,
  },
  daily: {
    name: 'linkyard_visit_daily',
    text: `SELECT b.name, h.hour / 24 AS day, sum(h.visits) AS visits
           FROM bookmarks b JOIN visit_hours h ON h.bookmark_id = b.id
           WHERE b.name = ANY ($1::text[]) AND h.hour >= $2 * 24
           GROUP BY b.name, day ORDER BY b.name, day`,
  },
  // The oldest hour only: a fold of ten million links' rows is many short statements. Two
  // processes folding at once: the second's DELETE waits for the first's rows, then finds them gone.
  fold: {
    name: 'linkyard_visit_fold',
    text: `WITH moved AS (
             DELETE FROM visit_hours WHERE hour = (SELECT min(hour) FROM visit_hours) AND hour < $1
             RETURNING bookmark_id, hour, visits, bots
           ), folded AS (
             INSERT INTO visit_days (bookmark_id, day, visits, bots)
             SELECT bookmark_id, hour / 24, visits, bots FROM moved
             ON CONFLICT (bookmark_id, day) DO UPDATE
               SET visits = visit_days.visits + excluded.visits, bots = visit_days.bots + excluded.bots
           )
           SELECT count(*) AS moved FROM moved`,
  },
} as const satisfies Record<string, { name: string; text: string }>;

/** The parameters of addVisitsWithRollups, column by column. */
export function rollupParameters(counts: ReadonlyMap<string, number>, batchId: string, rollups: VisitRollupRows): unknown[] {
  const { hours, dimensions } = rollups;
  return [
    [...counts.keys()],
    [...counts.values()],
    batchId,
    hours.map((row) => row.name),
    hours.map((row) => row.hour),
    hours.map((row) => row.visits),
    hours.map((row) => row.bots),
    dimensions.map((row) => row.name),
    dimensions.map((row) => row.day),
    dimensions.map((row) => row.dimension),
    dimensions.map((row) => row.value),
    dimensions.map((row) => row.visits),
  ];
}
