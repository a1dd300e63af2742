/** The kinds of value counted per day beside the totals; `bot` counts bot families, the rest people. */
export const DIMENSIONS = ['referrer', 'browser', 'os', 'device', 'country', 'bot'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** People and bots of one link in one UTC hour (`hour`: hours since the epoch). */
export interface HourRollup {
  name: string;
  hour: number;
  visits: number;
  bots: number;
}

/** Visits of one link on one UTC day (`day`: days since the epoch) with one value of a dimension. */
export interface DimensionRollup {
  name: string;
  day: number;
  dimension: Dimension;
  value: string;
  visits: number;
}

/** What a visit batch carries beside the totals; each key appears once. */
export interface VisitRollupRows {
  hours: HourRollup[];
  dimensions: DimensionRollup[];
}

export type Granularity = 'hour' | 'day';

/** One bucket of a link's series: `bucket` is epoch hours or days, by the granularity asked. */
export interface VisitBucket {
  bucket: number;
  visits: number;
  bots: number;
}

export interface DimensionCount {
  dimension: Dimension;
  value: string;
  visits: number;
}

export interface DailyVisits {
  name: string;
  day: number;
  visits: number;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
