/**
 * The import (docs/data.md): linkyard's NDJSON export (lossless), CSV with named columns, and the
 * CSV that Shlink imports and YOURLS's `yourls_url` table gives. Each row is checked as a create
 * is (validateNewLink, the blocklist); a bad row is reported with its line and the rest goes on.
 * Rows are written in batches, each one transaction, so a crash leaves whole links only; a name
 * already there with the same target is skipped, so a re-run adds nothing twice. Streamed: a line
 * longer than `maxLineBytes` is refused without being held.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { KEY_NAME_PATTERN, RESERVED_KEY_NAMES } from '../auth/keys.ts';
import { DomainError } from '../errors.ts';
import { DIMENSIONS } from '../store/stats-types.ts';
import { type BookmarkStore, type LinkRecord, NOT_CHECKED, type StoredDay, type StoredDimension, type StoredHour } from '../store/types.ts';
import { hostAndParents } from './blocklist.ts';
import { hostBlocked, MAX_TITLE_LENGTH, validateNewLink } from './bookmarks.ts';
import { CSV_COLUMNS } from './export.ts';
import {
  CSV_FORMATS,
  type CsvNotes,
  csvRows,
  ImportFileError,
  type NdjsonState,
  ndjsonRows,
  PRESETS,
  type Preset,
  type Row,
  RowError,
  refuseUtf16,
} from './import-read.ts';

export const IMPORT_FORMATS = ['ndjson', ...CSV_FORMATS] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/** The longest line (or CSV record) read; a longer one is refused without being held in memory. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;
/** Links per transaction: short enough not to hold other writers back, long enough to be fast. */
const BATCH_SIZE = 1000;

/** What a fetch of a target found, for `--check`; throws a DomainError (couldNotFetch) when it fails. */
export type TargetCheck = (uri: string) => Promise<{ status: number; title: string | null }>;

export interface ImportOptions {
  format: ImportFormat;
  /** A name that exists with another target is replaced (else: a conflict, left as it is). */
  overwrite: boolean;
  /** Given: every target is fetched before its row is written, at most `checkRate` a second. */
  check?: TargetCheck | undefined;
  checkRate?: number | undefined;
  /** Checks in flight at once. */
  checkConcurrency?: number | undefined;
  maxLineBytes?: number | undefined;
  /** CSV field delimiter, one character; `,` by default. */
  delimiter?: string | undefined;
  /** The created time of rows that do not say (CSV without createdAt, Shlink); the import's start by default. */
  now?: Date | undefined;
}

export interface ImportSummary {
  /** Rows read (links, not the NDJSON header or footer). */
  rows: number;
  imported: number;
  skipped: number;
  conflicts: number;
  overwritten: number;
  bad: number;
  /** Creators named by imported links that are no key in this store, with how many links each. */
  unknownCreators: Map<string, number>;
  /** Set when the NDJSON file has no footer, or its count differs: it was cut short or edited. */
  incomplete: string | undefined;
  /** Columns of a peer's CSV that linkyard has no place for (Shlink's domain and tags, YOURLS's ip). */
  ignoredColumns: string[];
}

export interface ImportReporter {
  /** A row not imported (bad, or a conflict) or overwritten, with its line in the file. */
  row(line: number, message: string): void;
  /** Called after each batch. */
  progress(summary: ImportSummary): void;
}

// --- One row to a link ---

function text(fields: Record<string, unknown>, key: string): string | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new RowError(`${key} must be text, got ${JSON.stringify(value)}.`);
  return value;
}

/** A whole number from 0 (JSON number, or CSV digits); `fallback` when absent or empty (none: required). */
function count(fields: Record<string, unknown>, key: string, fallback: number | undefined, max = Number.MAX_SAFE_INTEGER): number {
  const value = fields[key];
  if (value === undefined || value === null || value === '') {
    if (fallback === undefined) throw new RowError(`has no ${key}.`);
    return fallback;
  }
  const number = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0 || number > max) {
    throw new RowError(`${key} must be a whole number from 0 to ${max}, got ${JSON.stringify(value)}.`);
  }
  return number;
}

function date(fields: Record<string, unknown>, key: string, mysql: boolean): Date | undefined {
  const value = text(fields, key);
  if (value === undefined || value === '') return undefined;
  // YOURLS keeps a MySQL DATETIME, without its zone: read as UTC.
  const iso = mysql && /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(value) ? `${value.replace(' ', 'T')}Z` : value;
  const at = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(iso) ? new Date(iso) : new Date(Number.NaN);
  if (Number.isNaN(at.getTime())) throw new RowError(`${key} '${value}' is not a date: use ISO 8601, e.g. 2030-01-31T12:00:00.000Z.`);
  return at;
}

/** true or false (JSON), `true` or `false` (CSV); absent or empty: undefined. */
function flag(fields: Record<string, unknown>, key: string): boolean | undefined {
  const value = fields[key];
  if (typeof value === 'boolean') return value;
  if (value === undefined || value === '') return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new RowError(`${key} must be true or false, got ${JSON.stringify(value)}.`);
}

function creator(value: string | undefined): string | null {
  if (value === undefined || value === '') return null;
  if (!KEY_NAME_PATTERN.test(value) && !RESERVED_KEY_NAMES.has(value)) {
    throw new RowError(`createdBy '${value}' is not a key name (1–64 letters, digits, '.', '-' or '_').`);
  }
  return value;
}

function rollups<T>(
  fields: Record<string, unknown>,
  key: string,
  toItem: (item: Record<string, unknown>) => T,
  identity: (item: T) => string,
): T[] {
  const value = fields[key];
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new RowError(`${key} must be a list.`);
  const seen = new Set<string>();
  return value.map((item: unknown) => {
    if (typeof item !== 'object' || item === null) throw new RowError(`${key} must hold objects.`);
    const row = toItem(item as Record<string, unknown>);
    const id = identity(row);
    if (seen.has(id)) throw new RowError(`${key} has ${id} twice.`);
    seen.add(id);
    return row;
  });
}

const BUCKET_MAX = 2_147_483_647;
/** The NDJSON export's fields: the CSV's columns and the rollups. */
const NDJSON_FIELDS = new Set<string>([...CSV_COLUMNS, 'hours', 'days', 'dimensions']);

/**
 * A row's fields as a link, checked as a create is: the name and URI rules, the expiry and
 * forwarding options (validateNewLink), the title's length, the blocklist. `lossless`: the NDJSON
 * export's fields, all of them, as it writes them.
 */
function toLink(
  fields: Record<string, unknown>,
  lossless: boolean,
  preset: Preset | undefined,
  now: Date,
  blocked: ReadonlySet<string>,
): LinkRecord {
  if (lossless) {
    const unknown = Object.keys(fields).find((key) => !NDJSON_FIELDS.has(key));
    if (unknown !== undefined) throw new RowError(`has a field '${unknown}' that linkyard's export does not write.`);
    for (const key of NDJSON_FIELDS) if (!(key in fields)) throw new RowError(`has no '${key}' field.`);
    if (typeof fields.forwardQuery !== 'boolean') throw new RowError('forwardQuery must be true or false.');
    if (fields.maxVisits !== null && typeof fields.maxVisits !== 'number') throw new RowError('maxVisits must be a number or null.');
  }
  const name = text(fields, 'name') ?? '';
  if (name === '') throw new RowError('has no name: every imported link needs one.');
  const forwardQuery = flag(fields, 'forwardQuery');
  const maxVisits =
    fields.maxVisits === undefined || fields.maxVisits === '' || fields.maxVisits === null ? null : count(fields, 'maxVisits', 0);
  const expiresAt = date(fields, 'expiresAt', false);
  let checked: ReturnType<typeof validateNewLink>;
  try {
    checked = validateNewLink(
      {
        name,
        uri: text(fields, 'uri') ?? '',
        expiresAt: expiresAt?.toISOString() ?? null,
        maxVisits,
        forwardQuery,
      },
      // A link keeps an expiry that has passed: it answers 410 after the import as it did before.
      Number.NEGATIVE_INFINITY,
    );
  } catch (error) {
    if (error instanceof DomainError) throw new RowError(`${error.code}: ${error.message}`);
    throw error;
  }
  if (hostAndParents(checked.uri).some((host) => blocked.has(host))) {
    const refusal = hostBlocked(checked.uri);
    throw new RowError(`${refusal.code}: ${refusal.message}`);
  }
  const title = text(fields, 'title');
  if (title !== undefined && [...title].length > MAX_TITLE_LENGTH)
    throw new RowError(`the title is longer than ${MAX_TITLE_LENGTH} characters.`);
  // Present in every NDJSON row; a CSV without the column is the command's doing.
  const createdBy = 'createdBy' in fields ? creator(text(fields, 'createdBy')) : 'command';
  const createdAt = date(fields, 'createdAt', preset?.timestamp === 'mysql');
  if (lossless && createdAt === undefined) throw new RowError('createdAt must be a date.');
  return {
    name: checked.name ?? name,
    uri: checked.uri,
    title: title === undefined || (title === '' && !lossless) ? null : title,
    checkStatus: count(fields, 'checkStatus', NOT_CHECKED, 999),
    createdAt: createdAt ?? now,
    createdBy,
    expiresAt: checked.options.expiresAt ?? null,
    maxVisits: checked.options.maxVisits ?? null,
    forwardQuery: checked.options.forwardQuery ?? true,
    visits: count(fields, 'visits', 0),
    hours: rollups<StoredHour>(
      fields,
      'hours',
      (item) => ({
        hour: count(item, 'hour', undefined, BUCKET_MAX),
        visits: count(item, 'visits', undefined),
        bots: count(item, 'bots', undefined),
      }),
      (row) => `hour ${row.hour}`,
    ),
    days: rollups<StoredDay>(
      fields,
      'days',
      (item) => ({
        day: count(item, 'day', undefined, BUCKET_MAX),
        visits: count(item, 'visits', undefined),
        bots: count(item, 'bots', undefined),
      }),
      (row) => `day ${row.day}`,
    ),
    dimensions: rollups<StoredDimension>(
      fields,
      'dimensions',
      (item) => {
        const dimension = text(item, 'dimension') ?? '';
        if (!(DIMENSIONS as readonly string[]).includes(dimension))
          throw new RowError(`dimension '${dimension}' is not one of ${DIMENSIONS.join(', ')}.`);
        const value = text(item, 'value');
        if (value === undefined) throw new RowError('a dimension row has no value.');
        return { day: count(item, 'day', undefined, BUCKET_MAX), dimension, value, visits: count(item, 'visits', undefined) };
      },
      (row) => `day ${row.day} ${row.dimension} ${JSON.stringify(row.value)}`,
    ),
  };
}

// --- The import ---

/** Waits so that calls start at most `perSecond` a second. */
function pacer(perSecond: number): () => Promise<void> {
  const gapMs = 1000 / perSecond;
  let next = 0;
  return async () => {
    const now = performance.now();
    const at = Math.max(now, next);
    next = at + gapMs;
    if (at > now) await sleep(at - now);
  };
}

/** Reads `input` and writes its links to `store`; bad rows go to `reporter`, the totals are returned. */
export async function importLinks(
  store: BookmarkStore,
  input: AsyncIterable<Buffer>,
  options: ImportOptions,
  reporter: ImportReporter,
): Promise<ImportSummary> {
  const maxBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const now = options.now ?? new Date();
  const summary: ImportSummary = {
    rows: 0,
    imported: 0,
    skipped: 0,
    conflicts: 0,
    overwritten: 0,
    bad: 0,
    unknownCreators: new Map(),
    incomplete: undefined,
    ignoredColumns: [],
  };
  const blocked: ReadonlySet<string> = new Set((await store.access.listBlockedHosts()).map((entry) => entry.host));
  const creators = new Map<string, number>();
  const ndjson: NdjsonState = { footer: undefined };
  const notes: CsvNotes = { ignored: [] };
  const source =
    options.format === 'ndjson'
      ? ndjsonRows(refuseUtf16(input), maxBytes, ndjson)
      : csvRows(refuseUtf16(input), PRESETS[options.format], options.delimiter, maxBytes, notes);
  const preset = options.format === 'ndjson' ? undefined : PRESETS[options.format];
  const pace = pacer(options.checkRate ?? 5);

  // Reports wait for their batch to be written, so that they come out in the order of the file.
  let reports: { line: number; message: string }[] = [];
  const report = (line: number, message: string): void => {
    reports.push({ line, message });
  };
  const bad = (line: number, message: string): void => {
    summary.bad += 1;
    report(line, message);
  };

  /** Fetches each target (`--check`) at the bounded rate; a row whose target fails is bad, as its create would be refused. */
  async function checkTargets(batch: { line: number; link: LinkRecord }[]): Promise<{ line: number; link: LinkRecord }[]> {
    const check = options.check;
    if (check === undefined) return batch;
    const passed: ({ line: number; link: LinkRecord } | undefined)[] = new Array(batch.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let index = next++; index < batch.length; index = next++) {
        const entry = batch[index];
        if (entry === undefined) continue;
        await pace();
        try {
          const result = await check(entry.link.uri);
          passed[index] = {
            line: entry.line,
            link: { ...entry.link, checkStatus: result.status, title: entry.link.title ?? result.title },
          };
        } catch (error) {
          if (!(error instanceof DomainError)) throw error;
          bad(entry.line, `${error.code}: ${error.message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: options.checkConcurrency ?? 4 }, worker));
    return passed.filter((entry) => entry !== undefined);
  }

  let pending: { line: number; link: LinkRecord }[] = [];
  async function flush(): Promise<void> {
    const batch = await checkTargets(pending);
    pending = [];
    const outcomes = await store.importLinks(
      batch.map((entry) => entry.link),
      { overwrite: options.overwrite },
    );
    for (const [index, outcome] of outcomes.entries()) {
      const { line, link } = batch[index] ?? { line: 0, link: undefined };
      if (link === undefined) continue;
      if (outcome.kind === 'skipped') summary.skipped += 1;
      else if (outcome.kind === 'conflict') {
        summary.conflicts += 1;
        report(
          line,
          `conflict: '${link.name}' exists pointing to ${outcome.existingUri}, not ${link.uri}; left as it is (--overwrite replaces it).`,
        );
      } else {
        if (outcome.kind === 'imported') summary.imported += 1;
        else {
          summary.overwritten += 1;
          report(line, `overwritten: '${link.name}' pointed to ${outcome.previousUri}, now to ${link.uri}.`);
        }
        if (link.createdBy !== null && !RESERVED_KEY_NAMES.has(link.createdBy))
          creators.set(link.createdBy, (creators.get(link.createdBy) ?? 0) + 1);
      }
    }
    for (const { line, message } of reports.sort((a, b) => a.line - b.line)) reporter.row(line, message);
    reports = [];
    reporter.progress(summary);
  }

  /** A good row joins the batch; a bad one is reported. */
  const take = (row: Row): void => {
    if (row.fields === undefined) {
      bad(row.line, row.error ?? 'cannot be read.');
      return;
    }
    try {
      pending.push({ line: row.line, link: toLink(row.fields, options.format === 'ndjson', preset, now, blocked) });
    } catch (error) {
      if (!(error instanceof RowError)) throw error;
      bad(row.line, error.message);
    }
  };

  try {
    for await (const row of source) {
      summary.rows += 1;
      take(row);
      // Bad rows count too: a file of nothing else must not pile its reports up in memory.
      if (pending.length + reports.length >= BATCH_SIZE) await flush();
    }
  } catch (error) {
    // The rows read before a file-wide error are good ones: written, then the error is told.
    if (error instanceof ImportFileError) {
      await flush();
      error.summary = summary;
    }
    throw error;
  }
  await flush();

  if (options.format === 'ndjson') {
    if (ndjson.footer === undefined)
      summary.incomplete =
        'the file ends without its footer line ({"end":…}): it was cut short, so links after the last line read are missing.';
    else if (ndjson.footer !== summary.rows)
      summary.incomplete = `the footer counts ${ndjson.footer} links but the file has ${summary.rows}: lines were added or lost.`;
  }
  summary.ignoredColumns = [...new Set(notes.ignored)];
  if (creators.size > 0) {
    const keys = new Set((await store.access.listKeys()).map((key) => key.name));
    for (const [name, links] of creators) if (!keys.has(name)) summary.unknownCreators.set(name, links);
  }
  return summary;
}
