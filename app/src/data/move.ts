/**
 * Copying one store into another, SQLite ⇄ PostgreSQL, resumable and verified.
 *
 * Progress lives in the target itself, not in a file or a table of its own: rows are copied in
 * progress-key order, a batch per transaction, so the target's largest progress key per table is
 * exactly how far the copy got, whatever killed it. Nothing to clean up afterwards, and no way for
 * a progress record to disagree with the rows. On every start the target's rows are checked to be
 * the source's rows up to that key (count and checksum): a target holding anything else is refused
 * before a row is written.
 */

import { POSTGRES_SCHEMA_VERSION } from '../store/postgres.ts';
import { SQLITE_SCHEMA_VERSION } from '../store/sqlite.ts';
import { tableDigest } from './checksum.ts';
import { describeLocation, openMigrated, openTables, type StoreLocation, sameLocation } from './location.ts';
import type { TableAccess } from './table-access.ts';
import { progressOf, type Row, TABLES, type TableSpec, uncopied } from './tables.ts';

/** Asked well, but this target or source cannot be used: nothing was written. */
export class MoveRefusedError extends Error {}

export interface MoveOptions {
  /** Rows per batch (one transaction each). */
  batchRows: number;
  out: (line: string) => void;
}

export interface TableResult {
  table: string;
  rows: number;
  sha256: string;
  equal: boolean;
}

interface Plan {
  table: TableSpec;
  /** Where the copy resumes: the target's largest progress key, checked to be the source's prefix. */
  after: Row | undefined;
  copied: number;
  total: number;
  done: boolean;
}

/** The schema version this build makes on the location's engine. */
export function schemaVersionOf(location: StoreLocation): number {
  return location.engine === 'sqlite' ? SQLITE_SCHEMA_VERSION : POSTGRES_SCHEMA_VERSION;
}

async function checkVersion(access: TableAccess, role: string, expected: number): Promise<void> {
  const version = await access.schemaVersion();
  if (version === undefined) throw new MoveRefusedError(`the ${role} (${access.label}) holds no linkyard store`);
  if (version !== expected) {
    throw new MoveRefusedError(
      `the ${role} (${access.label}) is at schema version ${version}, this build at ${expected}: ` +
        (version < expected ? 'start this build on it once (it upgrades on start), then move' : 'use the build that wrote it'),
    );
  }
}

/** What the target holds of this table already, refused unless it is exactly the source's first rows. */
async function plan(source: TableAccess, target: TableAccess, table: TableSpec, batchRows: number): Promise<Plan> {
  const total = await source.count(table);
  if (table.overwrites === true) return { table, after: undefined, copied: 0, total, done: total === 0 };
  const held = await target.count(table);
  if (held === 0) return { table, after: undefined, copied: 0, total, done: total === 0 };
  const after = await target.lastProgress(table);
  const [theirs, ours] = await Promise.all([tableDigest(source, table, batchRows, after), tableDigest(target, table, batchRows)]);
  if (theirs.rows !== ours.rows || theirs.sha256 !== ours.sha256) {
    throw new MoveRefusedError(
      `the target (${target.label}) holds ${held} row(s) in ${table.name} that are not the source's: ` +
        'a move needs an empty target, or the one an interrupted move of this same source left',
    );
  }
  return { table, after, copied: held, total, done: table.progress.length === 0 || held === total };
}

async function copy(source: TableAccess, target: TableAccess, step: Plan, options: MoveOptions): Promise<void> {
  const { table } = step;
  if (!step.done) {
    if (table.progress.length === 0) {
      const rows = await source.rows(table, undefined, undefined);
      await target.insert(table, rows);
      step.copied = rows.length;
    } else {
      let after = step.after;
      for (;;) {
        const end = await source.progressAt(table, after, options.batchRows - 1);
        const rows = await source.rows(table, after, end);
        const lastRow = rows.at(-1);
        if (lastRow === undefined) break;
        await target.insert(table, rows);
        step.copied += rows.length;
        options.out(`${table.name}: ${step.copied}/${step.total} rows`);
        after = progressOf(table, lastRow);
        if (end === undefined) break;
      }
    }
  }
  options.out(`${table.name}: ${step.copied}/${step.total} rows, copied`);
  // Ids are never reused (disabled links are kept by id): the target hands out none the source did.
  if (table.sequence !== undefined) await target.raiseIdHighWater(table, await source.idHighWater(table));
}

/** Counts and checksums of every table on both sides. */
export async function verify(source: TableAccess, target: TableAccess, batchRows: number): Promise<TableResult[]> {
  const results: TableResult[] = [];
  for (const table of TABLES) {
    const [theirs, ours] = await Promise.all([tableDigest(source, table, batchRows), tableDigest(target, table, batchRows)]);
    results.push({
      table: table.name,
      rows: ours.rows,
      sha256: ours.sha256,
      equal: theirs.rows === ours.rows && theirs.sha256 === ours.sha256,
    });
  }
  return results;
}

/**
 * Copies every table of `from` into `to` (created or migrated to this build's schema first), then
 * builds the target's search index as its engine does, then verifies. Safe to run again after any
 * interruption: it resumes where the target's rows end.
 */
export async function moveStore(from: StoreLocation, to: StoreLocation, options: MoveOptions): Promise<TableResult[]> {
  if (sameLocation(from, to)) throw new MoveRefusedError('the source and the target are the same store');
  options.out(`Moving ${describeLocation(from)} → ${describeLocation(to)}`);
  const source = await openTables(from);
  const targetStore = await openMigrated(to).catch(async (error: unknown) => {
    await source.close();
    throw error;
  });
  let target: TableAccess | undefined;
  try {
    target = await openTables(to);
    await checkVersion(source, 'source', schemaVersionOf(from));
    await checkVersion(target, 'target', schemaVersionOf(to));
    for (const [role, access] of [['source', source] as const, ['target', target] as const]) {
      const missing = uncopied(await access.tableColumns());
      if (missing.length > 0) {
        throw new MoveRefusedError(
          `the ${role} (${access.label}) has ${missing.join(', ')}, which this build's move does not copy: nothing moved rather than something left behind`,
        );
      }
    }
    const steps: Plan[] = [];
    for (const table of TABLES) steps.push(await plan(source, target, table, options.batchRows));
    const resumed = steps.filter((step) => step.copied > 0);
    if (resumed.length > 0)
      options.out(`Resuming: the target holds the source's first rows of ${resumed.map((step) => step.table.name).join(', ')}`);
    for (const step of steps) await copy(source, target, step, options);
    // SQLite's FTS table follows every insert by trigger; PostgreSQL's trigram index is built once, now.
    options.out('Search index: building on the target');
    while (!(await targetStore.searchIndexStep())) await new Promise((resolve) => setTimeout(resolve, 200));
    options.out('Verifying: counts and sha256 per table on both sides');
    return await verify(source, target, options.batchRows);
  } finally {
    await target?.close();
    await targetStore.close();
    await source.close();
  }
}
