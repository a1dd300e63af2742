/**
 * The export (docs/data.md): every link, oldest first, as linkyard's own NDJSON (lossless: what
 * the import reads back byte for byte) or as CSV for people and spreadsheets. Streamed: a page of
 * links is read from the store only when the reader has taken the last one, so ten million links
 * need no more memory than one page.
 */
import { pipeline, Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import type { BookmarkStore, LinkRecord } from '../store/types.ts';

export const EXPORT_FORMATS = ['ndjson', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The first line of an NDJSON export; the import refuses a file without it, or of a newer version. */
export const NDJSON_FORMAT = 'linkyard-links';
export const NDJSON_VERSION = 1;

/** The CSV export's columns, and the names the CSV import knows. */
export const CSV_COLUMNS = [
  'name',
  'uri',
  'title',
  'checkStatus',
  'createdAt',
  'createdBy',
  'expiresAt',
  'maxVisits',
  'forwardQuery',
  'visits',
] as const;
export type CsvColumn = (typeof CSV_COLUMNS)[number];

/** Links read from the store at a time: a few hundred kilobytes of rows and rollups. */
const PAGE_SIZE = 500;

/**
 * V8 flags the export command runs with (package.json's `export` script, the scale bench, the
 * image's command in docs/data.md; app/test/cli/export-import.test.ts holds the script to it). Without
 * them Node 24 grows the nursery to 64 MiB a semi-space on a large host, and a long export touches
 * all of it: ~100 MiB more at a million links than at ten thousand. 16 holds a page's rows while
 * they are live, so they die young; 4 or 8 promote them and cost as much. Figures: 0021-scale.md.
 */
export const EXPORT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];

export const CONTENT_TYPES: Readonly<Record<ExportFormat, string>> = {
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
};

/** One link as a line of the NDJSON export; fields in a fixed order, so equal links are equal bytes. */
export function linkLine(link: LinkRecord): string {
  return JSON.stringify({
    name: link.name,
    uri: link.uri,
    title: link.title,
    checkStatus: link.checkStatus,
    createdAt: link.createdAt.toISOString(),
    createdBy: link.createdBy,
    expiresAt: link.expiresAt?.toISOString() ?? null,
    maxVisits: link.maxVisits,
    forwardQuery: link.forwardQuery,
    visits: link.visits,
    hours: link.hours.map((row) => ({ hour: row.hour, visits: row.visits, bots: row.bots })),
    days: link.days.map((row) => ({ day: row.day, visits: row.visits, bots: row.bots })),
    dimensions: link.dimensions.map((row) => ({ day: row.day, dimension: row.dimension, value: row.value, visits: row.visits })),
  });
}

export function headerLine(): string {
  return JSON.stringify({ format: NDJSON_FORMAT, version: NDJSON_VERSION });
}

/** The last line: an import that does not find it knows the file was cut short. */
export function footerLine(links: number): string {
  return JSON.stringify({ end: { links } });
}

/** `onProgress` is told how many links were read so far, after each page. */
async function* pages(store: BookmarkStore, onProgress: (links: number) => void): AsyncGenerator<LinkRecord[]> {
  let cursor: string | undefined;
  let links = 0;
  do {
    const page = await store.exportLinks({ limit: PAGE_SIZE, cursor });
    links += page.items.length;
    onProgress(links);
    yield page.items;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
}

async function* ndjson(store: BookmarkStore, onProgress: (links: number) => void): AsyncGenerator<string> {
  yield `${headerLine()}\n`;
  let links = 0;
  for await (const page of pages(store, onProgress)) {
    links += page.length;
    // One chunk a page: a write per line would cost more than the line.
    if (page.length > 0) yield `${page.map(linkLine).join('\n')}\n`;
  }
  yield `${footerLine(links)}\n`;
}

async function* csvRecords(store: BookmarkStore, onProgress: (links: number) => void): AsyncGenerator<string[]> {
  for await (const page of pages(store, onProgress)) {
    for (const link of page) {
      yield [
        link.name,
        link.uri,
        link.title ?? '',
        String(link.checkStatus),
        link.createdAt.toISOString(),
        link.createdBy ?? '',
        link.expiresAt?.toISOString() ?? '',
        link.maxVisits === null ? '' : String(link.maxVisits),
        String(link.forwardQuery),
        String(link.visits),
      ];
    }
  }
}

/**
 * The export as a byte stream with backpressure: destroying it (a client gone) stops the reads.
 * CSV cells that a spreadsheet would take for a formula (=, +, -, @, tab, CR first) get a `'`
 * before them, as OWASP's CSV injection advice says (csv-stringify's escape_formulas).
 */
export function exportStream(store: BookmarkStore, format: ExportFormat, onProgress: (links: number) => void = () => {}): Readable {
  if (format === 'ndjson') return Readable.from(ndjson(store, onProgress), { objectMode: false });
  const csv = stringify({ header: true, columns: [...CSV_COLUMNS], escape_formulas: true });
  // A failed read destroys the output with its error, so a reader never takes a cut file for a whole one.
  return pipeline(Readable.from(csvRecords(store, onProgress)), csv, () => {});
}
