import { homedir } from 'node:os';
import { join } from 'node:path';
import type { DatasetPlan } from './plan.ts';

/** Where a dataset lives: a SQLite data folder (DATA_DIR, the file is linkyard.sqlite in it) or a PostgreSQL database. */
export type StoreSpec = { engine: 'sqlite'; dataDir: string } | { engine: 'postgres'; url: string };

/**
 * Datasets are kept out of the checkout, between runs: a 10 M-link store takes minutes to make
 * and gigabytes of disk, and the generator is seeded, so it can always be made again.
 */
export const DATASETS_DIR = process.env.LINKYARD_DATASETS_DIR ?? join(homedir(), '.cache', 'linkyard', 'datasets');
/** The host's PostgreSQL (trust on 127.0.0.1); each dataset gets a database of its own, made by the generator. */
export const DEFAULT_POSTGRES = process.env.LINKYARD_SCALE_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432';

/** A plan's own name: the store it is kept in by default. */
export function datasetName(plan: Pick<DatasetPlan, 'links' | 'visits' | 'seed'>): string {
  return `linkyard_scale_${plan.links}_${plan.visits}_${plan.seed}`;
}

/**
 * `sqlite:PATH` or `postgres:URL`; a bare `sqlite` or `postgres` means the plan's default place:
 * `<DATASETS_DIR>/<name>/` or the database `<name>` on the host's server.
 */
export function parseStoreSpec(text: string, plan: Pick<DatasetPlan, 'links' | 'visits' | 'seed'>): StoreSpec {
  const [engine, ...rest] = text.split(':');
  const where = rest.join(':');
  if (engine === 'sqlite') return { engine, dataDir: where === '' ? join(DATASETS_DIR, datasetName(plan)) : where };
  if (engine === 'postgres') {
    if (where === '') return { engine, url: `${DEFAULT_POSTGRES}/${datasetName(plan)}` };
    return { engine, url: where };
  }
  throw new Error(`--store must be sqlite[:DATA_DIR] or postgres[:URL], got '${text}'`);
}

export function describeStore(spec: StoreSpec): string {
  return spec.engine === 'sqlite' ? `SQLite in ${spec.dataDir}` : `PostgreSQL ${spec.url.replace(/:[^:@/]*@/, ':…@')}`;
}
