import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { boolean, ConfigError, decimal, type Env, integer, oneOf, read } from './env.ts';
import { DAY_MS } from './store/stats-types.ts';
import { SEARCH_BUDGET_MS } from './store/types.ts';
import { compileAddressMatcher } from './trusted-proxies.ts';

export { ConfigError } from './env.ts';

/**
 * Everything the server can be told, read once at start-up.
 *
 * Precedence: a field passed to `buildApp()` (tests) > an environment variable > the default below.
 * A value that does not parse stops start-up with a message naming the variable, so a typo in a
 * deployment fails loudly instead of running with a default nobody asked for.
 */
export interface Config {
  host: string;
  port: number;
  /**
   * Bind with SO_REUSEPORT (Linux), so a replacement process can listen on the same port while the
   * old one drains: the native rolling restart never leaves the port refusing. Off by default, so
   * a second server started on a taken port by mistake fails with EADDRINUSE instead of sharing it.
   */
  reusePort: boolean;
  /** Origin people (and the self-link check) reach the service at; used to build short URLs. */
  publicUrl: URL;
  /** Where the service reaches itself from inside, for the self-link check (compose: http://nginx:8080). */
  selfUrl: URL;
  dataDir: string;
  /**
   * Grow the SQLite WAL to its working size (~8 MiB) at start-up and keep it there, so no commit
   * grows the file (docs/decisions/0028-wal-kept-at-size.md). Off only to measure without it.
   */
  sqliteWalPresize: boolean;
  /** `postgres://…` selects PostgreSQL; absent means SQLite under `dataDir`. Its password may come from DATABASE_PASSWORD_FILE. */
  databaseUrl: string | undefined;
  /**
   * PostgreSQL deadlines: to open a connection (or wait for a free one), and for one statement.
   * While the database is away, requests fail within these with 503 instead of hanging.
   */
  databaseConnectTimeoutMs: number;
  databaseQueryTimeoutMs: number;
  /**
   * PostgreSQL: how long start-up keeps trying its first connection (the migration) while the
   * database cannot be reached, with backoff and a log line per attempt; 0 gives up at once.
   */
  databaseStartupWaitMs: number;
  logLevel: LogLevel;
  /**
   * One line per request. Behind nginx, whose access log has every request under the same
   * request id, the stack turns it off: each request is logged once, at the edge, and the app
   * keeps its CPU for answering (a fifth of a redirect's cost, see the README's benchmark).
   * 5xx answers and errors are logged either way.
   */
  logRequests: boolean;
  /** Addresses or CIDR ranges whose X-Forwarded-* and X-Request-Id headers are believed. */
  trustedProxies: string[];
  /** API_TOKEN or API_TOKEN_FILE: a bearer token that acts as an admin key (docs/keys-and-access.md). */
  apiToken: string | undefined;
  /** Serve /static from the app itself: on for `npm run app`, off behind nginx, which serves it. */
  serveStatic: boolean;
  pageSize: number;
  check: CheckConfig;
  visitsFlushMs: number;
  /**
   * How long a process may keep answering a name from memory: a deleted bookmark stops
   * redirecting at once on the process that deleted it, and within this on every other. 0: every
   * redirect reads the store (one SQLite read was a tenth of a redirect's CPU; with PostgreSQL it
   * is a network round trip).
   */
  redirectCacheMs: number;
  /**
   * How many names a process keeps for redirects: the bound on the cache's memory (about 310 bytes
   * of V8 heap a name), and, with a long REDIRECT_CACHE_MS, on its hit rate under traffic spread
   * over many links (docs/decisions/0021-scale.md). At most 100 000 (~30 MiB): 500 000 alone
   * overran the apps' 128 MiB old generation (APP_NODE_FLAGS).
   */
  redirectCacheNames: number;
  /**
   * How long a search may use the index before it scans the newest links for as long again and
   * answers with what it found, a partial page (PostgreSQL; docs/decisions/0029-search-within-a-budget.md).
   * 0: scan one window of ids and answer.
   */
  searchBudgetMs: number;
  /** Longer than nginx's upstream keepalive_timeout (3 s), else nginx reuses a socket Node is closing. */
  keepAliveTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** How long a process keeps a key or session lookup: a revoked key or ended session stops working everywhere within this. */
  keyCacheMs: number;
  /** How long a sign-in lasts. */
  sessionTtlDays: number;
  /**
   * PRIVATE=true: creating needs a key or a session, and the list and the API's reads need one
   * too; redirects stay public. For any instance reachable from the internet (docs/keys-and-access.md).
   */
  private: boolean;
  /**
   * How often each process reads the blocklist and the disabled links again: a link to a host
   * just listed, or a link just disabled, stops redirecting on every process within this.
   */
  blocklistRefreshMs: number;
  stats: StatsConfig;
  recheck: RecheckConfig;
}

/** Re-checks of links' targets in the background (services/rechecks.ts, docs/uri-checks.md). */
export interface RecheckConfig {
  /** RECHECK_INTERVAL_DAYS, in ms: a target is fetched again once its last check is this old. 0: never. */
  intervalMs: number;
  /** RECHECK_PER_MINUTE: at most this many re-checks a minute, for the whole stack (one process does them). */
  perMinute: number;
}

/** What is counted beside the total (docs/stats.md, decision 0019). */
export interface StatsConfig {
  /** STATS: false counts the total only, and looks at nothing else of a visit. */
  enabled: boolean;
  /** STATS_FLUSH_MS: how often the rollups ride along with a visit batch (decision 0019). */
  flushMs: number;
  /** STATS_HOURLY_DAYS: whole days of hourly rows kept before they fold into daily ones. */
  hourlyDays: number;
  /** GEOIP_DB_FILE: an MMDB country (or city) database; countries are counted only with one. */
  geoipDbFile: string | undefined;
}

export interface CheckConfig {
  /** Whole check, all redirects included. */
  timeoutMs: number;
  connectTimeoutMs: number;
  maxRedirects: number;
  maxBodyBytes: number;
  /** Let checks reach loopback and private ranges: for private deployments and tests. */
  allowPrivate: boolean;
  /** `pool` (worker threads, the default) or `inline` (on the request thread, for the benchmark). */
  mode: 'pool' | 'inline';
  workers: number;
  /** Checks one worker runs at once; they are I/O bound, so several share a thread. */
  concurrentPerWorker: number;
  /** Checks waiting for a worker before new ones are refused with 503. */
  maxQueue: number;
  /**
   * A check worker thread with no check for this long is stopped, and started again by the next
   * check: a process that only redirects does not keep a second V8 isolate.
   */
  workerIdleMs: number;
  /**
   * PEM CA certificates the checks trust besides Node's defaults (CHECK_EXTRA_CA_FILE): links to
   * sites under an operator's internal CA, and the bench's local HTTPS site. Checks only: nothing
   * else in the process trusts them.
   */
  extraCa: string | undefined;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The content of a secret file (Docker and Swarm mount secrets as files under /run/secrets/, and the
 * official images take `POSTGRES_PASSWORD_FILE` the same way): a value in the environment shows in
 * `docker inspect`, a file does not. One trailing line break is dropped, as `echo pw > file` adds
 * one; an empty file is no value.
 */
function secretFile(variable: string, path: string): string | undefined {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(variable, `cannot read '${path}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const value = content.replace(/\r?\n$/, '');
  return value === '' ? undefined : value;
}

/** A secret from `name`, or from the file `name_FILE` names; both set is refused rather than one silently winning. */
function secret(env: Env, name: string): string | undefined {
  const fileVariable = `${name}_FILE`;
  const path = read(env, fileVariable);
  if (path === undefined) return read(env, name);
  if (read(env, name) !== undefined) throw new ConfigError(fileVariable, `set ${name} or ${fileVariable}, not both`);
  return secretFile(fileVariable, path);
}

/**
 * DATABASE_URL, with the password from DATABASE_PASSWORD_FILE when that is set: the URL (host,
 * user, database) is configuration and may be shown, the password is a secret file. A password in
 * both places is refused.
 */
function databaseUrl(env: Env): string | undefined {
  const url = read(env, 'DATABASE_URL');
  if (url !== undefined && !/^postgres(ql)?:\/\//.test(url)) {
    throw new ConfigError('DATABASE_URL', 'expected a postgres:// or postgresql:// URL');
  }
  const passwordPath = read(env, 'DATABASE_PASSWORD_FILE');
  if (passwordPath === undefined) return url;
  if (url === undefined) throw new ConfigError('DATABASE_PASSWORD_FILE', 'set without DATABASE_URL, the server it is the password for');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('DATABASE_URL', 'not a URL');
  }
  if (parsed.password !== '') throw new ConfigError('DATABASE_PASSWORD_FILE', 'DATABASE_URL has a password already: keep it in one place');
  const password = secretFile('DATABASE_PASSWORD_FILE', passwordPath);
  if (password === undefined) throw new ConfigError('DATABASE_PASSWORD_FILE', `'${passwordPath}' is empty`);
  // The setter leaves '%' as it is, which a URL parser would then decode: encode it all first.
  parsed.password = encodeURIComponent(password);
  return parsed.href;
}

/** A PEM file of one or more CA certificates, read and parsed now, so a bad one stops start-up. */
function caFile(env: Env, name: string): string | undefined {
  const path = read(env, name);
  if (path === undefined) return undefined;
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(name, `cannot read '${path}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError(name, `no PEM certificate in '${path}'`);
  for (const block of blocks) {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(block);
    } catch (error) {
      throw new ConfigError(name, `a certificate in '${path}' does not parse: ${(error as Error).message}`);
    }
    if (!certificate.ca) throw new ConfigError(name, `'${certificate.subject.replace(/\n/g, ', ')}' in '${path}' is not a CA certificate`);
  }
  return blocks.join('\n');
}

function httpUrl(name: string, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `not a URL: '${raw}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(name, `expected an http or https URL, got '${raw}'`);
  }
  return url;
}

export function loadConfig(env: Env = process.env): Config {
  const port = integer(env, 'PORT', 8000, 0, 65535);
  const host = read(env, 'HOST') ?? '0.0.0.0';
  const publicUrlRaw = read(env, 'PUBLIC_URL') ?? `http://localhost:${port}`;
  const trusted = read(env, 'TRUSTED_PROXIES') ?? '127.0.0.1,::1';
  const trustedProxies = trusted
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  try {
    compileAddressMatcher(trustedProxies);
  } catch (error) {
    throw new ConfigError('TRUSTED_PROXIES', (error as Error).message);
  }

  return {
    host,
    port,
    reusePort: boolean(env, 'REUSE_PORT', false),
    publicUrl: httpUrl('PUBLIC_URL', publicUrlRaw),
    selfUrl: httpUrl('SELF_URL', read(env, 'SELF_URL') ?? publicUrlRaw),
    dataDir: resolve(read(env, 'DATA_DIR') ?? './data'),
    sqliteWalPresize: boolean(env, 'SQLITE_WAL_PRESIZE', true),
    databaseUrl: databaseUrl(env),
    databaseConnectTimeoutMs: integer(env, 'DATABASE_CONNECT_TIMEOUT_MS', 2000, 100, 60_000),
    databaseQueryTimeoutMs: integer(env, 'DATABASE_QUERY_TIMEOUT_MS', 5000, 100, 600_000),
    databaseStartupWaitMs: integer(env, 'DATABASE_STARTUP_WAIT_MS', 30_000, 0, 600_000),
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    logRequests: boolean(env, 'LOG_REQUESTS', true),
    trustedProxies,
    apiToken: secret(env, 'API_TOKEN'),
    serveStatic: boolean(env, 'SERVE_STATIC', true),
    pageSize: integer(env, 'PAGE_SIZE', 50, 1, 500),
    check: {
      timeoutMs: integer(env, 'CHECK_TIMEOUT_MS', 5000, 100, 120_000),
      connectTimeoutMs: integer(env, 'CHECK_CONNECT_TIMEOUT_MS', 3000, 50, 60_000),
      maxRedirects: integer(env, 'CHECK_MAX_REDIRECTS', 5, 0, 20),
      maxBodyBytes: integer(env, 'CHECK_MAX_BODY_BYTES', 64 * 1024, 1024, 1024 * 1024),
      allowPrivate: boolean(env, 'CHECK_ALLOW_PRIVATE', false),
      mode: oneOf(env, 'CHECK_MODE', ['pool', 'inline'] as const, 'pool'),
      // One thread holds 50 concurrent checks (they wait on I/O); each more costs ~40 MB per process.
      workers: integer(env, 'CHECK_WORKERS', 1, 1, 64),
      concurrentPerWorker: integer(env, 'CHECK_CONCURRENCY_PER_WORKER', 50, 1, 1000),
      maxQueue: integer(env, 'CHECK_MAX_QUEUE', 200, 0, 100_000),
      workerIdleMs: integer(env, 'CHECK_WORKER_IDLE_MS', 30_000, 100, 86_400_000),
      extraCa: caFile(env, 'CHECK_EXTRA_CA_FILE'),
    },
    visitsFlushMs: integer(env, 'VISITS_FLUSH_MS', 1000, 10, 60_000),
    redirectCacheMs: integer(env, 'REDIRECT_CACHE_MS', 1000, 0, 60_000),
    redirectCacheNames: integer(env, 'REDIRECT_CACHE_NAMES', 10_000, 1, 100_000),
    searchBudgetMs: integer(env, 'SEARCH_BUDGET_MS', SEARCH_BUDGET_MS, 0, 4000),
    keepAliveTimeoutMs: integer(env, 'KEEP_ALIVE_TIMEOUT_MS', 75_000, 1000, 600_000),
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 100, 120_000),
    keyCacheMs: integer(env, 'KEY_CACHE_MS', 5000, 0, 60_000),
    sessionTtlDays: integer(env, 'SESSION_TTL_DAYS', 30, 1, 365),
    private: boolean(env, 'PRIVATE', false),
    blocklistRefreshMs: integer(env, 'BLOCKLIST_REFRESH_MS', 5000, 100, 600_000),
    stats: {
      enabled: boolean(env, 'STATS', true),
      flushMs: integer(env, 'STATS_FLUSH_MS', 10_000, 10, 600_000),
      // At least 8: the list's spark reads the last 7 days from the hourly rows.
      hourlyDays: integer(env, 'STATS_HOURLY_DAYS', 35, 8, 3660),
      geoipDbFile: read(env, 'GEOIP_DB_FILE'),
    },
    recheck: {
      intervalMs: Math.round(decimal(env, 'RECHECK_INTERVAL_DAYS', 7, 0, 365) * DAY_MS),
      perMinute: integer(env, 'RECHECK_PER_MINUTE', 60, 1, 6000),
    },
  };
}
