import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { compileApp } from '../../../stack/src/build.ts';
import { runWrkScript } from '../bench/load/wrk.ts';
import { type DatasetPlan, DEFAULT_END_MS, indexOfRank, nameKey, nameOf } from '../dataset/plan.ts';
import { searchTerms, storeFacts } from '../scale/probes.ts';
import { startScaleStack } from '../scale/run.ts';
import { measureOperations, type Operation } from '../scale/single.ts';
import { renderNamesScript, renderZipfScript } from '../scale/zipf-lua.ts';
import { existingStore, positive, UsageError } from './arguments.ts';

const USAGE = `node loadtest/src/cli/rss-probe.ts --store sqlite:DATA_DIR|postgres:URL --links N [--zipf-seconds S] [NAME=VALUE…]

Where an app's memory goes as a store grows (issue 25, decision 0021): one app behind nginx on a
store made by npm run dataset (a copy: its redirects add visits), as bench:scale runs it, and its
memory after each part of the bench's request mix: ready; 20 of each page, API read and stats
request; 20 of each search; 5 s of the hot set; --zipf-seconds (15) of Zipf redirects over all
--links; 11 s later (a stats flush). Each line: VmHWM, VmRSS, RssAnon, RssFile, the main thread's
malloc ([heap] in smaps), the other anonymous mappings (V8's heap, threads' malloc arenas), and
V8's heap by space, MiB. NAME=VALUE goes into the app's environment (REDIRECT_CACHE_NAMES=…).
Needs wrk and nginx.
`;

/** MiB of a `/proc/<pid>/status` field. */
function statusMiB(status: string, field: string): number {
  return Math.round(Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) / 1024);
}

/** /proc/<pid>/status's sizes, and smaps' resident [heap] and nameless (anonymous) mappings, MiB. */
function memory(pid: number): Record<string, number> {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  let mapping = '';
  let heapKiB = 0;
  let anonymousKiB = 0;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) mapping = head[1] ?? '';
    const rss = /^Rss:\s+(\d+)/.exec(line);
    if (rss && mapping === '[heap]') heapKiB += Number(rss[1]);
    else if (rss && mapping === '') anonymousKiB += Number(rss[1]);
  }
  return {
    ...Object.fromEntries(['VmHWM', 'VmRSS', 'RssAnon', 'RssFile'].map((field) => [field, statusMiB(status, field)])),
    heap: Math.round(heapKiB / 1024),
    otherAnonymous: Math.round(anonymousKiB / 1024),
  };
}

/**
 * A module the app imports first (NODE_OPTIONS=--import): on SIGWINCH, which the app leaves alone
 * (close-with-grace takes SIGUSR2), it writes V8's heap by space where this tool reads it.
 */
function heapReporter(dir: string): string {
  const file = join(dir, 'heap-report.mjs');
  writeFileSync(
    file,
    `import { writeFileSync } from 'node:fs';
import v8 from 'node:v8';
process.on('SIGWINCH', () => writeFileSync(${JSON.stringify(join(dir, 'heap-'))} + process.pid + '.json', JSON.stringify(v8.getHeapSpaceStatistics())));
`,
  );
  return file;
}

async function v8Heap(dir: string, pid: number): Promise<string> {
  const file = join(dir, `heap-${pid}.json`);
  rmSync(file, { force: true });
  process.kill(pid, 'SIGWINCH');
  for (let tries = 0; tries < 20; tries++) {
    await sleep(100);
    try {
      const spaces = JSON.parse(readFileSync(file, 'utf8')) as Array<{ space_name: string; space_size: number; space_used_size: number }>;
      const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
      const total = spaces.reduce((sum, space) => sum + space.space_size, 0);
      const shown = spaces.filter((space) => space.space_size >= 2 ** 20);
      return `V8 ${mib(total)} (${shown.map((space) => `${space.space_name} ${mib(space.space_size)}, ${mib(space.space_used_size)} used`).join('; ')})`;
    } catch {
      // Not written yet.
    }
  }
  return 'V8: no answer';
}

export async function probe(argv: string[], out: (line: string) => void): Promise<void> {
  const parsed = (() => {
    try {
      return parseArgs({
        args: argv,
        allowPositionals: true,
        options: {
          store: { type: 'string' },
          links: { type: 'string' },
          'zipf-seconds': { type: 'string' },
          help: { type: 'boolean', short: 'h', default: false },
        },
      });
    } catch (error) {
      throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    }
  })();
  const { values, positionals } = parsed;
  if (values.help) throw new UsageError(USAGE, 0);
  const spec = existingStore(values.store, USAGE);
  if (values.links === undefined) throw new UsageError(`--links is needed\n\n${USAGE}`);
  const links = Math.round(positive('links', values.links, 0));
  const zipfSeconds = positive('zipf-seconds', values['zipf-seconds'], 15);
  const env = Object.fromEntries(
    positionals.map((pair) => {
      const [name, value] = pair.split(/=(.*)/s);
      if (name === undefined || value === undefined || !/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new UsageError(`not NAME=VALUE: '${pair}'`);
      return [name, value];
    }),
  );
  const plan: DatasetPlan = { links, visits: links * 10, seed: 1, endMs: DEFAULT_END_MS };
  const dir = mkdtempSync(join(tmpdir(), 'linkyard-rss-probe-'));
  const stack = await startScaleStack({
    spec,
    plan,
    dir,
    instances: 1,
    serverEntry: await compileApp(),
    env: { NODE_OPTIONS: `--import ${heapReporter(dir)}`, ...env },
  });
  const report = async (step: string) => {
    const pid = stack.pids()[0];
    if (pid === undefined) throw new Error('the app is not running');
    out(`${step}: ${JSON.stringify(memory(pid))} ${await v8Heap(dir, pid)}`);
  };
  try {
    const facts = await storeFacts(spec, 1_000_000, searchTerms(plan));
    // PostgreSQL builds the search index after start-up: searches wait for it, as the bench's do.
    for (;;) {
      const response = await request(`${stack.url}/api/bookmarks?q=${encodeURIComponent(facts.searchTerms[0]?.term ?? 'a')}`);
      await response.body.dump();
      if (response.statusCode === 200) break;
      await sleep(5000);
    }
    await report('ready');
    const key = nameKey(plan);
    const hotNames = Array.from({ length: Math.min(100, links) }, (_, i) => nameOf(key, indexOfRank(key, links, i + 1)));
    const most = hotNames[0] ?? '';
    const cold = nameOf(key, indexOfRank(key, links, links));
    const from = new Date(plan.endMs - 7 * 86_400_000).toISOString();
    const to = new Date(plan.endMs).toISOString();
    const get = (name: string, path: string): Operation => ({ name, expect: 200, send: () => ({ method: 'GET', path }) });
    await measureOperations(
      stack.url,
      [
        get('first page', '/'),
        get('deep page', `/?cursor=${facts.deepCursor}`),
        ...[most, cold].flatMap((name) => [
          get('API read', `/api/bookmarks/${name}`),
          get('stats API', `/api/bookmarks/${name}/stats?from=${from}&to=${to}`),
          get('stats page', `/${name}+?range=90d`),
        ]),
      ],
      20,
    );
    await report('pages, API reads, stats');
    await measureOperations(
      stack.url,
      facts.searchTerms.map(({ term }) => get(term, `/?q=${encodeURIComponent(term)}`)),
      20,
    );
    await report('searches');
    const slice = (script: string, seconds: number) =>
      runWrkScript({ url: stack.url, connections: 64, threads: 1, durationSeconds: seconds, script });
    const hot = await slice(renderNamesScript(hotNames), 5);
    await report(`hot set, ${Math.round(hot.rps)}/s`);
    const zipf = await slice(renderZipfScript(key, links), zipfSeconds);
    await report(`Zipf, ${Math.round(zipf.rps)}/s`);
    await sleep(11_000);
    await report('11 s later');
  } finally {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.filename === process.argv[1]) {
  try {
    await probe(process.argv.slice(2), (line) => process.stdout.write(`${line}\n`));
  } catch (error) {
    if (error instanceof UsageError) {
      (error.exitCode === 0 ? process.stdout : process.stderr).write(`${error.message}\n`);
      process.exit(error.exitCode);
    }
    throw error;
  }
}
