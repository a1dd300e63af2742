import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { writeNginxConfig } from '../../../stack/src/nginx-config.ts';
import { findNginx, workerFileLimit } from '../../../stack/src/nginx-process.ts';
import { freePorts } from '../../../stack/src/ports.ts';
import { probeStatus, waitFor } from '../../../stack/src/wait.ts';
import type { LoadResult } from '../analysis/latency.ts';
import { runWrkScript } from '../bench/load/wrk.ts';
import { rssBytes } from '../observers/peak-rss.ts';
import { establishedTo, nginxPids } from '../scale/probes.ts';
import { renderNamesScript } from '../scale/zipf-lua.ts';
import { positive, UsageError } from './arguments.ts';

const USAGE = `node loadtest/src/cli/connection-ceiling.ts [--levels 64,1000,10000] [--seconds S] [--rounds N]
  [--backends N] [--proxy DIR] [--listen PARAMS]

Where throughput goes as keep-alive clients grow (issue 25, decision 0021), without the app: wrk
(2 threads) against the shipped nginx configuration (proxy/, as the native stack renders it, or
--proxy DIR's nginx.conf and snippets/ to try a change, --listen's parameters added to the listen
directive, e.g. 'backlog=4096 reuseport') at each level, first on a location that
answers 204 itself (wrk and nginx alone), then through the shipped upstream and proxy snippets to
--backends (default 2) trivial Node HTTP servers with the app's keep-alive timeouts, answering a
303 as a redirect does. Per level: req/s, p99, failures (not 2xx/3xx, or a socket error), the ratio
to the first level, CPU microseconds a request spent in nginx, the backends, wrk, the kernel's
softirqs (loopback's packets; partly inside the processes' own time too, so "other" can go
below 0) and anything else on the host, nginx's and the backends' peak RSS,
the backends' connections (most at once, and how many were opened), each nginx worker's
descriptors, and nginx's error-log lines. --rounds (default 2) repeats the levels. Traffic
to 127.0.0.1 only; wrk's file limit is raised for it alone. Defaults: --seconds 5.
`;

/** The apps' keep-alive timeouts and listen backlog (app/src/app.ts, server.ts), so Node's per-socket timers and queue are the app's. */
const BACKEND = `
const http = require('node:http');
let opened = 0;
const server = http.createServer({ keepAliveTimeout: 75000, requestTimeout: 90000 }, (req, res) => {
  if (req.url === '/opened') return res.end(String(opened));
  res.writeHead(303, { location: 'http://127.0.0.1/elsewhere', 'content-length': '0' });
  res.end();
});
server.on('connection', () => opened++);
server.headersTimeout = 80000;
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => process.stdout.write(server.address().port + '\\n'));
`;

interface Backend {
  child: ChildProcess;
  port: number;
}

function startBackend(): Promise<Backend> {
  const child = spawn(process.execPath, ['-e', BACKEND], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolvePort, reject) => {
    child.once('exit', (code) => reject(new Error(`backend exited with ${code}`)));
    child.stdout?.once('data', (chunk: Buffer) => resolvePort({ child, port: Number(chunk.toString().trim()) }));
  });
}

/** A process's user + system CPU in seconds (/proc/<pid>/stat, clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Busy CPU seconds of the whole host (/proc/stat: everything but idle and iowait), and the softirqs' part (loopback's packets). */
function hostSeconds(): { busy: number; softirq: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((sum, value) => sum + value, 0);
  return { busy: (total - (fields[3] ?? 0) - (fields[4] ?? 0)) / 100, softirq: (fields[6] ?? 0) / 100 };
}

/** CPU seconds of this process's children that have exited and been reaped: wrk, once a run is over. */
function reapedChildrenSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

/** The kernel's count of connections dropped because a listen queue was full (TcpExt ListenOverflows), host-wide. */
function listenOverflows(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
  const names = lines.find((text) => text.startsWith('TcpExt:'))?.split(' ') ?? [];
  const values = lines.filter((text) => text.startsWith('TcpExt:'))[1]?.split(' ') ?? [];
  return Number(values[names.indexOf('ListenOverflows')] ?? 0);
}

/** Connections the backends have accepted since they started. */
async function opened(backends: readonly Backend[]): Promise<number> {
  let total = 0;
  for (const { port } of backends) total += Number(await (await fetch(`http://127.0.0.1:${port}/opened`)).text());
  return total;
}

function descriptors(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

interface Measured {
  load: LoadResult;
  failures: number;
  cpuUs: { nginx: number; backends: number; wrk: number; softirq: number; sampler: number; other: number };
  /** Connections the backends accepted during the run: nginx's upstream connections opened, not reused. */
  opened: number;
  /** Lines nginx wrote to its error log during the run (a connect timeout to a backend, say). */
  errorLines: number;
  /** Connections the kernel dropped during the run because a listen queue (nginx's, a backend's) was full. */
  overflows: number;
  peak: { nginxRss: number; backendsRss: number; upstream: number; workerFds: number[] };
}

/** nginx's error-log lines so far; the first few of each run are printed. */
const errorLog = { lines: 0, shown: 0 };

async function measure(
  url: string,
  path: string,
  connections: number,
  seconds: number,
  nginx: () => number[],
  backends: readonly Backend[],
): Promise<Measured> {
  const errorsBefore = errorLog.lines;
  errorLog.shown = 0;
  const backendPids = backends.map(({ child }) => child.pid ?? 0);
  const ports = new Set(backends.map(({ port }) => port));
  const peak = { nginxRss: 0, backendsRss: 0, upstream: 0, workerFds: [] as number[] };
  const sum = (pids: readonly number[], read: (pid: number) => number) => pids.reduce((total, pid) => total + read(pid), 0);
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const pids = nginx();
      peak.nginxRss = Math.max(
        peak.nginxRss,
        sum(pids, (pid) => rssBytes(pid) ?? 0),
      );
      peak.backendsRss = Math.max(
        peak.backendsRss,
        sum(backendPids, (pid) => rssBytes(pid) ?? 0),
      );
      peak.upstream = Math.max(peak.upstream, establishedTo(ports));
      const fds = pids.slice(1).map(descriptors);
      if (sum(fds, (count) => count) > sum(peak.workerFds, (count) => count)) peak.workerFds = fds;
      await sleep(1000);
    }
  })();
  const openedBefore = await opened(backends);
  const overflowsBefore = listenOverflows();
  const before = {
    nginx: sum(nginx(), cpuSeconds),
    backends: sum(backendPids, cpuSeconds),
    wrk: reapedChildrenSeconds(),
    self: process.cpuUsage(),
    host: hostSeconds(),
  };
  let load: LoadResult;
  try {
    load = await runWrkScript({
      url,
      connections,
      threads: 2,
      durationSeconds: seconds,
      script: renderNamesScript([path]),
      fileLimit: connections + 1024,
    });
  } finally {
    sampling = false;
    await sampler;
  }
  const spent = {
    nginx: sum(nginx(), cpuSeconds) - before.nginx,
    backends: sum(backendPids, cpuSeconds) - before.backends,
    wrk: reapedChildrenSeconds() - before.wrk,
    self: process.cpuUsage(before.self),
    host: hostSeconds(),
  };
  // This process: the sampler reading /proc (tens of thousands of sockets at the top level).
  const samplerSeconds = (spent.self.user + spent.self.system) / 1e6;
  const softirq = spent.host.softirq - before.host.softirq;
  const busy = spent.host.busy - before.host.busy;
  const perRequest = (cpu: number) => (cpu * 1e6) / Math.max(1, load.requests);
  const answered = Object.entries(load.statuses).reduce((total, [status, count]) => total + (Number(status) < 400 ? count : 0), 0);
  return {
    load,
    failures: load.requests - answered + load.errors,
    cpuUs: {
      nginx: perRequest(spent.nginx),
      backends: perRequest(spent.backends),
      wrk: perRequest(spent.wrk),
      softirq: perRequest(softirq),
      sampler: perRequest(samplerSeconds),
      other: perRequest(busy - spent.nginx - spent.backends - spent.wrk - softirq - samplerSeconds),
    },
    opened: (await opened(backends)) - openedBefore,
    errorLines: errorLog.lines - errorsBefore,
    overflows: listenOverflows() - overflowsBefore,
    peak,
  };
}

const MIB = 1024 * 1024;

function line(leg: string, connections: number, measured: Measured, base: number | undefined): string {
  const { load, cpuUs, peak } = measured;
  const ratio = base === undefined ? '' : ` (${(load.rps / base).toFixed(2)}×)`;
  return [
    `${leg.padEnd(8)} ${String(connections).padStart(6)}: ${Math.round(load.rps).toLocaleString('en-US')} req/s${ratio}`,
    `p99 ${load.latency.p99.toFixed(1)} ms`,
    `failed ${measured.failures}`,
    `CPU µs/request nginx ${cpuUs.nginx.toFixed(0)}, backends ${cpuUs.backends.toFixed(0)}, wrk ${cpuUs.wrk.toFixed(0)}, softirq ${cpuUs.softirq.toFixed(0)}, sampler ${cpuUs.sampler.toFixed(0)}, other ${cpuUs.other.toFixed(0)}`,
    `RSS nginx ${(peak.nginxRss / MIB).toFixed(0)} MiB, backends ${(peak.backendsRss / MIB).toFixed(0)} MiB`,
    `upstream ${peak.upstream}, opened ${measured.opened}`,
    `worker fds ${peak.workerFds.join('/')}`,
    `nginx error lines ${measured.errorLines}`,
    `listen queue overflows ${measured.overflows}`,
  ].join(', ');
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      levels: { type: 'string' },
      seconds: { type: 'string' },
      rounds: { type: 'string' },
      backends: { type: 'string' },
      proxy: { type: 'string' },
      listen: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) throw new UsageError(USAGE, 0);
  const levels = (values.levels ?? '64,1000,10000').split(',').map((part) => Math.round(positive('levels', part, 1)));
  const seconds = positive('seconds', values.seconds, 5);
  const rounds = Math.round(positive('rounds', values.rounds, 2));
  const backendCount = Math.round(positive('backends', values.backends, 2));
  const prefix = mkdtempSync(join(tmpdir(), 'linkyard-connections-'));
  const backends: Backend[] = [];
  let nginx: ChildProcess | undefined;
  try {
    for (let i = 0; i < backendCount; i++) backends.push(await startBackend());
    const [port] = await freePorts(1);
    if (port === undefined) throw new Error('no free port for nginx');
    const conf = writeNginxConfig({
      prefix,
      host: '127.0.0.1',
      port,
      upstreams: backends.map(({ port: backendPort }) => ({ port: backendPort })),
      staticRoot: prefix,
      rateLimit: '100000r/s',
      accessLog: false,
      workerFileLimit: workerFileLimit().limit,
    });
    if (values.proxy !== undefined) {
      for (const entry of ['nginx.conf', 'snippets'])
        cpSync(join(resolve(values.proxy), entry), join(prefix, 'conf', entry), { recursive: true, force: true });
    }
    const serverConf = join(prefix, 'conf', 'env', 'server.conf');
    if (values.listen !== undefined) {
      writeFileSync(serverConf, readFileSync(serverConf, 'utf8').replace(/^(listen [^;]+)/m, `$1 ${values.listen}`));
    }
    // nginx answering alone: the same server block, a location of its own.
    appendFileSync(serverConf, 'location = /alone { return 204; }\n');
    nginx = spawn(findNginx(), ['-p', prefix, '-c', conf, '-e', 'stderr', '-g', 'daemon off;'], {
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    createInterface({ input: nginx.stderr as Readable }).on('line', (text) => {
      errorLog.lines++;
      if (errorLog.shown++ < 3) console.log(`  nginx: ${text}`);
    });
    const base = `http://127.0.0.1:${port}`;
    await waitFor('nginx to answer', async () => (await probeStatus(`${base}/alone`)) === 204, { timeoutMs: 10_000 });
    const pids = () => nginxPids(join(prefix, 'nginx.pid'));
    for (let round = 1; round <= rounds; round++) {
      console.log(`round ${round}`);
      for (const [leg, path] of [
        ['alone', 'alone'],
        ['proxied', 'r'],
      ] as const) {
        let first: number | undefined;
        for (const connections of levels) {
          const measured = await measure(base, path, connections, seconds, pids, backends);
          console.log(line(leg, connections, measured, first));
          first ??= measured.load.rps;
        }
      }
    }
  } finally {
    nginx?.kill('SIGQUIT');
    if (nginx !== undefined && nginx.exitCode === null) await new Promise((done) => nginx?.once('exit', done));
    for (const { child } of backends) child.kill();
    rmSync(prefix, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) {
    (error.exitCode === 0 ? console.log : console.error)(error.message);
    process.exit(error.exitCode);
  }
  console.error(error);
  process.exit(1);
});
