import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync, readdirSync } from 'node:fs';
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

/** Old workers finish requests in flight for at most worker_shutdown_timeout (30 s) after a reload. */
const WORKERS_GONE_TIMEOUT_MS = 40_000;

/**
 * nginx in the foreground (`daemon off`) in its own prefix: the master is our child, so its
 * stderr (the error log) comes to us, and a reload is a SIGHUP to it (what `nginx -s reload`
 * sends). The access log is a file in the prefix (see stack.ts).
 */
export class NginxProcess {
  readonly #bin: string;
  readonly #log: LineSink;
  #settings: NginxSettings;
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

  /**
   * Applies new settings without dropping a request: writes and checks the configuration, sends
   * SIGHUP, and resolves once every worker of the old configuration has exited. The master starts
   * new workers first; old ones stop accepting, finish their requests in flight and close their
   * connections to the apps. Only then is a server marked `down` free of traffic.
   */
  async reload(settings: NginxSettings): Promise<void> {
    const master = this.#child?.pid;
    if (master === undefined) throw new Error('nginx is not running');
    await this.test(settings);
    this.#settings = settings;
    const oldWorkers = childPids(master);
    process.kill(master, 'SIGHUP');
    await waitFor('the old nginx workers to finish their requests', () => {
      const workers = childPids(master);
      return workers.length > 0 && !workers.some((pid) => oldWorkers.includes(pid));
    }, { timeoutMs: WORKERS_GONE_TIMEOUT_MS, intervalMs: 20 });
  }

  /**
   * Has nginx reopen its log files (SIGUSR1, what `nginx -s reopen` sends) after the access log
   * was renamed: the master opens a new one and its workers switch to it.
   */
  reopenLogs(): void {
    const master = this.#child?.pid;
    if (master !== undefined) process.kill(master, 'SIGUSR1');
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

/** Child processes of `parent`, from /proc (Linux): nginx's workers are its master's children. */
function childPids(parent: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // "pid (comm) state ppid …"; comm may hold spaces and parentheses, so split after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === parent) children.push(Number(entry));
  }
  return children;
}
