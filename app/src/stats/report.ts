import { DomainError } from '../errors.ts';
import { DAY_MS, DIMENSIONS, type Dimension, type Granularity, HOUR_MS } from '../store/stats-types.ts';
import type { BookmarkStore } from '../store/types.ts';

/** A range of whole UTC buckets: [from, to) in epoch hours or days. */
export interface StatsRange {
  granularity: Granularity;
  from: number;
  to: number;
}

export interface StatsReport {
  range: StatsRange;
  /** Every bucket of the range, those without visits as zeros. */
  series: { start: Date; visits: number; bots: number }[];
  totals: { visits: number; bots: number };
  /** Per dimension, the most visited values over the range's days, at most TOP_VALUES each. */
  top: Record<Dimension, { value: string; visits: number }[]>;
}

export const TOP_VALUES = 10;
/** Buckets one answer may hold: a year of days, or the hourly retention's hours. */
const MAX_DAYS = 366;
const DEFAULT_DAYS = 7;

function instant(name: 'from' | 'to', raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  // A date (2026-12-01) or a date and time with a zone (2026-12-01T10:00Z); nothing looser.
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(raw)) {
    throw new DomainError(
      'INVALID_STATS_QUERY',
      `'${name}' must be an ISO 8601 date or UTC date-time (2026-12-01 or 2026-12-01T10:00Z), not '${raw}'.`,
    );
  }
  const time = Date.parse(raw);
  if (Number.isNaN(time)) throw new DomainError('INVALID_STATS_QUERY', `'${name}' is not a real date: '${raw}'.`);
  return time;
}

/**
 * The range a query asks for, in whole UTC buckets. Defaults: the last 7 days, by hour up to 7
 * days and by day beyond. Hours exist only for the last `hourlyDays` days (older ones are folded).
 */
export function parseRange(query: { from?: string; to?: string; granularity?: string }, now: number, hourlyDays: number): StatsRange {
  const { granularity } = query;
  if (granularity !== undefined && granularity !== 'hour' && granularity !== 'day') {
    throw new DomainError('INVALID_STATS_QUERY', `'granularity' is 'hour' or 'day', not '${granularity}'.`);
  }
  const to = instant('to', query.to) ?? now;
  const from = instant('from', query.from) ?? to - DEFAULT_DAYS * DAY_MS;
  if (from >= to) throw new DomainError('INVALID_STATS_QUERY', `'from' must come before 'to'.`);
  const chosen: Granularity = granularity ?? (to - from <= DEFAULT_DAYS * DAY_MS ? 'hour' : 'day');
  if (chosen === 'day') {
    const range = { granularity: chosen, from: Math.floor(from / DAY_MS), to: Math.ceil(to / DAY_MS) };
    if (range.to - range.from > MAX_DAYS) throw new DomainError('INVALID_STATS_QUERY', `A range is at most ${MAX_DAYS} days.`);
    return range;
  }
  const range = { granularity: chosen, from: Math.floor(from / HOUR_MS), to: Math.ceil(to / HOUR_MS) };
  const oldestHour = (Math.floor(now / DAY_MS) - hourlyDays) * 24;
  if (range.from < oldestHour) {
    throw new DomainError('INVALID_STATS_QUERY', `Hourly visits are kept for ${hourlyDays} days; ask for 'granularity=day' further back.`);
  }
  if (range.to - range.from > MAX_DAYS * 24) throw new DomainError('INVALID_STATS_QUERY', `A range is at most ${MAX_DAYS} days.`);
  return range;
}

/** Reads a link's stats over a range: two index range scans on (bookmark_id, bucket). */
export async function statsReport(store: BookmarkStore, name: string, range: StatsRange): Promise<StatsReport> {
  const { granularity, from, to } = range;
  const fromDay = granularity === 'day' ? from : Math.floor(from / 24);
  const toDay = granularity === 'day' ? to : Math.ceil(to / 24);
  const [buckets, values] = await Promise.all([store.visitSeries(name, granularity, from, to), store.topValues(name, fromDay, toDay)]);
  const unit = granularity === 'day' ? DAY_MS : HOUR_MS;
  const byBucket = new Map(buckets.map((bucket) => [bucket.bucket, bucket]));
  const series: StatsReport['series'] = [];
  const totals = { visits: 0, bots: 0 };
  for (let bucket = from; bucket < to; bucket++) {
    const found = byBucket.get(bucket);
    const visits = found?.visits ?? 0;
    const bots = found?.bots ?? 0;
    totals.visits += visits;
    totals.bots += bots;
    series.push({ start: new Date(bucket * unit), visits, bots });
  }
  const top = Object.fromEntries(
    DIMENSIONS.map((dimension) => [dimension, [] as { value: string; visits: number }[]]),
  ) as StatsReport['top'];
  // The store orders each dimension's values by visits, most first.
  for (const { dimension, value, visits } of values) {
    const list = top[dimension];
    if (list.length < TOP_VALUES) list.push({ value, visits });
  }
  return { range, series, totals, top };
}
