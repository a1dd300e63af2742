/** Stores for the export and import command tests (a SQLite folder, a PostgreSQL schema), and the commands run as npm runs them. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TestContext } from 'node:test';
import { Client, escapeIdentifier } from 'pg';
import { tempDir } from '../../../test/support/index.ts';
import { EXPORT_NODE_FLAGS } from '../../src/services/export.ts';
import { openStore } from '../../src/store/open.ts';
import type { BookmarkStore, LinkRecord } from '../../src/store/types.ts';
import { testDatabaseUrl, uniqueSchema } from '../store/pg-env.ts';

export interface CommandRun {
  code: number;
  stdout: string;
  stderr: string;
  /** The process's peak resident memory as last sampled (Linux's VmHWM, which only grows), in bytes. */
  peakRss: number;
}

export interface TransferTarget {
  engine: 'sqlite' | 'postgres';
  /** What the commands need in their environment to use this store. */
  env: Record<string, string>;
  /** The same store, opened and migrated in this process; closed after the test. */
  open(): Promise<BookmarkStore>;
}

export function sqliteTarget(t: TestContext): TransferTarget {
  const dataDir = tempDir(t);
  return {
    engine: 'sqlite',
    env: { DATA_DIR: dataDir, DATABASE_URL: '' },
    async open() {
      const store = await openStore({ dataDir, databaseUrl: undefined });
      t.after(() => store.close());
      return store;
    },
  };
}

/** A schema of its own, dropped after the test; chosen through DATABASE_URL's libpq `options`, as a deployment would. */
export async function postgresTarget(t: TestContext): Promise<TransferTarget> {
  const schema = uniqueSchema();
  const admin = new Client({ connectionString: testDatabaseUrl });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${escapeIdentifier(schema)}`);
  t.after(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS ${escapeIdentifier(schema)} CASCADE`);
    await admin.end();
  });
  const url = new URL(testDatabaseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    engine: 'postgres',
    env: { DATABASE_URL: url.href },
    async open() {
      const store = await openStore({ dataDir: '/nonexistent', databaseUrl: url.href });
      t.after(() => store.close());
      return store;
    },
  };
}

const SCRIPTS = {
  export: new URL('../../src/cli/export.ts', import.meta.url).pathname,
  import: new URL('../../src/cli/import.ts', import.meta.url).pathname,
};

/** The V8 flags package.json's script runs each command with. */
export const COMMAND_NODE_FLAGS: Readonly<Record<keyof typeof SCRIPTS, readonly string[]>> = { export: EXPORT_NODE_FLAGS, import: [] };

export interface RunOptions {
  /** Streamed to the command's stdin, with backpressure. */
  stdin?: AsyncIterable<Buffer | string> | Iterable<Buffer | string> | undefined;
  /** Options for node itself (a heap limit), after the command's own (COMMAND_NODE_FLAGS). */
  nodeOptions?: string[] | undefined;
  /** Called with stderr so far as it grows: true kills the command with SIGKILL there and then. */
  killWhen?: ((stderr: string) => boolean) | undefined;
}

/** `npm run export|import -- args` against `target`. */
export async function runCli(
  command: keyof typeof SCRIPTS,
  target: TransferTarget,
  args: string[],
  options: RunOptions = {},
): Promise<CommandRun> {
  const { stdin, nodeOptions = [], killWhen } = options;
  const child = spawn(process.execPath, [...COMMAND_NODE_FLAGS[command], ...nodeOptions, SCRIPTS[command], ...args], {
    env: { ...process.env, ...target.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    if (killWhen?.(stderr) === true) child.kill('SIGKILL');
  });
  let peakRss = 0;
  const sampler = setInterval(() => {
    readFile(`/proc/${child.pid}/status`, 'utf8').then(
      (status) => {
        const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
        if (kib !== undefined) peakRss = Math.max(peakRss, Number(kib) * 1024);
      },
      () => {},
    );
  }, 25);
  // The command may stop reading (a refused file) before the input ends: that is not the test's failure.
  const feeding = stdin === undefined ? child.stdin.end() : pipeline(Readable.from(stdin), child.stdin).catch(() => {});
  const [code] = (await once(child, 'close')) as [number | null];
  clearInterval(sampler);
  await feeding;
  return { code: code ?? (child.signalCode === null ? -1 : 128 + 9), stdout, stderr, peakRss };
}

/**
 * `count` links made up to exercise every field: unicode and quotes in titles, formulas, expiry
 * passed and to come, creators, forwarding off, visits, and rollups on every 7th link.
 */
export function* sampleLinks(count: number, from = 1): Generator<LinkRecord> {
  for (let i = from; i < from + count; i++) {
    const rolled = i % 7 === 0;
    yield {
      name: `link-${i}`,
      uri: `https://example.com/page/${i}?q=${i % 13}`,
      title: i % 5 === 0 ? null : i % 11 === 0 ? `=HYPERLINK("https://evil.example/${i}","click")` : `Page ${i} – “quoted”, ok ✓`,
      checkStatus: i % 17 === 0 ? 403 : 200,
      createdAt: new Date(Date.UTC(2026, 0, 1) + i * 1000 + (i % 1000)),
      createdBy: i % 3 === 0 ? null : i % 3 === 1 ? 'alice' : 'form',
      expiresAt: i % 19 === 0 ? new Date(Date.UTC(2020, 5, 1)) : i % 23 === 0 ? new Date(Date.UTC(2040, 5, 1, 12, 30)) : null,
      maxVisits: i % 29 === 0 ? 1000 : null,
      forwardQuery: i % 31 !== 0,
      visits: rolled ? 12 : i % 4,
      hours: rolled
        ? [
            { hour: 490_000 + (i % 5), visits: 3, bots: 1 },
            { hour: 490_010, visits: 2, bots: 0 },
          ]
        : [],
      days: rolled ? [{ day: 20_400, visits: 7, bots: 2 }] : [],
      dimensions: rolled
        ? [
            { day: 20_400, dimension: 'browser', value: 'Firefox', visits: 4 },
            { day: 20_400, dimension: 'browser', value: 'Chrome', visits: 3 },
            { day: 20_400, dimension: 'country', value: 'DE', visits: 7 },
          ]
        : [],
    };
  }
}

/** Writes the links through the store's own batch import (the fast way to a large store). */
export async function fill(store: BookmarkStore, links: Iterable<LinkRecord>, batchSize = 1000): Promise<void> {
  let batch: LinkRecord[] = [];
  for (const link of links) {
    batch.push(link);
    if (batch.length === batchSize) {
      await store.importLinks(batch, { overwrite: false });
      batch = [];
    }
  }
  if (batch.length > 0) await store.importLinks(batch, { overwrite: false });
}

/** The NDJSON export's first line. */
export const HEADER = '{"format":"linkyard-links","version":1}';

/** A link as the export carries it (untitled, no creator, no visits), with `overrides` changed. */
export function linkRecord(name: string, overrides: Partial<LinkRecord> = {}): LinkRecord {
  return {
    name,
    uri: `https://example.com/${name}`,
    title: null,
    checkStatus: 200,
    createdAt: new Date('2026-01-02T03:04:05.006Z'),
    createdBy: null,
    expiresAt: null,
    maxVisits: null,
    forwardQuery: true,
    visits: 0,
    hours: [],
    days: [],
    dimensions: [],
    ...overrides,
  };
}

/** A link line as the export writes it (linkRecord's), with `fields` changed: any value, for lines the import must refuse. */
export function line(name: string, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...linkRecord(name), ...fields });
}

/** The names of the links in `target`, oldest first (the first thousand). */
export async function names(target: TransferTarget): Promise<string[]> {
  const store = await target.open();
  const page = await store.exportLinks({ limit: 1000 });
  return page.items.map((item) => item.name);
}
