import { createdAtOf, type DatasetPlan, harmonic, nameKey, nameOf, visitsOf } from './plan.ts';
import { draw32 } from './random.ts';
import { checkStatusOf, targetOf, titleOf } from './words.ts';

/** A column's kind decides how each engine is given it: created_at is epoch ms in SQLite, timestamptz in PostgreSQL. */
export type ColumnKind = 'integer' | 'text' | 'timestamp';
export type Value = string | number | null;

/**
 * One generated table: its rows are a deterministic sequence of units (a link's row, or a link's
 * rollup rows), unit `i` a pure function of the plan and `i`, so a writer can stop after any
 * committed chunk of units and go on from the next.
 */
export interface TableGenerator {
  readonly table: string;
  readonly columns: ReadonlyArray<{ name: string; kind: ColumnKind }>;
  /** How many units the plan gives this table (links, for every table so far). */
  readonly rows: number;
  /** Unit `index`'s rows: one bookmark, or one link's rollup rows (none for a link without visits). */
  rowsOf(index: number): Value[][];
  /** Statements to run once the last row is in, per engine (a sequence moved past explicit ids). */
  readonly finish: { sqlite: readonly string[]; postgres: readonly string[] };
}

/** bookmarks: ids 1…links in creation order (so ids are dense: the cursor of row K is computable), visits from the Zipf law. */
export function bookmarksTable(plan: DatasetPlan): TableGenerator & { row(index: number): Value[] } {
  const key = nameKey(plan);
  const normaliser = harmonic(plan.links);
  const row = (index: number): Value[] => [
    index + 1,
    nameOf(key, index),
    targetOf(plan.seed, index),
    titleOf(plan.seed, index),
    checkStatusOf(plan.seed, index),
    visitsOf(plan, key, normaliser, index),
    createdAtOf(plan, index),
  ];
  return {
    table: 'bookmarks',
    columns: [
      { name: 'id', kind: 'integer' },
      { name: 'name', kind: 'text' },
      { name: 'uri', kind: 'text' },
      { name: 'title', kind: 'text' },
      { name: 'check_status', kind: 'integer' },
      { name: 'visits', kind: 'integer' },
      { name: 'created_at', kind: 'timestamp' },
    ],
    rows: plan.links,
    row,
    rowsOf: (index) => [row(index)],
    finish: {
      // AUTOINCREMENT's sqlite_sequence already follows explicit ids.
      sqlite: [],
      // COPY writes identity columns as given and leaves the sequence behind: the app's next insert would collide.
      postgres: [`SELECT setval(pg_get_serial_sequence('bookmarks', 'id'), (SELECT max(id) FROM bookmarks))`, 'ANALYZE bookmarks'],
    },
  };
}

/**
 * The app's default STATS_HOURLY_DAYS: a link's visits in the plan's last this many days are kept
 * as hours (visit_hours), older ones as days (visit_days), as the app's fold leaves them. The
 * bench runs the apps with the fold moved back to the plan's end (hourlyDaysFor), so the store
 * stays as it stood then.
 */
export const HOURLY_DAYS = 35;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** STATS_HOURLY_DAYS that leaves a plan's hours unfolded on `now`: the default, counted back from the plan's end. */
export function hourlyDaysFor(plan: Pick<DatasetPlan, 'endMs'>, now: number): number {
  return Math.floor(now / DAY_MS) - Math.floor(plan.endMs / DAY_MS) + HOURLY_DAYS + 1;
}

/** Dimension values a visit is drawn from (repeats weight them): the shapes and lengths of the app's. */
const REFERRERS = ['direct', 'direct', 'direct', 'www.google.com', 'news.ycombinator.com', 't.co', 'www.reddit.com', 'github.com'];
const BROWSERS = ['Chrome', 'Chrome', 'Chrome', 'Mobile Safari', 'Firefox', 'Edge', 'Samsung Internet', 'Safari'];
const SYSTEMS = ['Windows', 'Android', 'Android', 'iOS', 'iOS', 'macOS', 'Linux', 'Windows'];
const DEVICES = ['desktop', 'mobile', 'mobile', 'tablet'];
const BOTS = ['Googlebot', 'bingbot', 'Slackbot', 'Twitterbot'];
/** One visit in this many is a bot's. */
const BOT_ONE_IN = 10;
/** Draw fields of visit j of a link: VISIT_FIELD + 2j (its time) and + 2j + 1 (who). Clear of words.ts's and plan.ts's. */
const VISIT_FIELD = 10_000_000;

interface Counts {
  visits: number;
  bots: number;
}

/** One link's visits as the rollups hold them: recent hours, older days, and each day's dimension values. */
export interface LinkRollups {
  hours: Map<number, Counts>;
  days: Map<number, Counts>;
  /** Per day: `dimension\tvalue` → visits. */
  dimensions: Map<number, Map<string, number>>;
}

/**
 * Spreads link `index`'s visits (visitsOf: the bookmark's own total) evenly over the time from its
 * creation to the plan's end; one in BOT_ONE_IN a bot's, the rest with a referrer, browser, OS and
 * device. Every visit's draws are its own, so a link's rollups are made again alike on a resume.
 */
export function linkRollups(plan: DatasetPlan, visits: number, index: number): LinkRollups {
  const created = createdAtOf(plan, index);
  const hourlyFrom = plan.endMs - HOURLY_DAYS * DAY_MS;
  const rollups: LinkRollups = { hours: new Map(), days: new Map(), dimensions: new Map() };
  const bump = (map: Map<number, Counts>, key: number, bot: boolean) => {
    let counts = map.get(key);
    if (counts === undefined) {
      counts = { visits: 0, bots: 0 };
      map.set(key, counts);
    }
    if (bot) counts.bots++;
    else counts.visits++;
  };
  for (let j = 0; j < visits; j++) {
    const at = created + Math.floor(((plan.endMs - created) * draw32(plan.seed, index, VISIT_FIELD + 2 * j)) / 0x1_0000_0000);
    const who = draw32(plan.seed, index, VISIT_FIELD + 2 * j + 1);
    const bot = who % BOT_ONE_IN === 0;
    if (at >= hourlyFrom) bump(rollups.hours, Math.floor(at / HOUR_MS), bot);
    else bump(rollups.days, Math.floor(at / DAY_MS), bot);
    const day = Math.floor(at / DAY_MS);
    let values = rollups.dimensions.get(day);
    if (values === undefined) {
      values = new Map();
      rollups.dimensions.set(day, values);
    }
    const pick = (list: readonly string[], shift: number) => list[(who >>> shift) % list.length] ?? 'other';
    const seen = bot
      ? [`bot\t${pick(BOTS, 4)}`]
      : [`referrer\t${pick(REFERRERS, 4)}`, `browser\t${pick(BROWSERS, 8)}`, `os\t${pick(SYSTEMS, 12)}`, `device\t${pick(DEVICES, 16)}`];
    for (const value of seen) values.set(value, (values.get(value) ?? 0) + 1);
  }
  return rollups;
}

/**
 * The stats rollups (decision 0019): visit_hours, visit_days and visit_dimensions, a unit per
 * link. bookmark_id is the link's id (index + 1), as bookmarksTable makes it.
 */
export function rollupTables(plan: DatasetPlan): TableGenerator[] {
  const key = nameKey(plan);
  const normaliser = harmonic(plan.links);
  const of = (index: number) => linkRollups(plan, visitsOf(plan, key, normaliser, index), index);
  const integers = (...names: string[]) => names.map((name) => ({ name, kind: 'integer' as const }));
  const counted = (bucketColumn: string, table: string, pickMap: (rollups: LinkRollups) => Map<number, Counts>): TableGenerator => ({
    table,
    columns: integers('bookmark_id', bucketColumn, 'visits', 'bots'),
    rows: plan.links,
    rowsOf: (index) => [...pickMap(of(index))].map(([bucket, counts]) => [index + 1, bucket, counts.visits, counts.bots]),
    finish: { sqlite: [], postgres: [`ANALYZE ${table}`] },
  });
  return [
    counted('hour', 'visit_hours', (rollups) => rollups.hours),
    counted('day', 'visit_days', (rollups) => rollups.days),
    {
      table: 'visit_dimensions',
      columns: [
        ...integers('bookmark_id', 'day'),
        { name: 'dimension', kind: 'text' },
        { name: 'value', kind: 'text' },
        ...integers('visits'),
      ],
      rows: plan.links,
      rowsOf: (index) => {
        const rows: Value[][] = [];
        for (const [day, values] of of(index).dimensions) {
          for (const [pair, visits] of values) {
            const [dimension = '', value = ''] = pair.split('\t');
            rows.push([index + 1, day, dimension, value, visits]);
          }
        }
        return rows;
      },
      finish: { sqlite: [], postgres: ['ANALYZE visit_dimensions'] },
    },
  ];
}

/** Every table a plan fills, in the order they are written. */
export function datasetTables(plan: DatasetPlan): TableGenerator[] {
  return [bookmarksTable(plan), ...rollupTables(plan)];
}
