import { spawn } from 'node:child_process';
import { accessSync, constants, createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { LOAD_STARTS } from '../../k6/lib/load-starts.ts';
import type { Progress } from './progress.ts';

/** The k6 scripts: one scenario per file (see k6/README.md). */
export const K6_DIR = new URL('../../k6/', import.meta.url).pathname;

export type K6Scenario = 'in-flight' | 'cache-savings' | 'redirects' | 'rolling-restart' | 'creations' | 'slow-checks' | 'stats';

export function k6Script(scenario: K6Scenario): string {
  return join(K6_DIR, `${scenario}.ts`);
}

/** k6 to run: K6_BIN, else the first `k6` on the PATH; undefined when there is none. */
export function findK6(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = env.K6_BIN
    ? [env.K6_BIN]
    : (env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, 'k6'));
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export class K6MissingError extends Error {
  constructor() {
    super("k6 was not found: put it on the PATH or set K6_BIN (this repository's .ci/run uses ../shared/tools/k6/k6; see k6/README.md)");
  }
}

/** k6's exit code when thresholds were crossed: the run ended, and handleSummary wrote its answer. */
export const K6_THRESHOLDS_FAILED = 99;

/**
 * How k6 reaches an HTTPS stack. k6 is Go: it trusts the roots in SSL_CERT_FILE instead of the
 * system's (crypto/x509 on Unix), and offers HTTP/2 by ALPN unless GODEBUG=http2client=0 (checked
 * with k6 v2.2.0). Plain http:// is HTTP/1.1 either way: k6 never speaks HTTP/2 without TLS.
 */
export interface K6Client {
  /** A CA certificate (PEM) k6 trusts, and nothing else: a stack's test CA. */
  caFile?: string | undefined;
  /** HTTP/1.1 over TLS too (no h2 in ALPN). */
  http1?: boolean | undefined;
}

/** The environment of the k6 process (not the script's __ENV) for a K6Client. */
export function k6ClientEnv(client: K6Client): Record<string, string> {
  return {
    ...(client.caFile !== undefined && { SSL_CERT_FILE: client.caFile }),
    ...(client.http1 === true && { GODEBUG: 'http2client=0' }),
  };
}

export interface K6RunOptions {
  scenario: K6Scenario;
  /** Passed with -e, so the script sees these and nothing else from this process's environment. */
  env: Readonly<Record<string, string>>;
  /** Where handleSummary writes `<answer>.json` and `.txt` (RESULTS_DIR). */
  resultsDir: string;
  /** k6 `--out json=`: one line per metric sample, every request included. */
  outJson?: string;
  /** Each line k6 prints (progress and its summary), as it comes. */
  onLine?: (line: string) => void;
  /** k6 is killed after this long; a scenario's own duration and setup must fit. */
  timeoutMs: number;
  /** Over HTTPS: the CA k6 trusts, and HTTP/2 or HTTP/1.1. */
  client?: K6Client | undefined;
}

export interface K6Run {
  exitCode: number;
  /** The thresholds, i.e. the scenario's goal: met (exit 0) or missed (exit 99). */
  thresholdsMet: boolean;
  output: string;
}

/** A k6 run under way. */
export interface RunningK6 {
  /** Resolves when the script logs LOAD_STARTS (end of setup); rejects if k6 ends first. */
  loadStarts: Promise<void>;
  /** As runK6. */
  done: Promise<K6Run>;
}

/**
 * Runs one k6 scenario to its end. Resolves for exit 0 and 99 (thresholds missed: the service
 * missed its goal, and the answer is still written); rejects for anything else (a script error,
 * setup refusing a service that is not ready, a timeout) with k6's last lines.
 */
export function runK6(options: K6RunOptions): Promise<K6Run> {
  const { done, loadStarts } = startK6(options);
  loadStarts.catch(() => {});
  return done;
}

/** Starts one k6 scenario: for load run beside other load, which waits for `loadStarts`. */
export function startK6(options: K6RunOptions): RunningK6 {
  const k6 = findK6();
  if (k6 === undefined) throw new K6MissingError();
  // Only the -e variables reach the script's __ENV: a RATE or NAMES left in the shell must not.
  const args = ['run', '--no-usage-report', '--no-color', '--include-system-env-vars=false'];
  for (const [name, value] of Object.entries({ ...options.env, RESULTS_DIR: options.resultsDir })) args.push('-e', `${name}=${value}`);
  if (options.outJson !== undefined) args.push('--out', `json=${options.outJson}`);
  args.push(k6Script(options.scenario));
  const child = spawn(k6, args, {
    // A k6/x/ import would otherwise make k6 try to download a build of itself.
    env: { ...process.env, K6_AUTO_EXTENSION_RESOLUTION: 'false', K6_NO_USAGE_REPORT: 'true', ...k6ClientEnv(options.client ?? {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let markLoadStarted = (): void => {};
  const loadStarts = new Promise<void>((resolve) => {
    markLoadStarted = resolve;
  });
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      if (line.includes(LOAD_STARTS)) markLoadStarted();
      options.onLine?.(line);
    });
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
  const done = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  })
    .finally(() => clearTimeout(timer))
    .then((exitCode) => {
      const output = lines.join('\n');
      if (exitCode !== 0 && exitCode !== K6_THRESHOLDS_FAILED) {
        throw new Error(`k6 run ${options.scenario}.ts exited ${exitCode}:\n${lines.slice(-15).join('\n')}`);
      }
      return { exitCode, thresholdsMet: exitCode === 0, output };
    });
  return {
    loadStarts: Promise.race([
      loadStarts,
      done.then(() => {
        throw new Error(`k6 run ${options.scenario}.ts ended without logging '${LOAD_STARTS}'`);
      }),
    ]),
    done,
  };
}

/** What a scenario's handleSummary wrote as `<answer>.json` (k6/lib/summary.ts). */
export interface K6Answer<Result> {
  scenario: string;
  result: Result;
  summary: { metrics: Record<string, { values: Record<string, number> } | undefined> };
}

export function readAnswer<Result>(resultsDir: string, answer: string): K6Answer<Result> {
  return JSON.parse(readFileSync(join(resultsDir, `${answer}.json`), 'utf8')) as K6Answer<Result>;
}

/** One HTTP request k6 made, from its `http_req_duration` sample. */
export interface K6Request {
  /** Epoch milliseconds the answer was received (k6 stamps the sample then). */
  end: number;
  durationMs: number;
  /** 0 when no answer came. */
  status: number;
  /** The request's `name` tag (the URL unless the script named it). */
  name: string;
  /** Empty for setup() and teardown(). */
  scenario: string;
}

interface JsonPoint {
  metric: string;
  type: string;
  data: { time: string; value: number; tags?: Record<string, string> };
}

/** k6's RFC 3339 times carry nanoseconds; Date.parse would keep milliseconds, and a redirect takes one. */
export function epochMs(time: string): number {
  const match = /^(.*?)(?:\.(\d+))?Z$/.exec(time);
  if (match === null) throw new Error(`not a UTC time: '${time}'`);
  return Date.parse(`${match[1]}Z`) + Number(`0.${match[2] ?? '0'}`) * 1000;
}

/** Every request in a `--out json` file, in the order k6 wrote them. */
export async function readRequests(path: string): Promise<K6Request[]> {
  const requests: K6Request[] = [];
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    // Most lines are other metrics of the same requests: skip them before parsing.
    if (!line.includes('"metric":"http_req_duration","type":"Point"')) continue;
    const point = JSON.parse(line) as JsonPoint;
    const tags = point.data.tags ?? {};
    requests.push({
      end: epochMs(point.data.time),
      durationMs: point.data.value,
      status: Number(tags.status ?? 0),
      name: tags.name ?? '',
      scenario: tags.scenario ?? '',
    });
  }
  return requests;
}

export interface K6ScenarioRun<Result> {
  k6: Pick<K6Run, 'exitCode' | 'thresholdsMet'>;
  /** The script's own answer (handleSummary's JSON). */
  answer: K6Answer<Result>;
  /** Every request k6 made, setup()'s included (their `scenario` is empty). */
  requests: K6Request[];
}

export interface RunningK6Scenario<Result> {
  /** The script's setup() is done and its load starts (scripts that call announceLoadStarts). */
  loadStarts: Promise<void>;
  finished: Promise<K6ScenarioRun<Result>>;
}

/**
 * Runs one k6 scenario for the harness: its answer and its per-request record go to a temp folder
 * that is removed afterwards; k6's progress lines (one a second) and its warnings go to the
 * progress output. `seconds` is how long the load lasts, for the timeout.
 */
export function startK6Scenario<Result>(
  scenario: K6Scenario,
  env: Readonly<Record<string, string>>,
  seconds: number,
  progress: Progress,
  answerName: string = scenario,
  client: K6Client = {},
): RunningK6Scenario<Result> {
  const dir = mkdtempSync(join(tmpdir(), `linkyard-k6-${scenario}-`));
  const outJson = join(dir, 'requests.ndjson');
  let running: RunningK6;
  try {
    running = startK6({
      scenario,
      env,
      resultsDir: dir,
      outJson,
      timeoutMs: (seconds + 120) * 1000,
      client,
      onLine: (line) => {
        if (line.startsWith('running (') || line.includes('level=')) progress.log(`k6 | ${line}`);
      },
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const finished = (async () => {
    try {
      const run = await running.done;
      return {
        k6: { exitCode: run.exitCode, thresholdsMet: run.thresholdsMet },
        answer: readAnswer<Result>(dir, answerName),
        requests: await readRequests(outJson),
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return { loadStarts: running.loadStarts, finished };
}

/** startK6Scenario, run to its end. */
export function k6Scenario<Result>(
  scenario: K6Scenario,
  env: Readonly<Record<string, string>>,
  seconds: number,
  progress: Progress,
  answerName: string = scenario,
  client: K6Client = {},
): Promise<K6ScenarioRun<Result>> {
  const { loadStarts, finished } = startK6Scenario<Result>(scenario, env, seconds, progress, answerName, client);
  loadStarts.catch(() => {});
  return finished;
}
