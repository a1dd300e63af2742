/**
 * Reading an import's file into rows (services/import.ts checks and writes them): bytes split into
 * lines with a length limit, each line or CSV field decoded as strict UTF-8, linkyard's NDJSON
 * with its header and footer, CSV (csv-parse) with its header mapped to linkyard's fields by
 * format. A row that cannot be read is a row with an error, and the reading goes on; a file that
 * cannot be read at all is an ImportFileError.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { CSV_COLUMNS, type CsvColumn, NDJSON_FORMAT, NDJSON_VERSION } from './export.ts';
import type { ImportSummary } from './import.ts';

export const CSV_FORMATS = ['csv', 'shlink', 'yourls'] as const;
export type CsvFormat = (typeof CSV_FORMATS)[number];

/** The file as a whole cannot be read (its encoding, its header): said once, nothing more is read. */
export class ImportFileError extends Error {
  /** What was done before the error: the rows before it are written. */
  summary: ImportSummary | undefined;
}

/** One row's refusal; its message reads after "line N: ". */
export class RowError extends Error {}

export interface Row {
  line: number;
  /** Absent when the row could not be read at all (`error` says why). */
  fields?: Record<string, unknown>;
  error?: string;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Text of a line or field, or a RowError naming the encoding problem. */
function decode(bytes: Uint8Array): string {
  if (bytes.includes(0)) throw new RowError('contains NUL bytes: is the file UTF-16? Convert it to UTF-8 (iconv -f UTF-16 -t UTF-8).');
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new RowError('is not valid UTF-8 (Latin-1 or Windows-1252?): convert the file to UTF-8 (iconv -f LATIN1 -t UTF-8).');
  }
}

/** The input, refused at once if it starts with a UTF-16 byte order mark. */
export async function* refuseUtf16(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let first = true;
  for await (const chunk of input) {
    if (first && chunk.length >= 2 && ((chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff))) {
      throw new ImportFileError(
        'the file is UTF-16 (it starts with a UTF-16 byte order mark): convert it to UTF-8 (iconv -f UTF-16 -t UTF-8).',
      );
    }
    first = false;
    yield chunk;
  }
}

/**
 * Lines of bytes (LF, a CR before it dropped), numbered from 1. A line longer than `maxBytes` is
 * yielded without its bytes, which are let go as they arrive: memory stays within `maxBytes` and
 * one chunk whatever the line's length. (No library here: split2 and readline hold or drop such a
 * line without saying which line it was.)
 */
async function* lines(input: AsyncIterable<Buffer>, maxBytes: number): AsyncGenerator<{ line: number; bytes: Buffer | undefined }> {
  let pieces: Buffer[] = [];
  let length = 0;
  let tooLong = false;
  let line = 1;
  const take = (piece: Buffer): void => {
    if (tooLong) return;
    if (length + piece.length > maxBytes) {
      tooLong = true;
      pieces = [];
      length = 0;
      return;
    }
    pieces.push(piece);
    length += piece.length;
  };
  const finish = (): { line: number; bytes: Buffer | undefined } => {
    let bytes: Buffer | undefined;
    if (!tooLong) {
      bytes = Buffer.concat(pieces, length);
      if (bytes.at(-1) === 0x0d) bytes = bytes.subarray(0, -1);
    }
    const done = { line, bytes };
    pieces = [];
    length = 0;
    tooLong = false;
    line += 1;
    return done;
  };
  for await (const chunk of input) {
    let start = 0;
    for (let end = chunk.indexOf(0x0a, start); end !== -1; end = chunk.indexOf(0x0a, start)) {
      take(chunk.subarray(start, end));
      yield finish();
      start = end + 1;
    }
    // Copied: a piece kept across chunks would otherwise hold its whole chunk.
    if (start < chunk.length && !tooLong) take(Buffer.from(chunk.subarray(start)));
  }
  if (length > 0 || tooLong) yield finish();
}

function tooLongMessage(maxBytes: number): string {
  return `is longer than ${maxBytes} bytes, the limit: refused without being read (a link's line is a few kilobytes).`;
}

export interface NdjsonState {
  /** The footer's count, once read. */
  footer: number | undefined;
}

/** The link lines of linkyard's NDJSON export, after its header line; `state` learns the footer's count. */
export async function* ndjsonRows(input: AsyncIterable<Buffer>, maxBytes: number, state: NdjsonState): AsyncGenerator<Row> {
  let header = false;
  for await (const { line, bytes } of lines(input, maxBytes)) {
    if (!header) {
      if (bytes === undefined) throw new ImportFileError(`line ${line} ${tooLongMessage(maxBytes)}`);
      if (bytes.length === 0) continue;
      let first: unknown;
      try {
        first = JSON.parse(decode(bytes));
      } catch {
        first = undefined;
      }
      const { format, version } = (first ?? {}) as { format?: unknown; version?: unknown };
      if (format !== NDJSON_FORMAT) {
        // `npm run export > file` without -s: npm's own "> linkyard@… export" lines lead the file.
        const hint = bytes[0] === 0x3e ? " It starts with npm's banner: export with `npm run -s export` or --output." : '';
        throw new ImportFileError(
          `line ${line}: not a linkyard export: its first line must be {"format":"${NDJSON_FORMAT}","version":${NDJSON_VERSION}} (a CSV file needs --format csv, shlink or yourls).${hint}`,
        );
      }
      if (typeof version !== 'number' || version > NDJSON_VERSION) {
        throw new ImportFileError(
          `line ${line}: the export is of version ${String(version)}; this linkyard reads version ${NDJSON_VERSION}: upgrade it first.`,
        );
      }
      header = true;
      continue;
    }
    if (bytes === undefined) {
      yield { line, error: tooLongMessage(maxBytes) };
      continue;
    }
    if (bytes.length === 0) continue;
    let value: unknown;
    try {
      value = JSON.parse(decode(bytes));
    } catch (error) {
      yield { line, error: error instanceof RowError ? error.message : `is not JSON (${(error as Error).message}).` };
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      yield { line, error: 'is not a JSON object.' };
      continue;
    }
    const { end } = value as { end?: unknown };
    if (end !== undefined) {
      const { links } = (end ?? {}) as { links?: unknown };
      state.footer = typeof links === 'number' ? links : -1;
      continue;
    }
    if (state.footer !== undefined) {
      yield { line, error: 'comes after the footer line ({"end":…}), which closes the file.' };
      continue;
    }
    yield { line, fields: value as Record<string, unknown> };
  }
  if (!header) throw new ImportFileError('the file is empty: a linkyard export has at least its header line.');
}

/** A column of the file, by its header, and what it becomes. `null`: read and left out. */
export interface Preset {
  /** How a header cell is compared (Shlink's importer: lower case, spaces removed). */
  normalize(header: string): string;
  columns: Readonly<Record<string, CsvColumn | null>>;
  required: readonly string[];
  /** Unknown columns: refused (linkyard's own CSV: a typo must not drop a column), or left out with a note. */
  strict: boolean;
  /** Whether a cell `'=…` (or +, -, @, tab, CR after the quote) is a defused formula of our export. */
  undefuse: boolean;
  /** A name in the file's timestamp format: YOURLS's MySQL DATETIME. */
  timestamp?: 'mysql';
}

/** The CSV formats: linkyard's own columns, and the presets for peers' files. */
export const PRESETS: Readonly<Record<CsvFormat, Preset>> = {
  csv: {
    normalize: (header) => header.trim(),
    columns: Object.fromEntries(CSV_COLUMNS.map((column) => [column, column])),
    required: ['name', 'uri'],
    strict: true,
    undefuse: true,
  },
  // Shlink's CSV import: Long URL and Short code, optionally Title, Domain and Tags (`|`-separated).
  shlink: {
    normalize: (header) => header.toLowerCase().replaceAll(' ', ''),
    columns: { longurl: 'uri', shortcode: 'name', title: 'title', domain: null, tags: null },
    required: ['longurl', 'shortcode'],
    strict: false,
    undefuse: false,
  },
  // YOURLS's yourls_url table as exported to CSV (phpMyAdmin, mysql): keyword, url, title, timestamp, ip, clicks.
  yourls: {
    normalize: (header) => header.trim().toLowerCase(),
    columns: { keyword: 'name', url: 'uri', title: 'title', timestamp: 'createdAt', clicks: 'visits', ip: null },
    required: ['keyword', 'url'],
    strict: false,
    undefuse: false,
    timestamp: 'mysql',
  },
};

const DEFUSED = /^'[=+\-@\t\r]/;

export interface CsvNotes {
  /** Columns of the file left out (presets), said once in the summary. */
  ignored: string[];
}

/** The records of a CSV file as rows of linkyard's fields, by `preset`; `delimiter` one character, `,` when absent. */
export async function* csvRows(
  input: AsyncIterable<Buffer>,
  preset: Preset,
  delimiter: string | undefined,
  maxBytes: number,
  notes: CsvNotes,
): AsyncGenerator<Row> {
  const skipped: Row[] = [];
  const parser = parse({
    bom: true,
    // Fields as bytes, decoded here one by one: a wrong encoding is a row's error, not a silent U+FFFD.
    encoding: null,
    delimiter: delimiter ?? ',',
    max_record_size: maxBytes,
    skip_empty_lines: true,
    skip_records_with_error: true,
    info: true,
    on_skip: (error) => {
      // A record past the limit cannot be skipped without reading it whole: the import stops there.
      if (error?.code === 'CSV_MAX_RECORD_SIZE') throw error;
      const line = (error as { lines?: number } | undefined)?.lines ?? 0;
      skipped.push({ line, error: `is not well-formed CSV (${error?.message ?? 'unreadable'}).` });
    },
  });
  const feeding = pipeline(Readable.from(input), parser).catch(() => {});
  let mapping: (CsvColumn | null)[] | undefined;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Uint8Array[]; info: { lines: number } }>) {
      yield* skipped.splice(0);
      const line = info.lines;
      if (mapping === undefined) {
        mapping = headerMapping(record, preset, line, notes);
        continue;
      }
      const fields: Record<string, unknown> = {};
      try {
        for (const [index, bytes] of record.entries()) {
          const column = mapping[index];
          if (column === null || column === undefined) continue;
          let text = decode(bytes);
          if (preset.undefuse && DEFUSED.test(text)) text = text.slice(1);
          fields[column] = text;
        }
      } catch (error) {
        if (!(error instanceof RowError)) throw error;
        yield { line, error: error.message };
        continue;
      }
      yield { line, fields };
    }
    yield* skipped.splice(0);
  } catch (error) {
    const { code, lines: at } = error as { code?: string; lines?: number };
    if (code === 'CSV_MAX_RECORD_SIZE')
      throw new ImportFileError(
        `line ${at ?? '?'}: a record ${tooLongMessage(maxBytes)} The import stopped there; the rows before it are written.`,
      );
    throw error;
  } finally {
    parser.destroy();
    await feeding;
  }
  if (mapping === undefined) throw new ImportFileError('the file is empty: a CSV import needs a header line naming its columns.');
}

function headerMapping(record: readonly Uint8Array[], preset: Preset, line: number, notes: CsvNotes): (CsvColumn | null)[] {
  let names: string[];
  try {
    names = record.map((bytes) => preset.normalize(decode(bytes)));
  } catch (error) {
    throw new ImportFileError(`line ${line}: the header ${(error as Error).message}`);
  }
  const known = Object.keys(preset.columns);
  const mapping = names.map((name) => {
    const column = preset.columns[name];
    if (column !== undefined) return column;
    if (preset.strict) {
      throw new ImportFileError(`line ${line}: the column '${name}' is not one linkyard knows; the columns are ${known.join(', ')}.`);
    }
    notes.ignored.push(name);
    return null;
  });
  for (const [name, column] of Object.entries(preset.columns)) if (column === null && names.includes(name)) notes.ignored.push(name);
  const missing = preset.required.filter((name) => !names.includes(name));
  if (missing.length > 0) {
    throw new ImportFileError(
      `line ${line}: the header has no column ${missing.map((name) => `'${name}'`).join(' or ')}; it has ${names.join(', ')}.`,
    );
  }
  const repeated = names.find((name, index) => names.indexOf(name) !== index);
  if (repeated !== undefined) throw new ImportFileError(`line ${line}: the column '${repeated}' is named twice.`);
  return mapping;
}
