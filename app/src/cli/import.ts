/**
 * `npm run import -- FILE [--format ndjson|csv|shlink|yourls] [--overwrite] [--check]`: links
 * from linkyard's export (lossless), a CSV with named columns, or a peer's CSV, each row checked
 * as a create is. Bad rows and conflicts are reported with their line on stdout and the rest goes
 * on; progress on stderr; a summary at the end. Exit 1 when any row was not imported (bad, or a
 * conflict) or the file was cut short. In the image: `node app/dist/cli/import.js …` (docs/data.md).
 */
import { open } from 'node:fs/promises';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import type { UriChecker } from '../check/types.ts';
import { loadConfig } from '../config.ts';
import { couldNotFetch } from '../services/bookmarks.ts';
import {
  DEFAULT_MAX_LINE_BYTES,
  IMPORT_FORMATS,
  type ImportFormat,
  type ImportSummary,
  importLinks,
  type TargetCheck,
} from '../services/import.ts';
import { ImportFileError } from '../services/import-read.ts';
import type { BookmarkStore } from '../store/types.ts';
import { COMMAND_ACTOR, progressLine, RefusedError, runCommand, UsageError } from './command.ts';

const USAGE = `Usage:
  import FILE [--format ndjson|csv|shlink|yourls] [--overwrite] [--check [--check-rate N]]
              [--delimiter C] [--max-line-bytes N]
    FILE              a file, or - for stdin; the format follows .ndjson/.jsonl or .csv when not given
    --overwrite       a name that exists with another target is replaced (else: reported, left alone)
    --check           fetch every target first, as a create does (N a second, default 5)
    --delimiter C     the CSV's field separator (default ,)
    --max-line-bytes  the longest line or CSV record read (default ${DEFAULT_MAX_LINE_BYTES})`;

function formatOf(file: string, given: string | undefined): ImportFormat {
  if (given !== undefined) {
    const format = IMPORT_FORMATS.find((candidate) => candidate === given);
    if (format === undefined) throw new UsageError(`--format must be one of ${IMPORT_FORMATS.join(', ')}, got '${given}'`);
    return format;
  }
  const extension = extname(file).toLowerCase();
  if (extension === '.csv') return 'csv';
  if (extension === '.ndjson' || extension === '.jsonl' || file === '-') return 'ndjson';
  throw new UsageError(`cannot tell the format of '${file}' from its name: give --format ${IMPORT_FORMATS.join('|')}`);
}

function positiveInteger(option: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < 1) {
    throw new UsageError(`--${option} must be a whole number from 1, got '${value}'`);
  }
  return number;
}

function summaryLines(summary: ImportSummary): string[] {
  const lines = [
    `Imported ${summary.imported}, skipped ${summary.skipped} (already there), conflicts ${summary.conflicts}, overwritten ${summary.overwritten}, bad rows ${summary.bad}; ${summary.rows} rows read.`,
  ];
  for (const [name, links] of summary.unknownCreators) {
    lines.push(
      `Creator '${name}' (${links} links) is no key in this store: the name is kept, and a key created with that name will own these links.`,
    );
  }
  if (summary.ignoredColumns.length > 0)
    lines.push(`Columns left out (linkyard has no place for them): ${summary.ignoredColumns.join(', ')}.`);
  if (summary.incomplete !== undefined) lines.push(`Incomplete file: ${summary.incomplete}`);
  return lines;
}

async function run(store: BookmarkStore, args: string[], out: (line: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      format: { type: 'string' },
      overwrite: { type: 'boolean' },
      check: { type: 'boolean' },
      'check-rate': { type: 'string' },
      delimiter: { type: 'string' },
      'max-line-bytes': { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  const [file, extra] = positionals;
  if (file === undefined || extra !== undefined) throw new UsageError('import takes one FILE (or - for stdin)');
  const format = formatOf(file, values.format);
  const delimiter = values.delimiter;
  if (delimiter !== undefined && [...delimiter].length !== 1) throw new UsageError(`--delimiter must be one character, got '${delimiter}'`);
  const checkRate = positiveInteger('check-rate', values['check-rate'], 5);
  const maxLineBytes = positiveInteger('max-line-bytes', values['max-line-bytes'], DEFAULT_MAX_LINE_BYTES);

  let input: AsyncIterable<Buffer>;
  let close = async (): Promise<void> => {};
  if (file === '-') input = process.stdin;
  else {
    try {
      const handle = await open(file, 'r');
      close = () => handle.close();
      input = handle.createReadStream({ autoClose: false });
    } catch (error) {
      throw new RefusedError(`cannot read '${file}': ${(error as Error).message}`);
    }
  }

  let checker: UriChecker | undefined;
  let check: TargetCheck | undefined;
  if (values.check === true) {
    // Loaded only when asked for: the pool's modules cost every other import their start-up time.
    const { createChecker } = await import('../check/create-checker.ts');
    const uriChecker = createChecker(loadConfig());
    checker = uriChecker;
    // Through the same pool and rules as a create's check (private addresses refused, the timeouts).
    check = async (uri) => {
      const result = await uriChecker.check(uri);
      if (!result.ok) throw couldNotFetch(uri, result.detail);
      return { status: result.status, title: result.title };
    };
  }

  const progress = progressLine('import');
  const started = performance.now();
  let summary: ImportSummary;
  try {
    summary = await importLinks(
      store,
      input,
      { format, overwrite: values.overwrite === true, check, checkRate, delimiter, maxLineBytes, checkConcurrency: 4 },
      {
        row: (line, message) => out(`line ${line}: ${message}`),
        progress: (so) =>
          progress(`${so.rows} rows read: imported ${so.imported}, skipped ${so.skipped}, conflicts ${so.conflicts}, bad ${so.bad}`),
      },
    );
  } catch (error) {
    if (error instanceof ImportFileError) {
      // Rows before the error are written: said as a summary, when there were any.
      if (error.summary !== undefined && error.summary.rows > 0) for (const line of summaryLines(error.summary)) out(line);
      throw new RefusedError(`${file}: ${error.message}`);
    }
    throw error;
  } finally {
    await close();
    await checker?.close();
  }
  for (const line of summaryLines(summary)) out(line);
  await store.access.audit({
    actor: COMMAND_ACTOR,
    action: 'links.import',
    subject: file === '-' ? 'stdin' : file,
    detail: `${format}: imported ${summary.imported}, skipped ${summary.skipped}, conflicts ${summary.conflicts}, overwritten ${summary.overwritten}, bad ${summary.bad}`,
  });
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(
    `import: ${summary.rows} rows in ${seconds.toFixed(1)} s (${Math.round(summary.rows / Math.max(seconds, 0.001))} rows/s)\n`,
  );
  const notImported = summary.bad + summary.conflicts;
  if (notImported > 0 || summary.incomplete !== undefined) {
    throw new RefusedError(
      notImported > 0 ? `${notImported} rows not imported (see the lines above)` : 'the file was incomplete (see above)',
    );
  }
}

await runCommand('import', USAGE, run);
