import { execFile } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { EXPORT_NODE_FLAGS } from '../../../app/src/services/export.ts';
import type { StoreSpec } from '../dataset/store-spec.ts';

export interface ExportResult {
  runs: number;
  /** Links each run wrote (the export's own count, from its last line). */
  links: number;
  /** The median run's wall time, the process's start included. */
  seconds: number;
  linksPerSecond: number;
  /** The highest peak RSS (maximum resident set, from /usr/bin/time) of the runs' export processes. */
  peakRssBytes: number;
  /** The NDJSON file's size. */
  bytes: number;
}

/**
 * Times `export --format ndjson --output FILE` of every link, `runs` times, each its own process
 * (app/dist/cli/export.js beside the built server), under /usr/bin/time for the process's peak
 * RSS: the export streams a page at a time, so its memory must not grow with the store. With
 * EXPORT_NODE_FLAGS, as `npm run export` runs it.
 */
export async function measureExport(serverEntry: string, spec: StoreSpec, runs: number, scratchDir: string): Promise<ExportResult> {
  const script = join(dirname(serverEntry), 'cli', 'export.js');
  const output = join(scratchDir, 'export.ndjson');
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    ...(spec.engine === 'sqlite' ? { DATA_DIR: spec.dataDir } : { DATABASE_URL: spec.url, DATA_DIR: join(scratchDir, 'export-data') }),
  };
  const seconds: number[] = [];
  let peakRssBytes = 0;
  let links = 0;
  let bytes = 0;
  for (let run = 0; run < runs; run++) {
    const { stderr } = await promisify(execFile)(
      '/usr/bin/time',
      ['-f', 'peak-kb=%M wall-s=%e', process.execPath, ...EXPORT_NODE_FLAGS, script, '--format', 'ndjson', '--output', output],
      { env, maxBuffer: 16 * 2 ** 20, timeout: 60 * 60_000 },
    );
    const peak = /peak-kb=(\d+) wall-s=([\d.]+)/.exec(stderr);
    const written = /export: (\d+) links written/.exec(stderr);
    if (peak === null || written === null) throw new Error(`the export did not report itself: ${stderr.slice(-500)}`);
    peakRssBytes = Math.max(peakRssBytes, Number(peak[1]) * 1024);
    seconds.push(Number(peak[2]));
    links = Number(written[1]);
    bytes = statSync(output).size;
    rmSync(output, { force: true });
  }
  seconds.sort((a, b) => a - b);
  const median = seconds[Math.floor(seconds.length / 2)] ?? Number.NaN;
  return { runs, links, seconds: median, linksPerSecond: links / median, peakRssBytes, bytes };
}
