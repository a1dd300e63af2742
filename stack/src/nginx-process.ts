import { type ChildProcess, execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findExecutable, isExecutable } from './executables.ts';
import { type NginxSettings, WORKER_FILE_LIMIT, writeNginxConfig } from './nginx-config.ts';
import { type LineSink, pipeLines } from './output.ts';
import { pipedOutput, spawnInOwnGroup } from './process-group.ts';
import { probeStatus, waitFor } from './wait.ts';

const run = promisify(execFile);

export const NGINX_INSTALL_HINT =
  'linkyard: nginx is missing (the stack runs it in front of the app processes): install it with ' +
  '`sudo apt-get install nginx-light` (Debian, Ubuntu) or `brew install nginx` (macOS), or point NGINX_BIN at an nginx binary';

export class NginxMissingError extends Error {
  constructor() {
    super(NGINX_INSTALL_HINT);
    this.name = 'NginxMissingError';
  }
}

/** NGINX_BIN, else `nginx` on PATH or in the sbin folders. */
export function findNginx(env: NodeJS.ProcessEnv = process.env): string {
  const nginx = env.NGINX_BIN ? (isExecutable(env.NGINX_BIN) ? env.NGINX_BIN : undefined) : findExecutable('nginx', env);
  if (nginx === undefined) throw new NginxMissingError();
  return nginx;
}

/**
 * The descriptors nginx's workers can have: WORKER_FILE_LIMIT, or the hard limit nginx inherits
 * where that is lower (a worker cannot raise it, and asking for more only logs an alert per
 * worker), with a line saying what that costs and what to raise. Node has no getrlimit(): the
 * shell's `ulimit -Hn` reads it.
 */
export function workerFileLimit(): { limit: number; warning?: string } {
  const text = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  const hard = text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text);
  if (!(hard < WORKER_FILE_LIMIT)) return { limit: WORKER_FILE_LIMIT };
  return {
    limit: hard,
    warning:
      `warning: the open-file hard limit (ulimit -Hn) is ${hard}, below the ${WORKER_FILE_LIMIT} nginx's workers are configured for: ` +
      `each gets ${hard}, about ${Math.floor(hard / 2).toLocaleString('en-US')} clients with a request in flight (a descriptor each and one to an app). ` +
      `To hold 10 000, raise the hard limit to ${WORKER_FILE_LIMIT} (ulimit -Hn as root, LimitNOFILE= under systemd, nofile in /etc/security/limits.conf).`,
  };
}

/** After SIGQUIT, workers finish requests in flight for at most worker_shutdown_timeout (30 s). */
const WORKERS_GONE_TIMEOUT_MS = 40_000;

/**
 * nginx in the foreground (`daemon off`) in its own prefix: the master is our child, so its
 * stderr (the error log) comes to us; the access log is a file in the prefix (see stack.ts). It is
 * never reloaded: a reload closes the idle keep-alive connections of nginx's clients, and a
 * rolling restart of the apps does not need one (stack.ts;
 * docs/decisions/0004-drain-without-nginx-reload.md).
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
    // Its own process group in the launcher's session (process-group.ts).
    const child = spawnInOwnGroup(this.#bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => {
      if (this.#child === child) this.#child = undefined;
      this.#log('nginx', `exited (${signal ?? `code ${code}`})`);
    });
    const { stdout, stderr } = pipedOutput(child);
    pipeLines(stdout, 'nginx', this.#log);
    pipeLines(stderr, 'nginx', this.#log);
    // With HTTPS on, the public plain port only redirects: the internal plain listener answers.
    const statusUrl = `http://${this.#settings.host}:${this.#settings.tls?.internalPort ?? this.#settings.port}/nginx_status`;
    await waitFor(
      'nginx to answer',
      async () => {
        if (this.#child !== child) throw new Error('nginx exited during start; see its lines above');
        return (await probeStatus(statusUrl)) === 200;
      },
      { timeoutMs: 10_000 },
    );
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
   * Last-resort cleanup when the launcher itself exits. The whole process group (nginx leads one
   * of its own, process-group.ts): workers outlive a SIGKILLed master and would keep the port.
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
