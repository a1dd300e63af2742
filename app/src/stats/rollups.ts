import type { Dimension, DimensionRollup, HourRollup, VisitRollupRows } from '../store/stats-types.ts';
import type { AgentClass } from './classify.ts';

/** What the redirect tells the counter about a visit (family names only, see classify.ts). */
export interface Visit {
  agent: AgentClass;
  referrer: string;
  /** ISO country code, when a GeoIP database is configured and knows the address. */
  country?: string | undefined;
}

/**
 * Distinct values kept per link and hour within one batch: user agent classes (so at most this
 * many browsers, OSes and devices), referrers, countries and bot families each; later ones are
 * counted as `other`. With MAX_ROLLUP_LINKS this caps what one batch carries (decision 0019).
 */
export const MAX_VALUES_PER_DIMENSION = 32;
export const OTHER = 'other';
const OTHER_AGENT: AgentClass = { bot: false, browser: OTHER, os: OTHER, device: OTHER };

/**
 * Links (per hour) the rollups of one batch hold at most; past it, a visit is dropped like one
 * past MAX_PENDING_NAMES. About 570 bytes each with one visit, and 350 more while a batch that
 * holds them waits for the store: ~20 MB at worst, reached only while the store is away
 * (decision 0019).
 */
export const MAX_ROLLUP_LINKS = 20_000;

/**
 * Links (per hour) that make the rollups due at the next flush, whatever STATS_FLUSH_MS says:
 * traffic spread over millions of links fills a batch with a link-hour a visit, and a batch this
 * size is what an app holds in steady state (decision 0021, the apps' peak RSS).
 */
export const ROLLUP_LINKS_DUE = 2_000;

/** Counts `key` in `map` (made on first use: most link-hours see one or two values). */
function bump<K>(map: Map<K, number> | undefined, key: K, other: K): Map<K, number> {
  const counts = map ?? new Map<K, number>();
  const known = counts.get(key);
  if (known !== undefined) counts.set(key, known + 1);
  else if (counts.size < MAX_VALUES_PER_DIMENSION) counts.set(key, 1);
  else counts.set(other, (counts.get(other) ?? 0) + 1);
  return counts;
}

class LinkHour {
  visits = 0;
  bots = 0;
  /** Keyed by the class object the classifier's cache hands out: one lookup for browser, OS and device. */
  agents: Map<AgentClass, number> | undefined;
  referrers: Map<string, number> | undefined;
  countries: Map<string, number> | undefined;
  /** Keyed by family. */
  botFamilies: Map<string, number> | undefined;

  /** Every dimension value with its count; browsers, OSes and devices summed over the classes. */
  *values(): Generator<[Dimension, string, number]> {
    const sums: Record<'browser' | 'os' | 'device', Map<string, number>> = { browser: new Map(), os: new Map(), device: new Map() };
    for (const [agent, visits] of this.agents ?? []) {
      for (const dimension of ['browser', 'os', 'device'] as const) {
        const sum = sums[dimension];
        sum.set(agent[dimension], (sum.get(agent[dimension]) ?? 0) + visits);
      }
    }
    for (const [value, visits] of this.referrers ?? []) yield ['referrer', value, visits];
    for (const dimension of ['browser', 'os', 'device'] as const)
      for (const [value, visits] of sums[dimension]) yield [dimension, value, visits];
    for (const [value, visits] of this.countries ?? []) yield ['country', value, visits];
    for (const [value, visits] of this.botFamilies ?? []) yield ['bot', value, visits];
  }
}

/**
 * The rollups one visit batch carries: per UTC hour, per link, people and bots, and the count of
 * each dimension's values. Bounded: `maxLinks` links over all its hours (a link in two hours
 * counts twice), MAX_VALUES_PER_DIMENSION values each.
 */
export class VisitRollups {
  readonly #hours = new Map<number, Map<string, LinkHour>>();
  readonly #maxLinks: number;
  #linkHours = 0;
  #currentHour = -1;
  #current: Map<string, LinkHour> | undefined;

  constructor(maxLinks = MAX_ROLLUP_LINKS) {
    this.#maxLinks = maxLinks;
  }

  get empty(): boolean {
    return this.#linkHours === 0;
  }

  /** Links held, summed over the hours: what the bound applies to. */
  get linkHours(): number {
    return this.#linkHours;
  }

  /** Counts a visit in the hour `now` falls in; false when the bound on links refused it. */
  add(name: string, visit: Visit, now: number): boolean {
    const hour = Math.floor(now / 3_600_000);
    if (hour !== this.#currentHour || this.#current === undefined) {
      this.#currentHour = hour;
      this.#current = this.#hours.get(hour);
      if (this.#current === undefined) {
        this.#current = new Map();
        this.#hours.set(hour, this.#current);
      }
    }
    let link = this.#current.get(name);
    if (link === undefined) {
      if (this.#linkHours >= this.#maxLinks) return false;
      link = new LinkHour();
      this.#current.set(name, link);
      this.#linkHours++;
    }
    const { agent } = visit;
    if (agent.bot) {
      link.bots++;
      link.botFamilies = bump(link.botFamilies, agent.browser, OTHER);
      return true;
    }
    link.visits++;
    link.agents = bump(link.agents, agent, OTHER_AGENT);
    link.referrers = bump(link.referrers, visit.referrer, OTHER);
    if (visit.country !== undefined) link.countries = bump(link.countries, visit.country, OTHER);
    return true;
  }

  /** People and bots counted here. */
  get totals(): { visits: number; bots: number } {
    let visits = 0;
    let bots = 0;
    for (const links of this.#hours.values()) {
      for (const link of links.values()) {
        visits += link.visits;
        bots += link.bots;
      }
    }
    return { visits, bots };
  }

  /** The rows the store writes: hours as counted, dimension values summed per UTC day. */
  rows(): VisitRollupRows {
    const hours: HourRollup[] = [];
    const byDay = new Map<string, DimensionRollup>();
    for (const [hour, links] of this.#hours) {
      const day = Math.floor(hour / 24);
      for (const [name, link] of links) {
        hours.push({ name, hour, visits: link.visits, bots: link.bots });
        for (const [dimension, value, visits] of link.values()) {
          const key = `${name}\n${day}\n${dimension}\n${value}`;
          const row = byDay.get(key);
          if (row === undefined) byDay.set(key, { name, day, dimension, value, visits });
          else row.visits += visits;
        }
      }
    }
    return { hours, dimensions: [...byDay.values()] };
  }
}
