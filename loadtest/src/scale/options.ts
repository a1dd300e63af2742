import type { DatasetPlan } from '../dataset/plan.ts';
import { parseStoreSpec, type StoreSpec } from '../dataset/store-spec.ts';

export type ScaleStore = 'sqlite' | 'postgres';
export const SCALE_STORES: readonly ScaleStore[] = ['sqlite', 'postgres'];

export interface ScaleOptions {
  /** Links in each dataset, smallest first: the ratios are of the largest to the smallest. */
  sizes: number[];
  stores: ScaleStore[];
  seed: number;
  /** Visits per link in each dataset: 10 makes the 100 M visits at 10 M links. */
  visitsPerLink: number;
  /** Single requests timed per operation (creation, pages, API reads). */
  samples: number;
  /** Redirects: wrk slices of this many seconds, hot set and Zipf in turns. */
  turnSeconds: number;
  turns: number;
  /** wrk's connections for the redirect turns (the bench's 64). */
  connections: number;
  /** The connection leg's client connections; empty: no connection leg. */
  connectionLevels: number[];
  /** Seconds of each connection level. */
  connectionSeconds: number;
  /** App processes behind nginx, as the bench runs them. */
  instances: number;
  /** REDIRECT_CACHE_MS of the apps; undefined: the app's default. The lever the Zipf redirects answer to. */
  redirectCacheMs: number | undefined;
  /** REDIRECT_CACHE_NAMES of the apps; undefined: the app's default. */
  redirectCacheNames: number | undefined;
  /** Exports of every link timed per size (each minutes at 10 M links). */
  exportRuns: number;
  /** How deep the deep page's cursor is: a million links, or the last page of a smaller store. */
  pageDepth: number;
  /** Where a store and plan's dataset lives (default: parseStoreSpec's folder or database). */
  storeOf(store: ScaleStore, plan: DatasetPlan): StoreSpec;
}

export const SCALE_DEFAULTS: ScaleOptions = {
  sizes: [10_000, 1_000_000],
  stores: ['sqlite', 'postgres'],
  seed: 1,
  visitsPerLink: 10,
  samples: 300,
  turnSeconds: 3,
  turns: 3,
  connections: 64,
  connectionLevels: [64, 1000, 10_000],
  connectionSeconds: 5,
  instances: 2,
  redirectCacheMs: undefined,
  redirectCacheNames: undefined,
  exportRuns: 3,
  pageDepth: 1_000_000,
  storeOf: (store, plan) => parseStoreSpec(store, plan),
};

/** The targets, as ratios within one run; marked in the report, never asserted. */
export const SCALE_TARGETS = {
  /** A single-request operation's time at the largest size over the smallest's. */
  flatCost: 1.5,
  /** Zipf traffic's throughput over the hot set's, per store. */
  zipfThroughput: { sqlite: 0.8, postgres: 0.6 } as Record<ScaleStore, number>,
  /** Zipf traffic's p99 over the hot set's. */
  zipfP99: 2,
  /** An app's peak RSS at the largest size, over the smallest's, in bytes. */
  rssGrowthBytes: 20 * 2 ** 20,
  /** Throughput at the most connections over that at the fewest. */
  connectionsThroughput: 0.9,
} as const;
