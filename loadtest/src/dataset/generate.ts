import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Progress } from '../progress.ts';
import type { DatasetPlan } from './plan.ts';
import { describeStore, type StoreSpec } from './store-spec.ts';
import { datasetTables } from './tables.ts';
import { openWriter } from './writers.ts';

/**
 * Links (their rows in each table) committed at once: large transactions are what make SQLite fast (one WAL sync a chunk)
 * and PostgreSQL's COPY cheap, and a chunk is what an interrupted run loses.
 */
export const CHUNK_ROWS = 100_000;

export interface GenerateOptions {
  plan: DatasetPlan;
  store: StoreSpec;
  /** Go on from the rows a store already holds (of the same plan); without it a store with rows is refused. */
  resume: boolean;
  progress: Progress;
}

export interface GenerateResult {
  /** Rows per table, and how many of them this run wrote (0 for a store that was complete). */
  tables: Array<{ table: string; rows: number; written: number }>;
  seconds: number;
}

export class DatasetMismatchError extends Error {}

/** Fills (or completes) a store with the plan's tables, one chunk a transaction, progress on stderr. */
export async function generateDataset(options: GenerateOptions): Promise<GenerateResult> {
  const { plan, progress } = options;
  const started = performance.now();
  const writer = await openWriter(options.store);
  const tables = datasetTables(plan);
  const result: GenerateResult = { tables: [], seconds: 0 };
  try {
    const recorded = await writer.recorded();
    if (recorded.plan !== undefined) {
      if (JSON.stringify(recorded.plan) !== JSON.stringify(plan)) {
        throw new DatasetMismatchError(
          `${describeStore(options.store)} holds another plan (${JSON.stringify(recorded.plan)}), not ${JSON.stringify(plan)}: use another store`,
        );
      }
      const started = [...recorded.rowsDone.values()].some((rows) => rows > 0);
      if (started && !options.resume) {
        throw new DatasetMismatchError(
          `${describeStore(options.store)} already holds rows of this plan: pass --resume to go on, or use another store`,
        );
      }
    }
    await writer.recordPlan(plan);
    for (const table of tables) {
      const done = recorded.rowsDone.get(table.table) ?? 0;
      let written = done;
      const tableStarted = performance.now();
      if (done < table.rows)
        progress.log(`${table.table}: ${done.toLocaleString('en-US')} of ${table.rows.toLocaleString('en-US')} links in, writing the rest`);
      progress.every(() => progressLine(table.table, done, written, table.rows, (performance.now() - tableStarted) / 1000));
      try {
        for (let from = done; from < table.rows; from = written) {
          const to = Math.min(table.rows, from + CHUNK_ROWS);
          await writer.writeChunk(table, from, to);
          written = to;
          // SQLite's chunks are synchronous: a turn of the event loop lets the progress line out.
          await nextTurn();
        }
      } finally {
        progress.stop();
      }
      if (written > done) {
        await writer.finish(table);
        progress.log(progressLine(table.table, done, written, table.rows, (performance.now() - tableStarted) / 1000));
      }
      result.tables.push({ table: table.table, rows: table.rows, written: written - done });
    }
  } finally {
    await writer.close();
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

function progressLine(table: string, from: number, written: number, total: number, seconds: number): string {
  const rate = seconds > 0 ? (written - from) / seconds : 0;
  const eta = rate > 0 ? (total - written) / rate : Number.POSITIVE_INFINITY;
  const percent = total === 0 ? 100 : (written / total) * 100;
  const etaText = Number.isFinite(eta) ? `${Math.ceil(eta)} s` : '…';
  return `${table}: ${written.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} links (${percent.toFixed(1)}%), ${Math.round(rate).toLocaleString('en-US')} links/s, ETA ${etaText}`;
}
