import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkCertificateFiles } from '../../app/src/tls-files.ts';
import { ACCESS_LOG_ROTATION, folderWorkersCannotEnter, type LogRotation, lastLines, rotateBySize } from './access-log.ts';
import { AppProcess } from './app-process.ts';
import { CERTIFICATE_CACHE_NGINX, checkHandshake } from './certificate-renewal.ts';
import type { NginxSettings } from './nginx-config.ts';
import { findNginx, NginxProcess, workerFileLimit } from './nginx-process.ts';
import { type LineSink, LogTail, tagLine } from './output.ts';
import { freePorts } from './ports.ts';
import { atLeast, HTTP2_DIRECTIVE_NGINX, nginxBuild, requireTlsSupport, type TlsOptions } from './tls.ts';
import { waitFor } from './wait.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEFAULT_STATE_DIR = join(REPO_ROOT, '.stack');

export interface StackOptions {
  /** App processes behind nginx. Default 3. */
  instances?: number;
  /** nginx's public port on 127.0.0.1. Default 8080; 0 picks a free one. */
  port?: number;
  /** The data folder every process shares (DATA_DIR). Default ./data. */
  dataDir?: string;
  /** Runtime files: nginx's prefix (<stateDir>/nginx) and the launcher's control socket. Default .stack/. */
  stateDir?: string;
  /**
   * Environment for the app processes on top of process.env: LOG_LEVEL, CHECK_ALLOW_PRIVATE,
   * PUBLIC_URL (default: the stack's own URL)… PORT, HOST, DATA_DIR and SERVE_STATIC are the stack's.
   */
  env?: Readonly<Record<string, string | undefined>>;
  /** Per-client rate of POST / and of /api/ requests, nginx syntax. Default `10r/s`; load tests raise it. */
  rateLimit?: string;
  /** Per-client rate of GET and HEAD under /api/. Default 5 × rateLimit (nginx-config.ts). */
  readRateLimit?: string | undefined;
  /**
   * nginx's access log, `<stateDir>/nginx/access.log`: every request once, there only (not in the
   * output). Default true; load tests turn it off.
   */
  accessLog?: boolean;
  /** When the access log is rotated and how many old files are kept. Default ACCESS_LOG_ROTATION. */
  accessLogRotation?: LogRotation;
  /** Where the tagged output lines go. Default: stdout. `quiet: true` drops them (see logTail). */
  quiet?: boolean;
  /** The app processes' server module. Default: the one next to this module (sources or build). */
  serverEntry?: string;
  /**
   * HTTPS (docs/https.md): nginx serves it on `tls.port` with the certificate files, checked
   * before anything starts; `port` then redirects to it, and a third, internal plain port takes
   * the probes and the apps' SELF_URL. Unset, the default: plain HTTP on `port` only.
   */
  tls?: TlsOptions | undefined;
  /**
   * Without `tls`: a folder served at /.well-known/acme-challenge/ on the plain port, where
   * certbot --webroot gets the first certificate (docs/https.md#acme). With `tls`, tls.acmeWebroot.
   */
  acmeWebroot?: string | undefined;
}

export interface Stack {
  /** The public URL, through nginx: `http://127.0.0.1:8080`, or `https://127.0.0.1:8443` with TLS. */
  readonly url: string;
  /** The public plain-HTTP URL: `url` itself, or with TLS the port that redirects to it. */
  readonly plainUrl: string;
  /** Plain HTTP to nginx from inside (the apps' SELF_URL with TLS, probes): `url` itself without TLS. */
  readonly internalUrl: string;
  /** Each app process directly, bypassing nginx (same order as pids()). */
  readonly appUrls: readonly string[];
  /** Current pid of each app process (undefined while one is being restarted). */
  pids(): (number | undefined)[];
  /** nginx's master process (its workers are its children); undefined once stopped. */
  nginxPid(): number | undefined;
  /**
   * Replaces every app process, one at a time, without failing a request and without touching
   * nginx (a reload would close its clients' idle connections): the old process stops accepting
   * and drains once its successor listens next to it on the same port (AppProcess#replace).
   * Rejects if a new process does not get ready: that one stays down (nginx routes around it)
   * and the ones not yet reached keep running the old code.
   */
  rollingRestart(onProgress?: (message: string) => void): Promise<void>;
  /** kill -9 of one app process; resolves once the supervisor has its replacement ready. */
  killApp(index: number): Promise<void>;
  /** nginx first (no new requests), then the apps (they drain). Idempotent. */
  stop(): Promise<void>;
  /** The last lines every process printed, tagged, whether they were printed or not. */
  logTail(): string[];
  /** The path of nginx's access log (the live file; rotated ones are `<path>.1`, `<path>.2`, …). */
  readonly accessLogPath: string;
  /**
   * The last lines of the live access log (the last 256 KiB of it at most). nginx writes its
   * lines up to a second late (ACCESS_LOG_BUFFERING): wait for the one you look for.
   */
  accessLogLines(): Promise<string[]>;
}

/**
 * Starts N app processes on free loopback ports, waits until each is ready, then nginx in front
 * of them. This is `npm start` (launcher.ts) and what the stack tests and the load tests run:
 *
 *   const stack = await startStack({ port: 0, dataDir, stateDir, rateLimit: '100000r/s',
 *     accessLog: false, quiet: true, env: { LOG_LEVEL: 'warn' } });
 *   // … send traffic to stack.url …
 *   await stack.rollingRestart();
 *   await stack.stop();
 *
 * Rejects (with everything it started stopped again) if nginx is missing (NginxMissingError),
 * an app process does not get ready, or nginx does not start.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const instances = options.instances ?? 3;
  if (!Number.isInteger(instances) || instances < 1) throw new Error(`instances must be a whole number ≥ 1, got ${instances}`);
  const nginxBin = findNginx();
  const tlsOptions = options.tls;
  // Before anything starts: a bad certificate file is a one-line configuration error, not nginx's.
  if (tlsOptions !== undefined) checkCertificateFiles(tlsOptions.certificateFile, tlsOptions.keyFile);
  const build = tlsOptions === undefined ? undefined : await nginxBuild(nginxBin);
  if (build !== undefined) requireTlsSupport(nginxBin, build);
  const stateDir = resolve(options.stateDir ?? DEFAULT_STATE_DIR);
  const dataDir = resolve(options.dataDir ?? 'data');
  const prefix = join(stateDir, 'nginx');
  mkdirSync(dataDir, { recursive: true });
  refuseIfRunning(prefix);
  // A fresh prefix each start: no access log or pid file left from an earlier run.
  rmSync(prefix, { recursive: true, force: true });
  mkdirSync(prefix, { recursive: true, mode: 0o755 });

  const tail = new LogTail();
  const width = Math.max('nginx'.length, `app${instances}`.length);
  const log: LineSink = (source, line) => {
    const tagged = tagLine(source, line, width);
    tail.add(tagged);
    if (!options.quiet) process.stdout.write(`${tagged}\n`);
  };

  const { publicPort, appPorts, httpsPort, internalPort } = await choosePorts(options.port ?? 8080, instances, tlsOptions);
  const plainUrl = `http://127.0.0.1:${publicPort}`;
  const url = httpsPort === undefined ? plainUrl : `https://127.0.0.1:${httpsPort}`;
  const internalUrl = internalPort === undefined ? plainUrl : `http://127.0.0.1:${internalPort}`;
  const appEnv: NodeJS.ProcessEnv = {
    // nginx's access log is the request log (LOG_REQUESTS, docs/configuration.md); the environment may say otherwise.
    LOG_REQUESTS: 'false',
    ...process.env,
    // The stack's own URL unless the operator names the public one (a TLS proxy in front, say).
    PUBLIC_URL: process.env.PUBLIC_URL?.trim() || url,
    // With HTTPS, the apps check a link to themselves through the internal plain port: no
    // certificate to trust, and the same nginx and app processes answer.
    ...(internalPort === undefined ? {} : { SELF_URL: process.env.SELF_URL?.trim() || internalUrl }),
    ...options.env,
    HOST: '127.0.0.1',
    // A replacement listens next to the process it replaces (AppProcess#replace).
    REUSE_PORT: 'true',
    DATA_DIR: dataDir,
    SERVE_STATIC: 'false',
  };
  const apps = appPorts.map(
    (port, i) => new AppProcess({ name: `app${i + 1}`, port, env: { ...appEnv, PORT: String(port) }, log, entry: options.serverEntry }),
  );

  const files = workerFileLimit();
  if (files.warning !== undefined) log('stack', files.warning);
  const settings: NginxSettings = {
    prefix,
    workerFileLimit: files.limit,
    host: '127.0.0.1',
    port: publicPort,
    upstreams: apps.map((app) => ({ port: app.port })),
    staticRoot: join(REPO_ROOT, 'app'),
    rateLimit: options.rateLimit ?? '10r/s',
    readRateLimit: options.readRateLimit,
    accessLog: options.accessLog ?? true,
    hstsMaxAge: tlsOptions?.hstsMaxAge,
    acmeWebroot: tlsOptions === undefined && options.acmeWebroot !== undefined ? acmeWebroot(options.acmeWebroot, stateDir) : undefined,
    tls:
      tlsOptions === undefined || httpsPort === undefined || internalPort === undefined || build === undefined
        ? undefined
        : {
            port: httpsPort,
            internalPort,
            certificateFile: tlsOptions.certificateFile,
            keyFile: tlsOptions.keyFile,
            acmeWebroot: acmeWebroot(tlsOptions.acmeWebroot, stateDir),
            http2Directive: atLeast(build.version, HTTP2_DIRECTIVE_NGINX),
            certificateCache: atLeast(build.version, CERTIFICATE_CACHE_NGINX),
          },
  };
  const nginx = new NginxProcess(nginxBin, settings, log);
  const accessLogPath = join(prefix, 'access.log');
  // Written once, to its file: copying each line into the output as well doubled what a busy
  // stack wrote (about 300 bytes a redirect, twice), and neither copy was bounded.
  const accessLog = settings.accessLog
    ? rotateBySize(accessLogPath, options.accessLogRotation ?? ACCESS_LOG_ROTATION, () => nginx.reopenLogs(), log)
    : undefined;

  // Whatever ends this process, no app or nginx is left behind.
  const killAll = () => {
    nginx.killNow();
    for (const app of apps) app.kill('SIGKILL');
  };
  process.once('exit', killAll);

  let rolling: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await rolling?.catch(() => {});
      log('stack', 'stopping: nginx first (no new requests), then the app processes (they drain)');
      await accessLog?.stop();
      await nginx.stop();
      await Promise.all(apps.map((app) => app.stop()));
      process.off('exit', killAll);
      log('stack', 'stopped');
    })();
    return stopping;
  };

  try {
    // The first process alone creates or migrates the store; the others then open it as it is.
    const [first, ...others] = apps;
    if (first === undefined) throw new Error('a stack needs at least one app process');
    await first.start();
    await Promise.all(others.map((app) => app.start()));
    await nginx.start();
    // nginx reads the certificate files at the first handshake, in its workers: try one now.
    if (settings.tls !== undefined)
      await checkHandshake(settings.host, settings.tls.port, settings.tls.certificateFile, settings.tls.keyFile);
  } catch (error) {
    await stop();
    throw error;
  }
  log('stack', `${url} → ${apps.map((app) => `${app.name} :${app.port}`).join(', ')}`);
  if (plainUrl !== url) log('stack', `${plainUrl} redirects to ${url}; ${internalUrl} is plain HTTP for this machine's own checks`);
  if (plainUrl !== url && appEnv.PUBLIC_URL?.startsWith('http:'))
    log(
      'stack',
      `warning: HTTPS is on but PUBLIC_URL is ${appEnv.PUBLIC_URL}: short URLs say http:// and the session cookie is not Secure`,
    );
  const closed = accessLog === undefined ? undefined : folderWorkersCannotEnter(accessLogPath);
  if (closed !== undefined) {
    log(
      'stack',
      `warning: run as root, nginx's workers cannot enter ${closed} (no o+x), so they cannot reopen ${accessLogPath} after a rotation and would keep writing the rotated file: its size is then unbounded. Set STACK_DIR to a folder others may enter, or run as a user.`,
    );
  }

  const rollingRestart = async (onProgress?: (message: string) => void): Promise<void> => {
    const report = (message: string) => {
      log('stack', message);
      onProgress?.(message);
    };
    report(`rolling restart of ${apps.length} app process${apps.length === 1 ? '' : 'es'}, one at a time`);
    if (apps.length === 1) report('warning: with a single process, requests fail while it restarts');
    for (const app of apps) {
      if (stopping) throw new Error('the stack is stopping');
      const began = Date.now();
      report(
        `${app.name}: replacing pid ${app.pid ?? '(none)'}: a new process starts next to it on port ${app.port}; once it is ready the old one stops accepting and drains`,
      );
      await app.replace();
      report(`${app.name}: restarted as pid ${app.pid}; the old one drained and exited (${Date.now() - began} ms)`);
    }
    report('rolling restart done: every process is new and in rotation');
  };

  return {
    url,
    plainUrl,
    internalUrl,
    appUrls: apps.map((app) => app.url),
    pids: () => apps.map((app) => app.pid),
    nginxPid: () => nginx.pid,
    rollingRestart(onProgress) {
      if (rolling) return Promise.reject(new Error('a rolling restart is already running'));
      if (stopping) return Promise.reject(new Error('the stack is stopping'));
      rolling = rollingRestart(onProgress)
        .catch((error: unknown) => {
          log('stack', `rolling restart failed: ${error instanceof Error ? error.message : String(error)}`);
          throw error;
        })
        .finally(() => {
          rolling = undefined;
        });
      return rolling;
    },
    async killApp(index) {
      const app = apps[index];
      if (app === undefined) throw new Error(`no app process ${index}; there are ${apps.length}`);
      const before = app.pid;
      app.kill('SIGKILL');
      await waitFor(`${app.name} to come back`, () => app.ready && app.pid !== before, { timeoutMs: 30_000 });
    },
    stop,
    logTail: () => tail.lines(),
    accessLogPath,
    accessLogLines: () => lastLines(accessLogPath),
  };
}

/**
 * Two stacks on one state folder would overwrite each other's nginx configuration. nginx's pid
 * file says whether one runs there (also one whose launcher was killed and left nginx behind).
 */
function refuseIfRunning(prefix: string): void {
  let pid: number;
  try {
    pid = Number(readFileSync(join(prefix, 'nginx.pid'), 'utf8'));
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 0);
  } catch {
    return; // stale
  }
  throw new Error(`a stack already runs with its files in ${prefix} (nginx pid ${pid}); stop it first (Ctrl-C, or kill -QUIT ${pid})`);
}

interface Ports {
  publicPort: number;
  appPorts: number[];
  /** With TLS only. */
  httpsPort?: number | undefined;
  internalPort?: number | undefined;
}

/**
 * The public port (0: any free one), one free port per app process (kept across restarts), and
 * with TLS the HTTPS port (0: any free one) and a free internal plain port.
 */
async function choosePorts(port: number, instances: number, tls: TlsOptions | undefined): Promise<Ports> {
  const httpsPort = tls === undefined ? undefined : (tls.port ?? 8443);
  const extra = (port === 0 ? 1 : 0) + (tls === undefined ? 0 : 1) + (httpsPort === 0 ? 1 : 0);
  const ports = await freePorts(instances + extra);
  const take = () => {
    const free = ports.pop();
    if (free === undefined) throw new Error('no free port');
    return free;
  };
  const publicPort = port === 0 ? take() : port;
  if (tls === undefined) return { publicPort, appPorts: ports };
  return { publicPort, httpsPort: httpsPort === 0 ? take() : httpsPort, internalPort: take(), appPorts: ports };
}

/** Where certbot --webroot writes its HTTP-01 tokens; made here so nginx has a folder to serve. */
function acmeWebroot(configured: string | undefined, stateDir: string): string {
  const webroot = configured ?? join(stateDir, 'acme-webroot');
  mkdirSync(join(webroot, '.well-known', 'acme-challenge'), { recursive: true });
  return webroot;
}
