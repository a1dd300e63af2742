import { DIMENSIONS, type DimensionRollup, type HourRollup, type VisitRollupRows } from '../store/stats-types.ts';
import type { AgentClass } from './classify.ts';

/** What the redirect tells the counter about a visit (family names only, see classify.ts). */
export interface Visit {
  agent: AgentClass;
  referrer: string;
  /** ISO country code, when a GeoIP database is configured and knows the address. */
  country?: string | undefined;
}

/**
 * Distinct values of one dimension kept per link and hour within one flush; later ones are
 * counted as `other`. With the names bound this caps what one batch can carry (decision 0019).
 */
export const MAX_VALUES_PER_DIMENSION = 32;
export const OTHER = 'other';

const REFERRER = 0;
const BROWSER = 1;
const OS = 2;
const DEVICE = 3;
const COUNTRY = 4;
const BOT = 5;

class LinkHour {
  visits = 0;
  bots = 0;
  /** One map per dimension, indexed as DIMENSIONS. */
  readonly values: Map<string, number>[] = DIMENSIONS.map(() => new Map<string, number>());

  count(dimension: number, value: string): void {
    const values = this.values[dimension];
    if (values === undefined) return;
    const known = values.get(value);
    if (known !== undefined) values.set(value, known + 1);
    else if (values.size < MAX_VALUES_PER_DIMENSION) values.set(value, 1);
    else values.set(OTHER, (values.get(OTHER) ?? 0) + 1);
  }
}

/**
 * The rollups one visit batch carries: per UTC hour, per link, people and bots, and the count of
 * each dimension's values. Bounded: `maxNames` links per hour, MAX_VALUES_PER_DIMENSION values.
 */
export class VisitRollups {
  readonly #hours = new Map<number, Map<string, LinkHour>>();
  readonly #maxNames: number;
  #currentHour = -1;
  #current: Map<string, LinkHour> | undefined;

  constructor(maxNames: number) {
    this.#maxNames = maxNames;
  }

  get empty(): boolean {
    return this.#hours.size === 0;
  }

  /** Counts a visit in the hour `now` falls in; false when the names bound refused it. */
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
      if (this.#current.size >= this.#maxNames) return false;
      link = new LinkHour();
      this.#current.set(name, link);
    }
    const { agent } = visit;
    if (agent.bot) {
      link.bots++;
      link.count(BOT, agent.browser);
      return true;
    }
    link.visits++;
    link.count(REFERRER, visit.referrer);
    link.count(BROWSER, agent.browser);
    link.count(OS, agent.os);
    link.count(DEVICE, agent.device);
    if (visit.country !== undefined) link.count(COUNTRY, visit.country);
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
        for (const [index, values] of link.values.entries()) {
          const dimension = DIMENSIONS[index];
          if (dimension === undefined) continue;
          for (const [value, visits] of values) {
            const key = `${name}\n${day}\n${dimension}\n${value}`;
            const row = byDay.get(key);
            if (row === undefined) byDay.set(key, { name, day, dimension, value, visits });
            else row.visits += visits;
          }
        }
      }
    }
    return { hours, dimensions: [...byDay.values()] };
  }
}
