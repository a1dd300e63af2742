import { type ChildProcess, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { findExecutable } from './executables.ts';
import { type LineSink, pipeLines } from './output.ts';
import { pipedOutput, spawnInOwnGroup } from './process-group.ts';
import { probeStatus, waitFor } from './wait.ts';

/**
 * The app's server module from its sources, run by type stripping: what tests and load tests
 * start. `npm start` runs the build's instead (DIST_SERVER_ENTRY, build.ts).
 */
export const SERVER_ENTRY = fileURLToPath(new URL('../../app/src/server.ts', import.meta.url));

/**
 * V8 flags an app process runs with, here, in package.json's `app` script and in the Dockerfile's
 * CMD (app/test/server.test.ts holds the three to the same list): a small nursery and a modest
 * old-generation limit keep peak RSS down; the rest stop allocation patterns, the check thread's
 * cold compilations and V8's helper threads from costing memory or other processes' cores.
 * Why each flag, and the figures: docs/decisions/0003-v8-flags-for-app-processes.md
 */
export const APP_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=4',
  '--max-old-space-size=128',
  '--no-allocation-site-pretenuring',
  '--no-maglev',
  '--no-wasm-loop-unrolling',
  '--no-parallel-scavenge',
];

/**
 * The scheduling policy an app process runs under, here and in the Dockerfile's CMD
 * (test/compose/dockerfile.test.ts holds the two equal): SCHED_BATCH, so a woken app waits for the
 * running nginx worker to block or use up its slice instead of preempting it mid-batch. `chrt`
 * execs node: the process keeps its pid, and all its threads the policy.
 * Why and the figures: docs/decisions/0001-app-processes-under-sched-batch.md
 */
export const APP_SCHEDULING: readonly string[] = ['chrt', '--batch', '0'];

/** APP_SCHEDULING with chrt's path, or nothing where it cannot be set; found on first use. */
let scheduling: readonly string[] | undefined;

/**
 * What an app process is started with: node, its flags and `entry`, under APP_SCHEDULING where
 * chrt can set it (Linux with util-linux); elsewhere (macOS, say) node alone.
 */
function appCommand(entry: string): { file: string; args: string[] } {
  scheduling ??= findScheduling();
  const node = [...APP_NODE_FLAGS, entry];
  const [chrt, ...policy] = scheduling;
  return chrt === undefined ? { file: process.execPath, args: node } : { file: chrt, args: [...policy, process.execPath, ...node] };
}

function findScheduling(): readonly string[] {
  const [name = 'chrt', ...policy] = APP_SCHEDULING;
  const chrt = findExecutable(name, process.env);
  if (chrt === undefined) return [];
  // A system may have chrt and refuse the policy (a container's seccomp profile, say): tried once.
  const tried = spawnSync(chrt, [...policy, process.execPath, '-e', ''], { stdio: 'ignore', timeout: 10_000 });
  return tried.status === 0 ? [chrt, ...policy] : [];
}

/**
 * glibc's malloc, as an app process starts with it (here and in the Dockerfile's ENV; it is read
 * once, at start-up, so it cannot be set from inside): two arenas instead of up to 8 per core, and
 * mmap and trim thresholds fixed at 128 KiB, so what threads free goes back to the system instead
 * of staying in glibc's arenas. An operator's own values in the environment win.
 * Why and the figures: docs/decisions/0017-glibc-malloc-settings.md
 */
export const APP_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_TRIM_THRESHOLD_: '131072',
};

const READY_TIMEOUT_MS = 30_000;
/** The app drains for up to SHUTDOWN_TIMEOUT_MS (10 s by default) before closing itself. */
const EXIT_TIMEOUT_MS = 20_000;
/** A process that ran this long before dying is restarted at once again, not after a long backoff. */
const STABLE_AFTER_MS = 10_000;
const MAX_BACKOFF_MS = 5_000;

export interface AppProcessOptions {
  /** `app1`: the tag on its log lines. */
  name: string;
  port: number;
  /** The whole environment of the process (PORT included). */
  env: NodeJS.ProcessEnv;
  log: LineSink;
  /** The server module to run. Default SERVER_ENTRY (the sources); the launcher and the bench run the build's. */
  entry?: string | undefined;
}

/**
 * One app process, supervised: once started, a process that exits without being asked to
 * (crash, kill -9) is started again on the same port, after a backoff that grows while it keeps
 * dying. nginx routes around it meanwhile.
 */
export class AppProcess {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #log: LineSink;
  readonly #entry: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #ready = false;
  /** Restart it when it dies: true from a successful start() until stop(). */
  #supervised = false;
  #failures = 0;
  #readyAt = 0;
  #restartTimer: NodeJS.Timeout | undefined;

  constructor({ name, port, env, log, entry }: AppProcessOptions) {
    this.#entry = entry ?? SERVER_ENTRY;
    this.name = name;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.#env = env;
    this.#log = log;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Running and answered /readyz with 200. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Starts the process and resolves once it is ready; rejects (leaving nothing running) if it is not. */
  async start(): Promise<void> {
    clearTimeout(this.#restartTimer);
    await this.#launch();
    this.#supervised = true;
  }

  /** SIGTERM: the app turns /readyz to 503, finishes requests in flight and exits. */
  async stop(): Promise<void> {
    this.#supervised = false;
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (child === undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      this.#log(this.name, `still running ${EXIT_TIMEOUT_MS} ms after SIGTERM: killing it`);
      child.kill('SIGKILL');
    }, EXIT_TIMEOUT_MS);
    await this.#exited;
    clearTimeout(timer);
  }

  /**
   * A new process in place of the running one, on the same port, without nginx noticing: the new
   * one listens next to the old one (REUSE_PORT: both bound, the kernel spreads new connections
   * over them), and once it is ready the old one gets SIGTERM: it closes its listener, so every
   * new connection reaches the new one, and drains the connections nginx holds to it (see
   * app/src/drain.ts). The port never refuses a connection, so nginx's passive health check never
   * takes it out. Resolves once the old one has exited. Rejects if the new one does not get
   * ready; the old one then keeps serving. Why: docs/decisions/0004-drain-without-nginx-reload.md
   */
  async replace(): Promise<void> {
    const old = this.#child;
    if (old === undefined) {
      // Not running (a restart after a crash failed): nothing to drain.
      await this.start();
      return;
    }
    const oldExited = this.#exited;
    clearTimeout(this.#restartTimer);
    // Not supervised while the successor starts: a crash of either is reported, not restarted here.
    this.#supervised = false;
    try {
      await this.#launch();
    } catch (error) {
      if (old.exitCode === null && old.signalCode === null) {
        this.#child = old;
        this.#exited = oldExited;
        this.#ready = true;
      }
      this.#supervised = true;
      throw error;
    }
    this.#supervised = true;
    old.kill('SIGTERM');
    const killTimer = setTimeout(() => {
      this.#log(this.name, `pid ${old.pid} still running ${EXIT_TIMEOUT_MS} ms after SIGTERM: killing it`);
      old.kill('SIGKILL');
    }, EXIT_TIMEOUT_MS);
    await oldExited;
    clearTimeout(killTimer);
  }

  /** Sends a signal as if from outside (tests: SIGKILL); the supervisor restarts the process. */
  kill(signal: NodeJS.Signals): void {
    this.#child?.kill(signal);
  }

  async #launch(): Promise<void> {
    // Its own process group in the launcher's session (process-group.ts).
    // An IPC channel: the app says 'listening' on it (server.ts). With REUSE_PORT the port may also
    // be the old process's while this one starts, so /readyz on the port proves nothing yet.
    const { file, args } = appCommand(this.#entry);
    const child = spawnInOwnGroup(file, args, { env: { ...APP_MALLOC_ENV, ...this.#env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    this.#child = child;
    this.#ready = false;
    let listening = false;
    child.on('message', (message) => {
      if (message === 'listening') listening = true;
    });
    this.#exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.#onExit(child, code, signal);
        resolve();
      }),
    );
    const { stdout, stderr } = pipedOutput(child);
    pipeLines(stdout, this.name, this.#log);
    pipeLines(stderr, this.name, this.#log);
    try {
      await waitFor(
        `${this.name} to be ready`,
        async () => {
          if (this.#child !== child) throw new Error(`${this.name} exited before it was ready; see its lines above`);
          return listening && (await probeStatus(`${this.url}/readyz`)) === 200;
        },
        { timeoutMs: READY_TIMEOUT_MS },
      );
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
    this.#ready = true;
    this.#readyAt = Date.now();
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const how = signal ?? `code ${code}`;
    if (this.#child !== child) {
      // Not the current process (replace()): a drained predecessor, or a successor that failed.
      this.#log(this.name, `pid ${child.pid} exited (${how})`);
      return;
    }
    this.#child = undefined;
    this.#ready = false;
    if (!this.#supervised) {
      this.#log(this.name, `exited (${how})`);
      return;
    }
    const stable = this.#readyAt !== 0 && Date.now() - this.#readyAt > STABLE_AFTER_MS;
    this.#failures = stable ? 0 : this.#failures + 1;
    const delay = stable ? 0 : Math.min(MAX_BACKOFF_MS, 100 * 2 ** (this.#failures - 1));
    this.#readyAt = 0;
    this.#log(this.name, `exited unexpectedly (${how}); restarting in ${delay} ms`);
    this.#restartTimer = setTimeout(() => {
      this.#launch().then(
        () => this.#log(this.name, `restarted, pid ${this.pid}`),
        // It died again (#onExit schedules the next try) or never got ready (killed above).
        (error: unknown) => this.#log(this.name, `restart failed: ${error instanceof Error ? error.message : String(error)}`),
      );
    }, delay);
  }
}
