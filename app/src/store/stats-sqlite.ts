import type Database from 'better-sqlite3';
import type { DailyVisits, Dimension, DimensionCount, Granularity, VisitBucket, VisitRollupRows } from './stats-types.ts';

/** The stats steps of sqlite.ts's MIGRATIONS (decision 0019). */
export const STATS_SCHEMA = `
  CREATE TABLE visit_hours (
    bookmark_id INTEGER NOT NULL REFERENCES bookmarks (id) ON DELETE CASCADE,
    hour INTEGER NOT NULL,
    visits INTEGER NOT NULL,
    bots INTEGER NOT NULL,
    PRIMARY KEY (bookmark_id, hour)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX visit_hours_hour ON visit_hours (hour);
  CREATE TABLE visit_days (
    bookmark_id INTEGER NOT NULL REFERENCES bookmarks (id) ON DELETE CASCADE,
    day INTEGER NOT NULL,
    visits INTEGER NOT NULL,
    bots INTEGER NOT NULL,
    PRIMARY KEY (bookmark_id, day)
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE visit_dimensions (
    bookmark_id INTEGER NOT NULL REFERENCES bookmarks (id) ON DELETE CASCADE,
    day INTEGER NOT NULL,
    dimension TEXT NOT NULL,
    value TEXT NOT NULL,
    visits INTEGER NOT NULL,
    PRIMARY KEY (bookmark_id, day, dimension, value)
  ) STRICT, WITHOUT ROWID`;

const LINK = '(SELECT id FROM bookmarks WHERE name = @name)';

/** The stats statements, prepared once beside the store's own; every read is a range on (bookmark_id, bucket). */
export function prepareStatsStatements(db: Database.Database) {
  // By the link's id, which the batch looked up once for all of a name's rows (prepareVisitWrite).
  const addHour = db.prepare<{ id: number; hour: number; visits: number; bots: number }>(
    `INSERT INTO visit_hours (bookmark_id, hour, visits, bots) VALUES (@id, @hour, @visits, @bots)
     ON CONFLICT (bookmark_id, hour) DO UPDATE SET visits = visits + excluded.visits, bots = bots + excluded.bots`,
  );
  const addDimension = db.prepare<{ id: number; day: number; dimension: string; value: string; visits: number }>(
    `INSERT INTO visit_dimensions (bookmark_id, day, dimension, value, visits) VALUES (@id, @day, @dimension, @value, @visits)
     ON CONFLICT (bookmark_id, day, dimension, value) DO UPDATE SET visits = visits + excluded.visits`,
  );
  const hours = db.prepare<{ name: string; from: number; to: number }, VisitBucket>(
    `SELECT hour AS bucket, visits, bots FROM visit_hours
     WHERE bookmark_id = ${LINK} AND hour >= @from AND hour < @to ORDER BY hour`,
  );
  const days = db.prepare<{ name: string; from: number; to: number }, VisitBucket>(
    `SELECT bucket, sum(visits) AS visits, sum(bots) AS bots FROM (
       SELECT day AS bucket, visits, bots FROM visit_days WHERE bookmark_id = ${LINK} AND day >= @from AND day < @to
       UNION ALL
       SELECT hour / 24, visits, bots FROM visit_hours WHERE bookmark_id = ${LINK} AND hour >= @from * 24 AND hour < @to * 24
     ) GROUP BY bucket ORDER BY bucket`,
  );
  const top = db.prepare<{ name: string; from: number; to: number }, { dimension: Dimension; value: string; visits: number }>(
    `SELECT dimension, value, sum(visits) AS visits FROM visit_dimensions
     WHERE bookmark_id = ${LINK} AND day >= @from AND day < @to
     GROUP BY dimension, value ORDER BY dimension, visits DESC, value`,
  );
  const daily = db.prepare<{ names: string; from: number }, DailyVisits>(
    `SELECT b.name AS name, h.hour / 24 AS day, sum(h.visits) AS visits
     FROM bookmarks b JOIN visit_hours h ON h.bookmark_id = b.id
     WHERE b.name IN (SELECT value FROM json_each(@names)) AND h.hour >= @from * 24
     GROUP BY b.name, day ORDER BY b.name, day`,
  );
  // One hour at a time, so a fold of ten million links' rows is many short transactions.
  const oldestHour = db.prepare<[], number | null>('SELECT min(hour) FROM visit_hours').pluck();
  const foldInto = db.prepare<{ hour: number }>(
    `INSERT INTO visit_days (bookmark_id, day, visits, bots)
     SELECT bookmark_id, hour / 24, visits, bots FROM visit_hours WHERE hour = @hour
     ON CONFLICT (bookmark_id, day) DO UPDATE SET visits = visits + excluded.visits, bots = bots + excluded.bots`,
  );
  const foldFrom = db.prepare<{ hour: number }>('DELETE FROM visit_hours WHERE hour = @hour');

  return {
    /** Runs inside addVisits' transaction; `idOf` answers undefined for a name deleted since (its rows are dropped). */
    addRollups(rollups: VisitRollupRows, idOf: (name: string) => number | undefined): void {
      for (const { name, hour, visits, bots } of rollups.hours) {
        const id = idOf(name);
        if (id !== undefined) addHour.run({ id, hour, visits, bots });
      }
      for (const { name, day, dimension, value, visits } of rollups.dimensions) {
        const id = idOf(name);
        if (id !== undefined) addDimension.run({ id, day, dimension, value, visits });
      }
    },
    series(name: string, granularity: Granularity, from: number, to: number): VisitBucket[] {
      return (granularity === 'hour' ? hours : days).all({ name, from, to });
    },
    top(name: string, from: number, to: number): DimensionCount[] {
      return top.all({ name, from, to });
    },
    daily(names: readonly string[], from: number): DailyVisits[] {
      return daily.all({ names: JSON.stringify(names), from });
    },
    fold: db.transaction((before: number): number => {
      const hour = oldestHour.get();
      if (hour === null || hour === undefined || hour >= before) return 0;
      foldInto.run({ hour });
      return foldFrom.run({ hour }).changes;
    }),
  };
}
