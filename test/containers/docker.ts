/**
 * Docker and Docker Compose for the container end-to-end suites (`test/containers/*.e2e.ts`):
 * every command bounded by a timeout and its output kept for the failure message, waits that
 * name what they waited for, and stacks that come down again even when a test fails or the
 * runner is interrupted.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The project folder: compose files and scripts are run from here. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The image the compose file's app services run (their `image:`); built here, never pulled. */
export const APP_IMAGE = 'linkyard-app:local';

export interface CommandResult {
  /** The command line, for messages. */
  command: string;
  /** Exit code; null when the process was ended by a signal (our timeout included). */
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface CommandOptions {
  /** Ended (SIGTERM, then SIGKILL 5 s later) after this long. */
  timeoutMs?: number;
  /** Added to this process's environment. */
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  /** Written to the command's stdin, which is then closed. */
  input?: string;
}

export class CommandError extends Error {
  readonly result: CommandResult;
  constructor(result: CommandResult) {
    const why = result.timedOut ? 'timed out' : `exited with ${result.code ?? 'a signal'}`;
    super(`${result.command} ${why}\n${tail(result.stderr || result.stdout, 40)}`);
    this.name = 'CommandError';
    this.result = result;
  }
}

/** The last `lines` lines of some output, for messages that stay readable. */
export function tail(output: string, lines: number): string {
  return output.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Runs a command to its end and resolves with what it did; never rejects for a non-zero exit
 * (the caller decides), only when the command cannot be started at all.
 */
export function runCommand(file: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  const command = [file, ...args].join(' ');
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdin?.end(options.input);
    const killer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    }, timeoutMs);
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(killer);
      reject(error.code === 'ENOENT' ? new Error(`${file} is not installed (needed for: ${command})`) : error);
    });
    child.once('close', (code) => {
      clearTimeout(killer);
      resolve({ command, code, stdout, stderr, timedOut });
    });
  });
}

/** Runs a command; its stdout when it exits 0, else a CommandError with its output. */
export async function runChecked(file: string, args: readonly string[], options: CommandOptions = {}): Promise<string> {
  const result = await runCommand(file, args, options);
  if (result.code !== 0) throw new CommandError(result);
  return result.stdout;
}

export function docker(args: readonly string[], options: CommandOptions = {}): Promise<string> {
  return runChecked('docker', args, options);
}

/** Why containers cannot be run here (no CLI, no engine, no Compose v2), or undefined when they can. */
export async function dockerUnavailable(): Promise<string | undefined> {
  try {
    const info = await runCommand('docker', ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 15_000 });
    if (info.code !== 0) return `no Docker engine answers (docker info: ${tail(info.stderr, 3)})`;
    const compose = await runCommand('docker', ['compose', 'version', '--short'], { timeoutMs: 15_000 });
    if (compose.code !== 0) return 'Docker Compose v2 (`docker compose`) is not installed';
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * Builds an image from the project's Dockerfile on the host network: on machines whose
 * containers have no route out (see ../shared/tools/docker-offline), `RUN npm ci` reaches the
 * registry only that way. Layers are cached, so an unchanged tree rebuilds in seconds.
 */
export async function buildImage(tag: string, options: { timeoutMs?: number } = {}): Promise<void> {
  await docker(['build', '--network', 'host', '--tag', tag, '.'], { timeoutMs: options.timeoutMs ?? 600_000 });
}

/** Polls `probe` until it returns a value; fails naming `what` and the last thing it saw. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, intervalMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const seen = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${seen}`);
    }
    await sleep(intervalMs);
  }
}

export interface ContainerState {
  id: string;
  name: string;
  /** created, running, restarting, exited, … */
  status: string;
  /** starting, healthy, unhealthy; undefined without a healthcheck. */
  health: string | undefined;
  restartCount: number;
  /** The container's PID 1 as the host sees it; 0 when not running. */
  pid: number;
  exitCode: number;
  startedAt: string;
}

interface InspectedContainer {
  Id: string;
  Name: string;
  RestartCount: number;
  State: { Status: string; Pid: number; ExitCode: number; StartedAt: string; Health?: { Status: string } };
}

export async function inspectContainer(id: string): Promise<ContainerState> {
  const [found] = JSON.parse(await docker(['container', 'inspect', id], { timeoutMs: 15_000 })) as InspectedContainer[];
  if (found === undefined) throw new Error(`no container ${id}`);
  return {
    id: found.Id,
    name: found.Name.replace(/^\//, ''),
    status: found.State.Status,
    health: found.State.Health?.Status,
    restartCount: found.RestartCount,
    pid: found.State.Pid,
    exitCode: found.State.ExitCode,
    startedAt: found.State.StartedAt,
  };
}

/**
 * One Compose project: a compose file run under its own project name, so that a test never
 * touches the stack a developer runs from the same folder (`docker compose` defaults the name to
 * the folder's).
 */
export class ComposeProject {
  readonly name: string;
  /** The environment every command gets: the project name, and the settings given. */
  readonly env: Readonly<Record<string, string>>;
  private readonly files: readonly string[];

  constructor(options: { name: string; files?: readonly string[]; env?: Readonly<Record<string, string>> }) {
    this.name = options.name;
    this.files = options.files ?? [];
    // COMPOSE_PROJECT_NAME, not -p: scripts the tests run (`npm run compose:rolling-restart`)
    // call plain `docker compose` and must find the same project.
    this.env = { ...options.env, COMPOSE_PROJECT_NAME: options.name };
  }

  /** `docker compose <args>` for this project; its stdout, or a CommandError. */
  compose(args: readonly string[], options: CommandOptions = {}): Promise<string> {
    return runChecked('docker', this.composeArgs(args), { ...options, env: { ...this.env, ...options.env } });
  }

  /** `docker compose <args>` for this project, whatever its exit code. */
  composeResult(args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    return runCommand('docker', this.composeArgs(args), { ...options, env: { ...this.env, ...options.env } });
  }

  /** Any command (a project script) with this project's environment. */
  runWith(file: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    return runCommand(file, args, { ...options, env: { ...this.env, ...options.env } });
  }

  /** Starts `services` (default: all) without building, and waits until every one is healthy. */
  async up(services: readonly string[] = [], options: { timeoutSeconds?: number } = {}): Promise<void> {
    const timeoutSeconds = options.timeoutSeconds ?? 180;
    await this.compose(['up', '--detach', '--no-build', '--wait', '--wait-timeout', String(timeoutSeconds), ...services], {
      timeoutMs: (timeoutSeconds + 30) * 1000,
    });
  }

  /** Stops and removes the project's containers and network; with `volumes`, its data too. */
  async down(options: { volumes: boolean }): Promise<void> {
    await this.compose(['down', '--remove-orphans', ...(options.volumes ? ['--volumes'] : [])], { timeoutMs: 120_000 });
  }

  /** The running (or restarting) container of a service; fails when there is none. */
  async containerId(service: string): Promise<string> {
    const id = (await this.compose(['ps', '--all', '--quiet', service], { timeoutMs: 15_000 })).trim().split('\n')[0] ?? '';
    if (id === '') throw new Error(`${this.name}: service ${service} has no container`);
    return id;
  }

  async state(service: string): Promise<ContainerState> {
    return inspectContainer(await this.containerId(service));
  }

  /** Waits until the service's container reports healthy; its state then. */
  waitHealthy(service: string, timeoutMs: number): Promise<ContainerState> {
    return waitFor(
      `${service} to be healthy`,
      timeoutMs,
      async () => {
        const state = await this.state(service);
        return state.health === 'healthy' ? state : undefined;
      },
      250,
    );
  }

  /** The last lines each service (or each of `services`) logged, for a failure's diagnostics. */
  async logs(lines = 60, services: readonly string[] = []): Promise<string> {
    const result = await this.composeResult(['logs', '--no-color', '--tail', String(lines), ...services], { timeoutMs: 30_000 });
    return result.stdout + result.stderr;
  }

  /**
   * Brings the project down (with its volumes) when this process exits, whatever the reason: the
   * test's own `after` may never run if the runner is interrupted. Returns the function that
   * stops watching (call it once the project is down).
   */
  downOnExit(): () => void {
    const downNow = () => {
      spawnSync('docker', this.composeArgs(['down', '--remove-orphans', '--volumes']), {
        cwd: ROOT,
        env: { ...process.env, ...this.env },
        stdio: 'ignore',
        timeout: 120_000,
      });
    };
    const onSignal = (signal: NodeJS.Signals) => {
      downNow();
      process.kill(process.pid, signal);
    };
    process.once('exit', downNow);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    return () => {
      process.off('exit', downNow);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
  }

  private composeArgs(args: readonly string[]): string[] {
    return ['compose', ...this.files.flatMap((file) => ['--file', file]), ...args];
  }
}

/**
 * The folder k6 writes its summaries to, made writable for the k6 image's user (uid 12345),
 * which owns nothing in the project's checkout. Returns the host path.
 */
export function writableK6Results(subfolder = ''): string {
  const dir = join(ROOT, 'k6', 'results', subfolder);
  mkdirSync(dir, { recursive: true });
  chmodSync(join(ROOT, 'k6', 'results'), 0o777);
  chmodSync(dir, 0o777);
  return dir;
}
