import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compileApp } from '../../../stack/src/build.ts';
import type { Stack } from '../../../stack/src/stack.ts';
import { runWrkScript } from '../bench/load/wrk.ts';
import { type DatasetPlan, DEFAULT_END_MS, indexOfRank, nameKey, nameOf } from '../dataset/plan.ts';
import { describeStore, parseStoreSpec, type StoreSpec } from '../dataset/store-spec.ts';
import { Progress } from '../progress.ts';
import { searchTerms } from '../scale/probes.ts';
import { cacheCounts, HOT_SET_SIZE, searchReady, startScaleStack } from '../scale/run.ts';
import { renderNamesScript, renderZipfScript } from '../scale/zipf-lua.ts';
import { positive, UsageError } from './arguments.ts';

const USAGE = `node loadtest/src/cli/redirect-cost.ts --links N [--visits M] [--seed S] [--store sqlite[:DIR]|postgres[:URL]]
  [--seconds N] [--turns N] [--connections N] [--top N] [--keep-profiles DIR] [--perf DIR]

Where a redirect's CPU goes on a dataset made by npm run dataset (issue 25, decision 0021): the
stack as npm run bench:scale starts it (2 apps behind nginx), the apps under --cpu-prof, wrk
sending redirects to names drawn by a Zipf law (s = 1) over every link, then to the 100-name hot
set, in turns of --seconds (default 8) each, --turns times (default 2). For each kind: the
machine's CPU split between wrk, nginx, the apps, PostgreSQL and the rest (/proc/<pid>/stat), the
apps' by thread (/proc/<pid>/task), and the apps' profiled CPU by what it was doing (store,
visit flush, cache, Fastify and HTTP, logging, GC…), all in µs a redirect. The store's default
place is the plan's (as npm run dataset makes it); the redirects add visits to it, as the bench's do.
--top N also lists the N functions with the most samples of each kind. --perf DIR also records
the whole machine with perf during each turn (DIR/<kind>-<turn>.data) and splits its CPU by process
and, for the apps, by thread and part of the event loop.
`;

type Kind = 'zipf' | 'hot';
type Window = { kind: Kind; startUs: number; endUs: number };

/** The monotonic clock V8's profiler stamps its samples with (CLOCK_MONOTONIC), in µs. */
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

// --- CPU from /proc -------------------------------------------------------------------------

const TICKS = 100; // USER_HZ on Linux

function readStat(path: string): { comm: string; ticks: number; ppid: number } | undefined {
  try {
    const stat = readFileSync(path, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
      ticks: Number(fields[11]) + Number(fields[12]),
      ppid: Number(fields[1]),
    };
  } catch {
    return undefined;
  }
}

/** Every thread on the machine: its group (process) and CPU ticks so far, keyed by `pid/tid`. */
function snapshot(appPids: ReadonlySet<number>): Map<string, { group: string; ticks: number }> {
  const seen = new Map<string, { group: string; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const process = readStat(`/proc/${pid}/stat`);
    if (process === undefined) continue;
    if (appPids.has(pid)) {
      // The apps by thread: the main thread, V8's helpers (GC, compiler), libuv's pool, and the rest by name (the visit writer, the profiler's).
      let tids: string[] = [];
      try {
        tids = readdirSync(`/proc/${pid}/task`);
      } catch {}
      for (const tid of tids) {
        const thread = readStat(`/proc/${pid}/task/${tid}/stat`);
        if (thread === undefined) continue;
        const name =
          Number(tid) === pid
            ? 'app main thread'
            : thread.comm === 'V8Worker' || thread.comm === 'DelayedTaskSche'
              ? 'app V8 helpers (GC, compiler)'
              : thread.comm.startsWith('libuv')
                ? 'app libuv pool'
                : `app thread ${thread.comm}`;
        seen.set(`${pid}/${tid}`, { group: name, ticks: thread.ticks });
      }
      continue;
    }
    const group = /^wrk/.test(process.comm)
      ? 'wrk'
      : process.comm === 'nginx'
        ? 'nginx'
        : process.comm === 'postgres'
          ? 'PostgreSQL'
          : 'the rest';
    seen.set(String(pid), { group, ticks: process.ticks });
  }
  return seen;
}

/** CPU seconds per group over a run of `work`: sampled every 200 ms, so a process that ends (wrk) keeps its last figure. */
async function cpuDuring<T>(appPids: ReadonlySet<number>, work: () => Promise<T>): Promise<{ result: T; seconds: Map<string, number> }> {
  const first = snapshot(appPids);
  const last = new Map(first);
  const timer = setInterval(() => {
    for (const [key, value] of snapshot(appPids)) last.set(key, value);
  }, 200);
  let result: T;
  try {
    result = await work();
  } finally {
    clearInterval(timer);
  }
  for (const [key, value] of snapshot(appPids)) last.set(key, value);
  const seconds = new Map<string, number>();
  for (const [key, { group, ticks }] of last) {
    const used = (ticks - (first.get(key)?.ticks ?? 0)) / TICKS;
    seconds.set(group, (seconds.get(group) ?? 0) + used);
  }
  return { result, seconds };
}

// --- the apps' CPU profiles -----------------------------------------------------------------

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** What a frame's script says it does; undefined: look further up the stack. */
const STORE = 'store (driver, queries)';

function categoryOf(url: string): string | undefined {
  if (url === '') return undefined;
  if (/better-sqlite3|node_modules\/pg|pg-protocol|pg-pool|pg-types|\/dist\/store\//.test(url)) return STORE;
  if (/lru-cache/.test(url)) return 'redirect cache (lru-cache)';
  if (/pino|\/dist\/request-log|\/dist\/request-logger/.test(url)) return 'logging';
  if (/\/dist\/visits\.js|\/dist\/stats\//.test(url)) return 'visit counting and rollups';
  if (/\/dist\/request-metrics|\/dist\/metrics|prom-client/.test(url)) return 'metrics';
  if (/\/dist\/(routes|services)\//.test(url)) return 'the redirect route (own code)';
  if (
    /fastify|find-my-way|avvio|light-my-request|fast-json|process-warning|toad-cache|node:_http|node:http|node:net|node:internal\/(http|streams|stream_base|net)|node:stream/.test(
      url,
    )
  ) {
    return 'Fastify and HTTP';
  }
  if (/\/dist\//.test(url)) return 'the app, elsewhere';
  return undefined;
}

const SPECIAL: Record<string, string> = {
  '(garbage collector)': 'GC',
  '(idle)': 'idle',
  '(program)': 'native, outside JS (syscalls, libuv, the HTTP parser)',
  '(root)': 'native, outside JS (syscalls, libuv, the HTTP parser)',
};

/** Each node's category: its own frame's, else its nearest ancestor's; the flush wins wherever it is on the stack. */
function categorize(profile: Profile): Map<number, string> {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const result = new Map<number, string>();
  for (const node of profile.nodes) {
    const special = SPECIAL[node.callFrame.functionName];
    if (special !== undefined && node.callFrame.url === '') {
      result.set(node.id, special);
      continue;
    }
    let category: string | undefined;
    let flush = false;
    let store = false;
    for (let at: ProfileNode | undefined = node; at !== undefined; at = byId.get(parent.get(at.id) ?? -1)) {
      if (at.callFrame.functionName === 'addVisits' || /\/dist\/visits\.js/.test(at.callFrame.url)) flush = true;
      category ??= categoryOf(at.callFrame.url);
      if (categoryOf(at.callFrame.url) === STORE) store = true;
    }
    // A driver's socket writes are the store's, though node:net does them.
    result.set(
      node.id,
      flush ? 'the visit flush (main thread)' : store ? STORE : (category ?? 'other JS (node internals, promises, timers)'),
    );
  }
  return result;
}

/**
 * Microseconds of samples per kind and category (the main threads' alone), and per kind the
 * functions with the most samples, from every profile the apps' main threads wrote. V8 samples
 * by the wall clock, so a thread that waits for a core is still sampled busy: the shares are
 * what counts, scaled by the thread's CPU from /proc.
 */
function profiled(
  dir: string,
  windows: readonly Window[],
): { categories: Map<Kind, Map<string, number>>; functions: Map<Kind, Map<string, number>> } {
  const totals = new Map<Kind, Map<string, number>>([
    ['zipf', new Map()],
    ['hot', new Map()],
  ]);
  const functions = new Map<Kind, Map<string, number>>([
    ['zipf', new Map()],
    ['hot', new Map()],
  ]);
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'))) {
    // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile: thread 0 is the main thread.
    if (file.split('.')[4] !== '0') continue;
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
    const categories = categorize(profile);
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
    let at = profile.startTime;
    for (let i = 0; i < profile.samples.length; i++) {
      at += profile.timeDeltas[i] ?? 0;
      // A sample stands for the time until the next one.
      const weight = profile.timeDeltas[i + 1] ?? 0;
      const window = windows.find((w) => at >= w.startUs && at < w.endUs);
      if (window === undefined) continue;
      const category = categories.get(profile.samples[i] ?? -1) ?? 'unknown';
      const kind = totals.get(window.kind);
      kind?.set(category, (kind.get(category) ?? 0) + weight);
      const frame = nodes.get(profile.samples[i] ?? -1)?.callFrame;
      const where = `${frame?.functionName || '(anonymous)'} ${(frame?.url ?? '').replace(/^.*node_modules\//, '').replace(/^file:.*\/dist\//, 'app/')}`;
      const named = functions.get(window.kind);
      named?.set(where, (named.get(where) ?? 0) + weight);
    }
  }
  return { categories: totals, functions };
}

// --- perf: the whole machine by the CPU clock ----------------------------------------------

const PERF_HZ = 499;

/**
 * CPU µs a redirect by who spent it, from `perf record -a` files of one kind: the apps' event
 * loop split into the store's reads (SQLite's code and the kernel's page-cache copies it asks
 * for), the kernel's other work (sockets, scheduling) and the rest (JS, V8, libuv, the HTTP
 * parser); their other threads; PostgreSQL, nginx, wrk, everything else.
 */
function perfSplit(files: readonly string[], appPids: ReadonlySet<number>, requests: number): Map<string, number> {
  const samples = new Map<string, number>();
  for (const file of files) {
    const text = execFileSync('perf', ['script', '-i', file, '-F', 'comm,pid,tid,ip,sym,dso'], {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    for (const line of text.split('\n')) {
      const match = /^\s*(.*?)\s+(\d+)\/(\d+)\s+[0-9a-f]+\s+(.*?)\s*\((.*)\)\s*$/.exec(line);
      if (match === null) continue;
      const [, comm = '', pid = '', tid = '', symbol = '', dso = ''] = match;
      let group: string;
      if (comm === 'swapper') group = 'idle';
      else if (appPids.has(Number(pid))) {
        if (pid === tid) {
          const pageReads = dso.includes('kernel') && /filemap|_copy_to_iter|xas_load|vfs_read|ext4_file_read/.test(symbol);
          group =
            dso.includes('better-sqlite3') || pageReads
              ? 'event loop: store reads (SQLite code, page reads)'
              : dso.includes('kernel')
                ? 'event loop: kernel (sockets, scheduling)'
                : 'event loop: JS, V8, libuv, HTTP parser';
        } else if (comm === 'WorkerThread') group = 'visit writer thread';
        else if (comm.startsWith('v8:Prof')) group = 'profiler thread (the measurement)';
        else group = 'V8 helper threads (GC, compiler)';
      } else if (comm === 'postgres') group = 'PostgreSQL';
      else if (comm === 'nginx') group = 'nginx';
      else if (comm === 'wrk') group = 'wrk';
      else group = 'other processes';
      samples.set(group, (samples.get(group) ?? 0) + 1);
    }
  }
  return new Map([...samples].map(([group, count]) => [group, (count * 1e6) / PERF_HZ / Math.max(1, requests)]));
}

// --- the run ---------------------------------------------------------------------------------

interface KindTotals {
  requests: number;
  seconds: number;
  redirected: number;
  hits: number;
  misses: number;
  cpu: Map<string, number>;
  p99: number[];
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        store: { type: 'string' },
        links: { type: 'string' },
        visits: { type: 'string' },
        seed: { type: 'string' },
        seconds: { type: 'string' },
        turns: { type: 'string' },
        connections: { type: 'string' },
        'keep-profiles': { type: 'string' },
        top: { type: 'string' },
        perf: { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
  }
  if (values.help === true) throw new UsageError(USAGE, 0);
  if (typeof values.links !== 'string') throw new UsageError(`--links is needed\n\n${USAGE}`);
  const links = positive('links', values.links, 0);
  const plan: DatasetPlan = {
    links,
    visits: positive('visits', values.visits as string | undefined, links * 10),
    seed: positive('seed', values.seed as string | undefined, 1),
    endMs: DEFAULT_END_MS,
  };
  let spec: StoreSpec;
  try {
    spec = parseStoreSpec(typeof values.store === 'string' ? values.store : 'sqlite', plan);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const seconds = positive('seconds', values.seconds as string | undefined, 8);
  const turns = positive('turns', values.turns as string | undefined, 2);
  const connections = positive('connections', values.connections as string | undefined, 64);
  const top = values.top === undefined ? 0 : positive('top', values.top as string, 0);
  const perfDir = typeof values.perf === 'string' ? values.perf : undefined;
  if (perfDir !== undefined) mkdirSync(perfDir, { recursive: true });
  const kept = typeof values['keep-profiles'] === 'string' ? values['keep-profiles'] : undefined;

  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`${describeStore(spec)}, ${links.toLocaleString('en-US')} links; building app/dist`);
  const serverEntry = await compileApp();
  const dir = mkdtempSync(join(tmpdir(), 'linkyard-redirect-cost-'));
  const profiles = kept ?? join(dir, 'profiles');
  mkdirSync(profiles, { recursive: true });
  const key = nameKey(plan);
  const hotNames = Array.from({ length: Math.min(HOT_SET_SIZE, links) }, (_, i) => nameOf(key, indexOfRank(key, links, i + 1)));
  const scripts: Record<Kind, string> = { zipf: renderZipfScript(key, links), hot: renderNamesScript(hotNames) };
  const windows: Window[] = [];
  const totals = new Map<Kind, KindTotals>();
  let stack: Stack | undefined;
  const appPids = new Set<number>();
  try {
    // As bench:scale's apps, and profiled: every thread writes its profile when it ends.
    stack = await startScaleStack({
      spec,
      plan,
      dir,
      instances: 2,
      serverEntry,
      env: { API_TOKEN: 'redirect-cost', NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profiles} --cpu-prof-interval=500` },
    });
    const running = stack;
    // PostgreSQL builds the search index after start-up (decision 0022): not in what is measured.
    await searchReady(running.url, searchTerms(plan)[0]?.term ?? 'a', new Progress({ quiet: false }));
    const slice = (script: string) => runWrkScript({ url: running.url, connections, threads: 1, durationSeconds: seconds, script });
    out(`stack up; warm-up (hot set, ${seconds} s), then ${turns} turns of Zipf and hot set, ${seconds} s each`);
    await slice(scripts.hot);
    for (const pid of running.pids()) if (pid !== undefined) appPids.add(pid);
    out(`apps' pids (for perf report --pid): ${[...appPids].join(',')}`);
    for (let turn = 0; turn < turns; turn++) {
      for (const kind of ['zipf', 'hot'] as const) {
        const before = await cacheCounts(running.appUrls);
        const startUs = nowUs();
        // perf, if asked: the whole machine sampled by the CPU clock, for a split that no waiting thread inflates.
        const recorder =
          perfDir === undefined
            ? undefined
            : spawn(
                'perf',
                ['record', '-a', '-F', '499', '-o', join(perfDir, `${kind}-${turn + 1}.data`), '--', 'sleep', String(seconds)],
                {
                  stdio: 'ignore',
                },
              );
        const { result, seconds: cpu } = await cpuDuring(appPids, () => slice(scripts[kind]));
        if (recorder !== undefined && recorder.exitCode === null) await new Promise((resolve) => recorder.once('exit', resolve));
        windows.push({ kind, startUs, endUs: nowUs() });
        const after = await cacheCounts(running.appUrls);
        const sum: KindTotals = totals.get(kind) ?? { requests: 0, seconds: 0, redirected: 0, hits: 0, misses: 0, cpu: new Map(), p99: [] };
        sum.requests += result.requests;
        sum.seconds += result.durationSeconds;
        sum.redirected += result.statuses['303'] ?? 0;
        sum.hits += after.hits - before.hits;
        sum.misses += after.misses - before.misses;
        sum.p99.push(result.latency.p99);
        for (const [group, used] of cpu) sum.cpu.set(group, (sum.cpu.get(group) ?? 0) + used);
        totals.set(kind, sum);
        out(`  ${kind}: ${Math.round(result.rps)} req/s, p99 ${result.latency.p99.toFixed(1)} ms`);
      }
    }
  } finally {
    // The apps write their profiles as they exit.
    await stack?.stop();
  }
  const split = profiled(profiles, windows);
  const zipf = totals.get('zipf');
  const hot = totals.get('hot');
  if (zipf === undefined || hot === undefined) throw new Error('no turn ran');
  const rate = (t: KindTotals) => t.requests / t.seconds;
  out('');
  out(
    `Zipf / hot: ${(rate(zipf) / rate(hot)).toFixed(2)}× (${Math.round(rate(zipf))} / ${Math.round(rate(hot))} req/s), ` +
      `p99 ${zipf.p99.map((p) => p.toFixed(1)).join(', ')} / ${hot.p99.map((p) => p.toFixed(1)).join(', ')} ms, ` +
      `hit rate ${((100 * zipf.hits) / Math.max(1, zipf.hits + zipf.misses)).toFixed(0)} % / ${((100 * hot.hits) / Math.max(1, hot.hits + hot.misses)).toFixed(0)} %`,
  );
  const table = (title: string, rows: Map<string, number>[], scale: (kind: number, value: number) => number) => {
    out('');
    out(`| ${title} | Zipf, µs a redirect | hot set, µs a redirect |`);
    out('| --- | --- | --- |');
    const names = [...new Set(rows.flatMap((row) => [...row.keys()]))].sort(
      (a, b) => (rows[0]?.get(b) ?? 0) / zipf.requests - (rows[0]?.get(a) ?? 0) / zipf.requests,
    );
    let sums = [0, 0];
    for (const name of names) {
      const cells = rows.map((row, i) => scale(i, row.get(name) ?? 0));
      sums = sums.map((sum, i) => sum + (cells[i] ?? 0));
      out(`| ${name} | ${cells.map((cell) => cell.toFixed(1)).join(' | ')} |`);
    }
    out(`| all | ${sums.map((sum) => sum.toFixed(1)).join(' | ')} |`);
  };
  const requests = [zipf.requests, hot.requests];
  const perRedirect = (i: number, seconds: number) => (seconds * 1e6) / (requests[i] ?? 1);
  const machine = (t: KindTotals) =>
    new Map(
      [...t.cpu].reduce(
        (groups, [group, used]) => {
          const name = group.startsWith('app ') ? 'the apps' : group;
          const found = groups.find(([existing]) => existing === name);
          if (found) found[1] += used;
          else groups.push([name, used]);
          return groups;
        },
        [] as [string, number][],
      ),
    );
  table('the machine, by process', [machine(zipf), machine(hot)], perRedirect);
  const appThreads = (t: KindTotals) => new Map([...t.cpu].filter(([group]) => group.startsWith('app ')));
  table('the apps, by thread', [appThreads(zipf), appThreads(hot)], perRedirect);
  // The main thread's CPU (from /proc) shared out as its samples are; the writer thread is the flush.
  const mainThread = (kind: Kind, t: KindTotals): Map<string, number> => {
    const samples = [...(split.categories.get(kind) ?? new Map<string, number>())].filter(([category]) => category !== 'idle');
    const sampled = samples.reduce((sum, [, us]) => sum + us, 0);
    const cpu = t.cpu.get('app main thread') ?? 0;
    const rows = new Map(samples.map(([category, us]) => [category, (cpu * us) / Math.max(1, sampled)]));
    for (const [group, used] of t.cpu) if (group.startsWith('app ') && group !== 'app main thread') rows.set(group.slice(4), used);
    return rows;
  };
  table(
    'the apps, by what they do (main thread: its CPU shared as its --cpu-prof samples)',
    [mainThread('zipf', zipf), mainThread('hot', hot)],
    perRedirect,
  );
  if (perfDir !== undefined) {
    const files = (kind: Kind) =>
      readdirSync(perfDir)
        .filter((name) => name.startsWith(`${kind}-`) && name.endsWith('.data'))
        .map((name) => join(perfDir, name));
    const identity = (_i: number, us: number) => us;
    table(
      'the machine by the CPU clock (perf -a)',
      [perfSplit(files('zipf'), appPids, zipf.requests), perfSplit(files('hot'), appPids, hot.requests)],
      identity,
    );
  }
  if (top > 0) {
    for (const kind of ['zipf', 'hot'] as const) {
      const named = [...(split.functions.get(kind) ?? new Map<string, number>())].filter(([name]) => !name.startsWith('(idle)'));
      const sampled = named.reduce((sum, [, us]) => sum + us, 0);
      out('');
      out(`${kind}: the main threads' ${top} functions with the most samples (self), % of their busy samples`);
      for (const [name, us] of named.sort((a, b) => b[1] - a[1]).slice(0, top)) out(`  ${((100 * us) / sampled).toFixed(1)} %  ${name}`);
    }
  }
  if (kept === undefined) rmSync(dir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    (error.exitCode === 0 ? process.stdout : process.stderr).write(`${error.message}\n`);
    process.exit(error.exitCode);
  }
  console.error(error);
  process.exit(1);
});
