import { createHash } from 'node:crypto';
import type { TableAccess } from './table-access.ts';
import { canonicalLine, compareProgress, type Row, sortByKey, type TableSpec } from './tables.ts';

export interface TableDigest {
  rows: number;
  /** sha256 over the canonical lines of the rows in key order: equal on both engines for equal data. */
  sha256: string;
}

/**
 * Reads the table in batches of about `batchRows` (whole progress groups), each sorted by the full
 * key, into one running hash: constant memory whatever the table's size. With `upTo`, only the rows
 * up to that progress key (what an interrupted move already copied).
 */
export async function tableDigest(access: TableAccess, table: TableSpec, batchRows: number, upTo?: Row): Promise<TableDigest> {
  const hash = createHash('sha256');
  let rows = 0;
  const add = (batch: Row[]) => {
    for (const row of sortByKey(table, batch)) hash.update(canonicalLine(row));
    rows += batch.length;
  };
  if (table.progress.length === 0) {
    add(await access.rows(table, undefined, undefined));
    return { rows, sha256: hash.digest('hex') };
  }
  let after: Row | undefined;
  for (;;) {
    let end = await access.progressAt(table, after, batchRows - 1);
    const last = upTo !== undefined && (end === undefined || compareProgress(end, upTo) >= 0);
    if (last) end = upTo;
    add(await access.rows(table, after, end));
    if (last || end === undefined) break;
    after = end;
  }
  return { rows, sha256: hash.digest('hex') };
}
