import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { compileApp } from '../../../stack/src/build.ts';
import { type Stack, startStack } from '../../../stack/src/stack.ts';
import type { LoadResult } from '../analysis/latency.ts';
import { combineSlices, runWrkScript } from '../bench/load/wrk.ts';
import { generateDataset } from '../dataset/generate.ts';
import { type DatasetPlan, DEFAULT_END_MS, indexOfRank, nameKey, nameOf } from '../dataset/plan.ts';
import { describeStore, type StoreSpec } from '../dataset/store-spec.ts';
import { hourlyDaysFor } from '../dataset/tables.ts';
import { peakRssBytes, rssBytes } from '../observers/peak-rss.ts';
import { scrapeSamples } from '../observers/scrape.ts';
import type { Progress } from '../progress.ts';
import { type RunInfo, runInfo } from '../report/run-info.ts';
import { startFastTarget } from '../target/check-targets.ts';
import { type ExportResult, measureExport } from './export.ts';
import type { ScaleOptions, ScaleStore } from './options.ts';
import { establishedTo, nginxPids, type StoreFacts, searchTerms, storeFacts } from './probes.ts';
import { measureOperations, type Operation, type OperationResult } from './single.ts';
import { renderNamesScript, renderZipfScript } from './zipf-lua.ts';

/** The hot set: the 100 most visited names, as many as the bench's, all in every process's memory. */
export const HOT_SET_SIZE = 100;
const API_TOKEN = 'bench-scale';

export interface RedirectMix {
  load: LoadResult;
  /** Of the redirects the apps answered in these turns: the share answered from memory. */
  cacheHitRate: number;
  /** Answers other than 303 (a 404 would be a name the Lua script made wrong), and socket errors. */
  notRedirected: number;
}

export interface ScaleEntry {
  store: ScaleStore;
  links: number;
  visits: number;
  /** Seconds the generator spent on this dataset in this run (0: it was there already). */
  generatedSeconds: number;
  bytesOnDisk: number;
  bytesPerLink: number;
  /** The stats rollups' tables and indexes (dbstat, pg_total_relation_size) per million of the plan's visits. */
  rollupBytesPerMillionVisits: number;
  /** Each search group's term and how many links it hits in this store. */
  searchTerms: StoreFacts['searchTerms'];
  deepPageDepth: number;
  /** From startStack's call to nginx answering: every app opened the store, checked its migrations and got ready. */
  startupMs: number;
  operations: OperationResult[];
  redirects: { hot: RedirectMix; zipf: RedirectMix };
  /** Each app process's peak RSS (VmHWM) from its start to the end of the redirects (the connection leg not included). */
  peakRssBytes: number[];
  /** `export --format ndjson` of every link, run as its own process (app/dist/cli/export.js). */
  export: ExportResult;
}

export interface ConnectionLevel {
  store: ScaleStore;
  links: number;
  connections: number;
  load: LoadResult;
  /** Answers other than 2xx/3xx, and socket errors (connect, read, write, timeout). */
  failures: number;
  nginxPeakRssBytes: number;
  appsPeakRssBytes: number;
  /** The most established connections from nginx to the apps seen while the level ran. */
  upstreamConnections: number;
}

export interface ScaleResult {
  run: RunInfo;
  options: Omit<ScaleOptions, 'storeOf'>;
  postgresServer: string | undefined;
  entries: ScaleEntry[];
  connections: ConnectionLevel[];
  elapsedSeconds: number;
}

export async function runScale(options: ScaleOptions, progress: Progress, command: string): Promise<ScaleResult> {
  const started = performance.now();
  const { storeOf: _where, ...shown } = options;
  const result: ScaleResult = {
    run: runInfo(command),
    options: shown,
    postgresServer: undefined,
    entries: [],
    connections: [],
    elapsedSeconds: 0,
  };
  progress.log('building app/dist (npm run build): the apps run compiled JavaScript, as in production');
  const serverEntry = await compileApp();
  for (const store of options.stores) {
    for (const [sizeIndex, links] of options.sizes.entries()) {
      const plan: DatasetPlan = { links, visits: links * options.visitsPerLink, seed: options.seed, endMs: DEFAULT_END_MS };
      const spec = options.storeOf(store, plan);
      progress.log(`${store}, ${links.toLocaleString('en-US')} links: dataset in ${describeStore(spec)}`);
      const generated = await generateDataset({ plan, store: spec, resume: true, progress });
      const facts = await storeFacts(spec, options.pageDepth, searchTerms(plan));
      if (store === 'postgres' && spec.engine === 'postgres') result.postgresServer ??= await postgresVersion(spec.url);
      const withConnections = sizeIndex === 0 && options.connectionLevels.length > 0;
      const measured = await measureSize(options, progress, { store, plan, spec, facts, serverEntry, withConnections });
      result.entries.push({
        store,
        links,
        visits: plan.visits,
        generatedSeconds: generated.tables.some((table) => table.written > 0) ? generated.seconds : 0,
        bytesOnDisk: facts.bytesOnDisk,
        bytesPerLink: facts.bytesOnDisk / facts.links,
        rollupBytesPerMillionVisits: facts.rollupBytes / (plan.visits / 1_000_000),
        searchTerms: facts.searchTerms,
        deepPageDepth: facts.depth,
        ...measured.entry,
      });
      result.connections.push(...measured.connections);
    }
  }
  result.elapsedSeconds = (performance.now() - started) / 1000;
  return result;
}

async function postgresVersion(url: string): Promise<string> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? 'unknown';
  } finally {
    await client.end();
  }
}

interface SizeContext {
  store: ScaleStore;
  plan: DatasetPlan;
  spec: StoreSpec;
  facts: StoreFacts;
  serverEntry: string;
  withConnections: boolean;
}

async function measureSize(
  options: ScaleOptions,
  progress: Progress,
  context: SizeContext,
): Promise<{
  entry: Omit<
    ScaleEntry,
    | 'store'
    | 'links'
    | 'visits'
    | 'generatedSeconds'
    | 'bytesOnDisk'
    | 'bytesPerLink'
    | 'rollupBytesPerMillionVisits'
    | 'searchTerms'
    | 'deepPageDepth'
  >;
  connections: ConnectionLevel[];
}> {
  const { plan, spec } = context;
  const key = nameKey(plan);
  const hotNames = Array.from({ length: Math.min(HOT_SET_SIZE, plan.links) }, (_, i) => nameOf(key, indexOfRank(key, plan.links, i + 1)));
  const mostVisited = hotNames[0] ?? '';
  const cold = nameOf(key, indexOfRank(key, plan.links, plan.links));
  const lastWeek = { from: new Date(plan.endMs - 7 * 86_400_000).toISOString(), to: new Date(plan.endMs).toISOString() };
  const dir = mkdtempSync(join(tmpdir(), 'linkyard-scale-'));
  const checkTarget = await startFastTarget();
  const runTag = Date.now().toString(36);
  let stack: Stack | undefined;
  try {
    const began = performance.now();
    stack = await startScaleStack({
      spec,
      plan,
      dir,
      instances: options.instances,
      serverEntry: context.serverEntry,
      env: {
        API_TOKEN,
        ...(options.redirectCacheMs === undefined ? {} : { REDIRECT_CACHE_MS: String(options.redirectCacheMs) }),
        ...(options.redirectCacheNames === undefined ? {} : { REDIRECT_CACHE_NAMES: String(options.redirectCacheNames) }),
      },
    });
    const startupMs = performance.now() - began;
    const running = stack;
    progress.log(`stack up in ${Math.round(startupMs)} ms; single requests (${options.samples} of each, in turns)`);
    const created: string[] = [];
    const operations: Operation[] = [
      {
        name: 'create a link',
        expect: 201,
        send: (sample) => {
          const name = `scale-${runTag}-${sample}`;
          created.push(name);
          return { method: 'POST', path: '/api/bookmarks', body: JSON.stringify({ uri: `${checkTarget.url}/page/${sample}`, name }) };
        },
      },
      { name: 'page / (first)', expect: 200, send: () => ({ method: 'GET', path: '/' }) },
      {
        name: 'page / (deep cursor)',
        expect: 200,
        send: () => ({ method: 'GET', path: `/?cursor=${context.facts.deepCursor}` }),
      },
      { name: 'API GET, most visited', expect: 200, send: () => ({ method: 'GET', path: `/api/bookmarks/${mostVisited}` }) },
      { name: 'API GET, cold link', expect: 200, send: () => ({ method: 'GET', path: `/api/bookmarks/${cold}` }) },
      ...context.facts.searchTerms.map(
        ({ group, term }): Operation => ({
          name: `search, ${group}`,
          expect: 200,
          send: () => ({ method: 'GET', path: `/?q=${encodeURIComponent(term)}` }),
        }),
      ),
      // The API over the plan's last 7 days, by the hour; the page over the last 90 days to now, by the day
      // (the plan ends before today, so its older days and its hours both fall in it).
      ...(
        [
          ['most visited', mostVisited],
          ['cold link', cold],
        ] as const
      ).flatMap(([which, name]): Operation[] => [
        {
          name: `stats API (7 days by the hour), ${which}`,
          expect: 200,
          send: () => ({ method: 'GET', path: `/api/bookmarks/${name}/stats?from=${lastWeek.from}&to=${lastWeek.to}` }),
        },
        { name: `stats page (90 days), ${which}`, expect: 200, send: () => ({ method: 'GET', path: `/${name}+?range=90d` }) },
      ]),
    ];
    await searchReady(running.url, context.facts.searchTerms[0]?.term ?? mostVisited, progress);
    const rssBefore = running.pids();
    const operationResults = await measureOperations(running.url, operations, options.samples);

    progress.log(
      `redirects: hot set (${hotNames.length} names) and Zipf over ${plan.links.toLocaleString('en-US')} links, ${options.turns} turns of ${options.turnSeconds} s each`,
    );
    const hotScript = renderNamesScript(hotNames);
    const zipfScript = renderZipfScript(key, plan.links);
    const slice = (script: string) =>
      runWrkScript({ url: running.url, connections: options.connections, threads: 1, durationSeconds: options.turnSeconds, script });
    // Warm-up: the hot names into every process's memory, the connections open.
    await slice(hotScript);
    const hot: LoadResult[] = [];
    const zipf: LoadResult[] = [];
    const hits = { hot: { hits: 0, misses: 0 }, zipf: { hits: 0, misses: 0 } };
    for (let turn = 0; turn < options.turns; turn++) {
      for (const [kind, script, slices] of [
        ['hot', hotScript, hot],
        ['zipf', zipfScript, zipf],
      ] as const) {
        const before = await cacheCounts(running.appUrls);
        slices.push(await slice(script));
        const after = await cacheCounts(running.appUrls);
        hits[kind].hits += after.hits - before.hits;
        hits[kind].misses += after.misses - before.misses;
      }
    }
    const rate = (counts: { hits: number; misses: number }) => counts.hits / Math.max(1, counts.hits + counts.misses);
    const mix = (slices: readonly LoadResult[], counts: { hits: number; misses: number }): RedirectMix => {
      const load = combineSlices(slices);
      return { load, cacheHitRate: rate(counts), notRedirected: load.requests - (load.statuses['303'] ?? 0) + load.errors };
    };
    const redirects = { hot: mix(hot, hits.hot), zipf: mix(zipf, hits.zipf) };

    // Before the connection leg: thousands of connections are a cost of their own, reported there,
    // and would hide what the store's size does to the peak.
    const peaks = rssBefore.map((pid) => (pid === undefined ? 0 : (peakRssBytes(pid) ?? 0)));
    const connections: ConnectionLevel[] = [];
    if (context.withConnections) {
      for (const level of options.connectionLevels) {
        progress.log(
          `connections: ${level.toLocaleString('en-US')} keep-alive clients through nginx, hot set, ${options.connectionSeconds} s`,
        );
        connections.push(await connectionLevel(options, context, running, join(dir, 'state', 'nginx', 'nginx.pid'), hotScript, level));
      }
    }

    // The links this run created go again, so the dataset stays the plan's for the next run.
    for (const name of created) {
      const response = await request(`${running.url}/api/bookmarks/${name}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${API_TOKEN}` },
      });
      await response.body.dump();
    }
    progress.log(`export of every link, ${options.exportRuns} run(s), each its own process`);
    const exported = await measureExport(context.serverEntry, spec, options.exportRuns, dir);
    return { entry: { startupMs, operations: operationResults, redirects, peakRssBytes: peaks, export: exported }, connections };
  } finally {
    await stack?.stop();
    await checkTarget.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** How long the search index may take to be ready after start-up (PostgreSQL builds it then, decision 0022). */
const SEARCH_READY_MS = 20 * 60_000;

/** Waits until search answers (not 503 while the index is built), so no timed search waits for the build. */
export async function searchReady(baseUrl: string, term: string, progress: Progress): Promise<void> {
  const began = performance.now();
  for (;;) {
    const response = await request(`${baseUrl}/api/bookmarks?q=${encodeURIComponent(term)}`);
    await response.body.dump();
    if (response.statusCode === 200) return;
    const waited = performance.now() - began;
    if (waited > SEARCH_READY_MS) throw new Error(`search still answers ${response.statusCode} after ${Math.round(waited / 1000)} s`);
    progress.log(`search answers ${response.statusCode}: its index is being built; waited ${Math.round(waited / 1000)} s`);
    await sleep(5000);
  }
}

/**
 * The stack on a dataset as bench:scale and the cost tools run it: nginx's access log off, no rate
 * limit that counts, the apps' environment below and `env` on top; `dir` holds its state (and the
 * data folder, for PostgreSQL).
 */
export function startScaleStack(options: {
  spec: StoreSpec;
  plan: DatasetPlan;
  dir: string;
  instances: number;
  serverEntry: string;
  env?: Record<string, string>;
}): Promise<Stack> {
  const { spec, plan, dir } = options;
  return startStack({
    instances: options.instances,
    port: 0,
    dataDir: spec.engine === 'sqlite' ? spec.dataDir : join(dir, 'data'),
    stateDir: join(dir, 'state'),
    rateLimit: '100000r/s',
    accessLog: false,
    quiet: true,
    serverEntry: options.serverEntry,
    env: {
      CHECK_ALLOW_PRIVATE: 'true',
      // The dataset's targets are real sites' addresses: re-checking them would send the bench's
      // traffic off this host, and put the check thread's CPU into what is measured.
      RECHECK_INTERVAL_DAYS: '0',
      LOG_LEVEL: 'warn',
      // The dataset's hours stay hours: the fold is moved back to the plan's end (tables.ts).
      STATS_HOURLY_DAYS: String(hourlyDaysFor(plan, Date.now())),
      ...(spec.engine === 'postgres' ? { DATABASE_URL: spec.url } : {}),
      ...options.env,
    },
  });
}

/** The redirect cache's hits and misses so far, summed over the apps' /metrics. */
export async function cacheCounts(appUrls: readonly string[]): Promise<{ hits: number; misses: number }> {
  const total = { hits: 0, misses: 0 };
  for (const appUrl of appUrls) {
    for (const sample of await scrapeSamples(`${appUrl}/metrics`)) {
      if (sample.name === 'linkyard_redirect_cache_hits_total') total.hits += sample.value;
      if (sample.name === 'linkyard_redirect_cache_misses_total') total.misses += sample.value;
    }
  }
  return total;
}

/** wrk's file limit: a descriptor per connection and a margin for its own. */
const WRK_SPARE_FILES = 1024;

async function connectionLevel(
  options: ScaleOptions,
  context: SizeContext,
  stack: Stack,
  nginxPidFile: string,
  script: string,
  connections: number,
): Promise<ConnectionLevel> {
  const appPorts = new Set(stack.appUrls.map((url) => Number(new URL(url).port)));
  const peak = { nginx: 0, apps: 0, upstream: 0 };
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const rss = (pids: ReadonlyArray<number | undefined>) =>
        pids.reduce<number>((sum, pid) => sum + (pid === undefined ? 0 : (rssBytes(pid) ?? 0)), 0);
      peak.nginx = Math.max(peak.nginx, rss(nginxPids(nginxPidFile)));
      peak.apps = Math.max(peak.apps, rss(stack.pids()));
      peak.upstream = Math.max(peak.upstream, establishedTo(appPorts));
      // Once a second, not four times: at 10 000 clients /proc/net/tcp is some 30 000 lines, and
      // connection-ceiling.ts's sampler cost 0.1–0.2 core reading it once a second, on the load's cores.
      await sleep(1000);
    }
  })();
  let load: LoadResult;
  try {
    load = await runWrkScript({
      url: stack.url,
      connections,
      threads: 2,
      durationSeconds: options.connectionSeconds,
      script,
      fileLimit: connections + WRK_SPARE_FILES,
    });
  } finally {
    sampling = false;
    await sampler;
  }
  const answered = Object.entries(load.statuses).reduce(
    (sum, [status, count]) => sum + (Number(status) >= 200 && Number(status) < 400 ? count : 0),
    0,
  );
  return {
    store: context.store,
    links: context.plan.links,
    connections,
    load,
    failures: load.requests - answered + load.errors,
    nginxPeakRssBytes: peak.nginx,
    appsPeakRssBytes: peak.apps,
    upstreamConnections: peak.upstream,
  };
}
