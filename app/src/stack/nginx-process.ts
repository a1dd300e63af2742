import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { writeNginxConfig, type NginxSettings } from './nginx-config.ts';
import { pipeLines, type LineSink } from './output.ts';
import { probeStatus, waitFor } from './wait.ts';

const run = promisify(execFile);

export const NGINX_INSTALL_HINT = [
  'nginx was not found: the native stack runs it in front of the app processes.',
  'Install it with `sudo apt-get install nginx-light` (Debian, Ubuntu) or `brew install nginx` (macOS),',
  'or point NGINX_BIN at an nginx binary.',
].join('\n');

export class NginxMissingError extends Error {
  constructor() {
    super(NGINX_INSTALL_HINT);
    this.name = 'NginxMissingError';
  }
}

/**
 * NGINX_BIN, else `nginx` on PATH, else the sbin folders Debian installs it to (they are not on
 * an ordinary user's PATH there).
 */
export function findNginx(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = env.NGINX_BIN
    ? [env.NGINX_BIN]
    : [...(env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin', '/usr/local/sbin', '/sbin'].map((dir) => join(dir, 'nginx'));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new NginxMissingError();
}

/** After SIGQUIT, workers finish requests in flight for at most worker_shutdown_timeout (30 s). */
const WORKERS_GONE_TIMEOUT_MS = 40_000;

/**
 * nginx in the foreground (`daemon off`) in its own prefix: the master is our child, so its
 * stderr (error log) and stdout (access log) come to us. It is never reloaded: a reload closes
 * the idle keep-alive connections of nginx's clients, and a rolling restart of the apps does not
 * need one (stack.ts).
 */
export class NginxProcess {
  readonly #bin: string;
  readonly #log: LineSink;
  readonly #settings: NginxSettings;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  constructor(bin: string, settings: NginxSettings, log: LineSink) {
    this.#bin = bin;
    this.#settings = settings;
    this.#log = log;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Writes the configuration for `settings` and has nginx check it (`nginx -t`); throws its complaint. */
  async test(settings: NginxSettings = this.#settings): Promise<void> {
    const args = this.#args(writeNginxConfig(settings), settings);
    try {
      await run(this.#bin, [...args, '-t']);
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? String(error);
      throw new Error(`nginx rejected its configuration:\n${stderr.trim()}`);
    }
  }

  async start(): Promise<void> {
    await this.test();
    const args = this.#args(join(this.#settings.prefix, 'conf', 'nginx.conf'), this.#settings);
    // Own process group: a Ctrl-C in the terminal reaches the launcher only, which stops nginx
    // after nothing needs it (nginx's own SIGINT handling is a fast, not graceful, shutdown).
    const child = spawn(this.#bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => {
      if (this.#child === child) this.#child = undefined;
      this.#log('nginx', `exited (${signal ?? `code ${code}`})`);
    });
    pipeLines(child.stdout!, 'nginx', this.#log);
    pipeLines(child.stderr!, 'nginx', this.#log);
    const statusUrl = `http://${this.#settings.host}:${this.#settings.port}/nginx_status`;
    await waitFor('nginx to answer', async () => {
      if (this.#child !== child) throw new Error('nginx exited during start; see its lines above');
      return (await probeStatus(statusUrl)) === 200;
    }, { timeoutMs: 10_000 });
  }

  /** Graceful stop (SIGQUIT): requests in flight are finished; SIGKILL if that takes too long. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    child.kill('SIGQUIT');
    const timer = setTimeout(() => child.kill('SIGKILL'), WORKERS_GONE_TIMEOUT_MS);
    await this.#exited;
    clearTimeout(timer);
  }

  /**
   * Last-resort cleanup when the launcher itself exits. The whole process group (nginx was
   * started detached, so the group is the master's pid): workers outlive a SIGKILLed master and
   * would keep the port.
   */
  killNow(): void {
    const pid = this.#child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  #args(confPath: string, settings: NginxSettings): string[] {
    // -e: where nginx reports problems before it has read error_log from the configuration.
    return ['-p', settings.prefix, '-c', confPath, '-e', 'stderr', '-g', 'daemon off;'];
  }
}
