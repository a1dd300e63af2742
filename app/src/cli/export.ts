/**
 * `npm run export -- --format ndjson|csv [--output FILE]`: every link, oldest first, as linkyard's
 * NDJSON (lossless, what `import` reads back) or CSV (for people), to FILE or stdout; progress on
 * stderr. A FILE is written under a temporary name and renamed when whole, so a failed export
 * never leaves a file that looks complete. In the image: `node app/dist/cli/export.js …`
 * (docs/data.md).
 */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { EXPORT_FORMATS, exportStream } from '../services/export.ts';
import type { BookmarkStore } from '../store/types.ts';
import { progressLine, runCommand, UsageError } from './command.ts';

const USAGE = `Usage:
  export --format ndjson|csv [--output FILE]   every link to FILE (default: stdout); progress on stderr
    ndjson: lossless, with visits and stats rollups (import reads it back byte for byte)
    csv:    one row a link for spreadsheets; cells that look like formulas are defused`;

async function run(store: BookmarkStore, args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { format: { type: 'string' }, output: { type: 'string' } }, strict: true });
  const format = EXPORT_FORMATS.find((candidate) => candidate === values.format);
  if (format === undefined) throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}, got '${values.format ?? ''}'`);
  const total = await store.count();
  const started = performance.now();
  const progress = progressLine('export');
  let written = 0;
  const stream = exportStream(store, format, (links) => {
    written = links;
    progress(`${links} of about ${total} links`);
  });
  const output = values.output;
  if (output === undefined) {
    await pipeline(stream, process.stdout, { end: false });
  } else {
    const partial = `${output}.partial`;
    try {
      await pipeline(stream, createWriteStream(partial, { flags: 'w' }));
      await rename(partial, output);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(
    `export: ${written} links written to ${output ?? 'stdout'} in ${seconds.toFixed(1)} s (${Math.round(written / Math.max(seconds, 0.001))} links/s)\n`,
  );
}

await runCommand('export', USAGE, (store, args) => run(store, args));
