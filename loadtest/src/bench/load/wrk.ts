import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addCounts, type LoadResult, median } from '../../analysis/latency.ts';

/** One wrk run (or slices of runs combined). */
export type WrkResult = LoadResult;

/**
 * The bench's load generator: wrk, one thread, closed loop (each connection sends its next request
 * when the last is answered). The bench asks what
 * nginx and the apps can do; a generator in Node tops out near 55 000 req/s on one core here and
 * so hid the proxy's ceiling (158 000 with wrk) and added its own event loop to every latency.
 * wrk's Lua hooks count every status; its histogram keeps microseconds.
 */
export interface WrkRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Readonly<Record<string, string>>;
  /** `{n}` in the body becomes a number unique within the run (new names for creations). */
  body?: string;
}

export interface WrkOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  /** Cycled through in order. */
  requests: readonly WrkRequest[];
}

/** What wrk's done() hook prints: counts, microseconds, and the status of every answer. */
interface WrkReport {
  requests: number;
  durationUs: number;
  latencyUs: { mean: number; p50: number; p90: number; p99: number; max: number };
  errors: { connect: number; read: number; write: number; timeout: number };
  statuses: Record<string, number>;
}

/** How long wrk runs when asked for `seconds`: whole seconds, at least one. */
export function wrkSeconds(seconds: number): number {
  return Math.max(1, Math.round(seconds));
}

const REPORT_MARK = 'wrk-report ';
/** Makes `{n}` unique across runs too (a warm-up and its measurement, say). */
let runs = 0;
const REQUEST_TIMEOUT = '10s';

/** A Lua string literal; the bench only sends printable ASCII, and anything else is a mistake. */
export function luaString(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value)) throw new Error(`not printable ASCII: ${JSON.stringify(value)}`);
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * wrk's setup, response and done hooks every script of the harness ends with: each status counted
 * per thread, merged at the end into one JSON line (parseWrkReport). A script that defines its
 * own setup() must call `table.insert(threads, thread)` in it.
 */
export const WRK_REPORT_HOOKS = `local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function response(status)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(merged) do
    table.insert(parts, string.format('"%d": %d', status, count))
  end
  local e = summary.errors
  io.write(string.format(
    '${REPORT_MARK}{"requests": %d, "durationUs": %d, ' ..
    '"latencyUs": {"mean": %f, "p50": %d, "p90": %d, "p99": %d, "max": %d}, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, "statuses": {%s}}\\n',
    summary.requests, summary.duration,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, table.concat(parts, ", ")))
end
`;

/** The Lua script for one run: the requests as a table, status counts, a JSON report at the end. */
export function renderWrkScript(requests: readonly WrkRequest[]): string {
  if (requests.length === 0) throw new Error('nothing to send');
  const entries = requests.map((request) => {
    const headers = Object.entries(request.headers ?? {}).map(([name, value]) => `[${luaString(name)}] = ${luaString(value)}`);
    const body = request.body === undefined ? 'nil' : luaString(request.body);
    return `  { method = ${luaString(request.method)}, path = ${luaString(request.path)}, headers = { ${headers.join(', ')} }, body = ${body} },`;
  });
  return `-- Rendered by loadtest/src/bench/load/wrk.ts for one run.
local requests = {
${entries.join('\n')}
}
local next_index = 0
local sent = 0
local run_tag = ""
statuses = {}

function init(args)
  run_tag = args[1] or ""
end

function request()
  local r = requests[next_index % #requests + 1]
  next_index = next_index + 1
  local body = r.body
  if body ~= nil then
    sent = sent + 1
    body = body:gsub("{n}", run_tag .. "-" .. sent)
  end
  return wrk.format(r.method, r.path, r.headers, body)
end

${WRK_REPORT_HOOKS}`;
}

export function parseWrkReport(stdout: string): WrkReport {
  const line = stdout.split('\n').find((candidate) => candidate.startsWith(REPORT_MARK));
  if (line === undefined) throw new Error(`wrk printed no report:\n${stdout}`);
  return JSON.parse(line.slice(REPORT_MARK.length)) as WrkReport;
}

export async function wrk(options: WrkOptions): Promise<WrkResult> {
  return runWrkScript({ ...options, threads: 1, script: renderWrkScript(options.requests) });
}

export interface WrkScriptOptions {
  url: string;
  connections: number;
  threads: number;
  durationSeconds: number;
  /** Lua ending with WRK_REPORT_HOOKS; its init() gets a tag unique to the run as args[1]. */
  script: string;
  /**
   * Descriptors wrk may open (`ulimit -n`, set in a shell that then runs wrk): a connection each,
   * so thousands of connections need more than the usual soft limit of 1024.
   */
  fileLimit?: number | undefined;
}

/** One wrk run of a Lua script; the script's report parsed. */
export async function runWrkScript(options: WrkScriptOptions): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), 'linkyard-wrk-'));
  const script = join(dir, 'run.lua');
  try {
    writeFileSync(script, options.script);
    const args = [
      '--threads',
      String(options.threads),
      '--connections',
      String(options.connections),
      '--duration',
      `${wrkSeconds(options.durationSeconds)}s`,
      '--timeout',
      REQUEST_TIMEOUT,
      '--script',
      script,
      options.url,
      '--',
      `${Date.now().toString(36)}${(runs++).toString(36)}`,
    ];
    const stdout =
      options.fileLimit === undefined
        ? await run('wrk', args)
        : // "$@" keeps every argument as it is; exec leaves no shell behind.
          await run('sh', ['-c', `ulimit -n ${options.fileLimit} && exec wrk "$@"`, 'wrk', ...args]);
    const report = parseWrkReport(stdout);
    const ms = (us: number) => us / 1000;
    const durationSeconds = report.durationUs / 1e6;
    const { connect, read, write, timeout } = report.errors;
    return {
      requests: report.requests,
      durationSeconds,
      rps: report.requests / durationSeconds,
      latency: {
        count: report.requests,
        mean: ms(report.latencyUs.mean),
        p50: ms(report.latencyUs.p50),
        p90: ms(report.latencyUs.p90),
        p99: ms(report.latencyUs.p99),
        max: ms(report.latencyUs.max),
      },
      statuses: report.statuses,
      errors: connect + read + write + timeout,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'ENOENT' ? new Error('wrk is not installed: apt-get install wrk') : error),
    );
    child.once('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`wrk exited with ${code}: ${stderr}${stdout}`))));
  });
}

/**
 * One leg from several wrk runs back to back. Counts add up; p50, p90 and p99 are the median of
 * the runs' own: the p99 of one long run is decided by its worst few hundred milliseconds, and one
 * stall there (a task that had the core, a major GC) moved it by half from run to run; the
 * median of five slices is not moved by one bad one. max stays the worst of all.
 */
export function combineSlices(slices: readonly WrkResult[]): WrkResult {
  if (slices.length === 0) throw new Error('no slices to combine');
  const sum = (pick: (slice: WrkResult) => number) => slices.reduce((total, slice) => total + pick(slice), 0);
  const middle = (pick: (slice: WrkResult) => number) => median(slices.map(pick));
  const requests = sum((slice) => slice.requests);
  const durationSeconds = sum((slice) => slice.durationSeconds);
  const statuses = addCounts(slices.map((slice) => slice.statuses));
  return {
    requests,
    durationSeconds,
    rps: requests / durationSeconds,
    latency: {
      count: sum((slice) => slice.latency.count),
      mean:
        sum((slice) => slice.latency.mean * slice.latency.count) /
        Math.max(
          1,
          sum((slice) => slice.latency.count),
        ),
      p50: middle((slice) => slice.latency.p50),
      p90: middle((slice) => slice.latency.p90),
      p99: middle((slice) => slice.latency.p99),
      max: Math.max(...slices.map((slice) => slice.latency.max)),
    },
    statuses,
    errors: sum((slice) => slice.errors),
  };
}
