import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { parse as parseConnectionString } from 'pg-connection-string';
import { tempDir } from '../../test/support/index.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { drainWindowMs } from '../src/drain.ts';

describe('loadConfig', () => {
  it("gives the seed's defaults for an empty environment", () => {
    const config = loadConfig({});
    assert.equal(config.port, 8000);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.publicUrl.href, 'http://localhost:8000/');
    assert.equal(config.databaseUrl, undefined);
    assert.match(config.dataDir, /\/data$/);
    assert.equal(config.check.allowPrivate, false);
    assert.equal(config.check.timeoutMs, 5000);
    assert.equal(config.check.maxRedirects, 5);
    assert.equal(config.check.maxBodyBytes, 65536);
    assert.equal(config.check.workerIdleMs, 30_000);
    assert.equal(config.logRequests, true, 'an app alone logs its requests');
    assert.equal(config.reusePort, false, 'a taken port is an error, not shared');
  });

  it("keeps the app's timeouts around nginx's upstream keepalive_timeout", () => {
    const upstream = readFileSync(new URL('../../proxy/snippets/upstream.conf', import.meta.url), 'utf8');
    const seconds = Number(/^\s*keepalive_timeout (\d+)s;$/m.exec(upstream)?.[1]);
    assert.ok(seconds > 0, 'snippets/upstream.conf sets keepalive_timeout in seconds');
    const config = loadConfig({});
    // nginx closes an idle connection before Node would, so it never sends on one Node is closing…
    assert.ok(config.keepAliveTimeoutMs > seconds * 1000, `KEEP_ALIVE_TIMEOUT_MS ${config.keepAliveTimeoutMs} > ${seconds} s`);
    // …and a drain outlasts it, so nginx has closed every idle connection before the app gives up.
    assert.ok(
      drainWindowMs(config.shutdownTimeoutMs) > seconds * 1000,
      `drain window ${drainWindowMs(config.shutdownTimeoutMs)} ms > ${seconds} s`,
    );
  });

  it('reads every variable it documents', () => {
    const config = loadConfig({
      PORT: '9001',
      HOST: '127.0.0.1',
      REUSE_PORT: 'true',
      PUBLIC_URL: 'https://links.example.org',
      DATA_DIR: '/var/lib/linkyard',
      SQLITE_WAL_PRESIZE: 'false',
      DATABASE_URL: 'postgres://u@db/linkyard',
      LOG_LEVEL: 'warn',
      LOG_REQUESTS: 'false',
      TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1',
      API_TOKEN: 'tok',
      SERVE_STATIC: 'false',
      CHECK_ALLOW_PRIVATE: 'true',
      CHECK_TIMEOUT_MS: '2500',
      CHECK_WORKER_IDLE_MS: '600000',
      CHECK_MODE: 'inline',
      DATABASE_CONNECT_TIMEOUT_MS: '1500',
      DATABASE_QUERY_TIMEOUT_MS: '3000',
      DATABASE_STARTUP_WAIT_MS: '0',
    });
    assert.equal(config.port, 9001);
    assert.equal(config.reusePort, true);
    assert.equal(config.publicUrl.origin, 'https://links.example.org');
    assert.equal(config.dataDir, '/var/lib/linkyard');
    assert.equal(config.sqliteWalPresize, false);
    assert.equal(loadConfig({}).sqliteWalPresize, true);
    assert.equal(config.databaseUrl, 'postgres://u@db/linkyard');
    assert.equal(config.logLevel, 'warn');
    assert.equal(config.logRequests, false);
    assert.deepEqual(config.trustedProxies, ['10.0.0.0/8', '127.0.0.1']);
    assert.equal(config.apiToken, 'tok');
    assert.equal(config.serveStatic, false);
    assert.equal(config.check.allowPrivate, true);
    assert.equal(config.check.timeoutMs, 2500);
    assert.equal(config.check.workerIdleMs, 600_000);
    assert.equal(config.check.mode, 'inline');
    assert.equal(config.databaseConnectTimeoutMs, 1500);
    assert.equal(config.databaseQueryTimeoutMs, 3000);
    assert.equal(config.databaseStartupWaitMs, 0);
    assert.equal(loadConfig({}).databaseStartupWaitMs, 30_000);
  });

  it("stops with the variable's name on a bad value", () => {
    assert.deepEqual(loadConfig({}).recheck, { intervalMs: 7 * 24 * 60 * 60 * 1000, perMinute: 60 }, 'weekly, a minute apart');
    assert.equal(loadConfig({ RECHECK_INTERVAL_DAYS: '0.5' }).recheck.intervalMs, 12 * 60 * 60 * 1000, 'a fraction of a day');
    assert.equal(loadConfig({ RECHECK_INTERVAL_DAYS: '0' }).recheck.intervalMs, 0, 'off');
    assert.equal(loadConfig({ REDIRECT_CACHE_NAMES: '100000' }).redirectCacheNames, 100_000, 'the most names');
    assert.deepEqual(
      [loadConfig({}).searchBudgetMs, loadConfig({ SEARCH_BUDGET_MS: '0' }).searchBudgetMs],
      [100, 0],
      'a search budget, and 0: one window a request',
    );
    const bad: Array<[Record<string, string>, string]> = [
      [{ PORT: 'eighty' }, 'PORT'],
      [{ PORT: '70000' }, 'PORT'],
      [{ PUBLIC_URL: 'not a url' }, 'PUBLIC_URL'],
      [{ PUBLIC_URL: 'ftp://x' }, 'PUBLIC_URL'],
      [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
      [{ DATABASE_CONNECT_TIMEOUT_MS: '0' }, 'DATABASE_CONNECT_TIMEOUT_MS'],
      [{ DATABASE_QUERY_TIMEOUT_MS: 'forever' }, 'DATABASE_QUERY_TIMEOUT_MS'],
      [{ DATABASE_STARTUP_WAIT_MS: '-1' }, 'DATABASE_STARTUP_WAIT_MS'],
      [{ DATABASE_STARTUP_WAIT_MS: '700000' }, 'DATABASE_STARTUP_WAIT_MS'],
      [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
      [{ LOG_REQUESTS: 'sometimes' }, 'LOG_REQUESTS'],
      [{ REUSE_PORT: 'shared' }, 'REUSE_PORT'],
      [{ SQLITE_WAL_PRESIZE: 'sometimes' }, 'SQLITE_WAL_PRESIZE'],
      [{ CHECK_ALLOW_PRIVATE: 'maybe' }, 'CHECK_ALLOW_PRIVATE'],
      [{ CHECK_TIMEOUT_MS: '-1' }, 'CHECK_TIMEOUT_MS'],
      [{ TRUSTED_PROXIES: '10.0.0.0/99' }, 'TRUSTED_PROXIES'],
      [{ CHECK_MODE: 'threads' }, 'CHECK_MODE'],
      [{ CHECK_WORKER_IDLE_MS: '10' }, 'CHECK_WORKER_IDLE_MS'],
      [{ CHECK_WORKER_IDLE_MS: 'never' }, 'CHECK_WORKER_IDLE_MS'],
      [{ RECHECK_INTERVAL_DAYS: 'weekly' }, 'RECHECK_INTERVAL_DAYS'],
      [{ RECHECK_INTERVAL_DAYS: '-1' }, 'RECHECK_INTERVAL_DAYS'],
      [{ RECHECK_INTERVAL_DAYS: '1e3' }, 'RECHECK_INTERVAL_DAYS'],
      [{ RECHECK_INTERVAL_DAYS: '366' }, 'RECHECK_INTERVAL_DAYS'],
      [{ RECHECK_PER_MINUTE: '0' }, 'RECHECK_PER_MINUTE'],
      [{ RECHECK_PER_MINUTE: '1.5' }, 'RECHECK_PER_MINUTE'],
      // About 310 bytes of heap a name: more would not fit the apps' old generation.
      [{ REDIRECT_CACHE_NAMES: '100001' }, 'REDIRECT_CACHE_NAMES'],
      // Below the 5 s statement timeout, which would cancel the index first.
      [{ SEARCH_BUDGET_MS: '4001' }, 'SEARCH_BUDGET_MS'],
      [{ SEARCH_BUDGET_MS: '-1' }, 'SEARCH_BUDGET_MS'],
    ];
    for (const [env, variable] of bad) {
      assert.throws(
        () => loadConfig(env),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.equal(error.variable, variable);
          assert.ok(error.message.startsWith(`${variable}: `));
          return true;
        },
      );
    }
  });
});

describe('secrets from files (Docker secrets)', () => {
  function secretFile(t: TestContext, content: string): string {
    const path = join(tempDir(t, 'linkyard-secret-'), 'secret');
    writeFileSync(path, content);
    return path;
  }

  function configError(env: Record<string, string>): ConfigError {
    try {
      loadConfig(env);
    } catch (error) {
      assert.ok(error instanceof ConfigError, `a ConfigError, got ${String(error)}`);
      return error;
    }
    assert.fail(`accepted ${JSON.stringify(env)}`);
  }

  it('reads API_TOKEN from API_TOKEN_FILE, without the line break echo adds', (t) => {
    assert.equal(loadConfig({ API_TOKEN_FILE: secretFile(t, 's3cret\n') }).apiToken, 's3cret');
    assert.equal(loadConfig({ API_TOKEN_FILE: secretFile(t, 'keeps  inner\nlines') }).apiToken, 'keeps  inner\nlines');
    assert.equal(loadConfig({ API_TOKEN_FILE: secretFile(t, '') }).apiToken, undefined, 'an empty file leaves deleting disabled');
    assert.equal(
      loadConfig({ API_TOKEN_FILE: secretFile(t, '\n') }).apiToken,
      undefined,
      'so does one empty line (Swarm refuses a 0-byte secret)',
    );
  });

  it('puts the password from DATABASE_PASSWORD_FILE into DATABASE_URL, encoded so the driver reads it back', (t) => {
    const password = 'p%w@d:x/y ?#';
    const config = loadConfig({
      DATABASE_URL: 'postgres://linkyard@postgres:5432/linkyard',
      DATABASE_PASSWORD_FILE: secretFile(t, `${password}\n`),
    });
    assert.ok(config.databaseUrl !== undefined);
    const parsed = parseConnectionString(config.databaseUrl);
    assert.equal(parsed.password, password);
    assert.equal(parsed.user, 'linkyard');
    assert.equal(parsed.host, 'postgres');
    assert.equal(parsed.database, 'linkyard');
  });

  it('stops naming the _FILE variable when the file cannot be used', (t) => {
    const missing = join(tempDir(t), 'no-such-file');
    const cases: Array<[Record<string, string>, string, RegExp]> = [
      [{ API_TOKEN_FILE: missing }, 'API_TOKEN_FILE', /cannot read .*ENOENT/],
      [{ API_TOKEN_FILE: tempDir(t) }, 'API_TOKEN_FILE', /cannot read .*EISDIR/],
      [{ API_TOKEN: 'a', API_TOKEN_FILE: secretFile(t, 'b') }, 'API_TOKEN_FILE', /not both/],
      [{ DATABASE_URL: 'postgres://u@db/x', DATABASE_PASSWORD_FILE: missing }, 'DATABASE_PASSWORD_FILE', /cannot read .*ENOENT/],
      [{ DATABASE_URL: 'postgres://u@db/x', DATABASE_PASSWORD_FILE: secretFile(t, '\n') }, 'DATABASE_PASSWORD_FILE', /is empty/],
      [
        { DATABASE_URL: 'postgres://u:pw@db/x', DATABASE_PASSWORD_FILE: secretFile(t, 'pw') },
        'DATABASE_PASSWORD_FILE',
        /has a password already/,
      ],
      [{ DATABASE_PASSWORD_FILE: secretFile(t, 'pw') }, 'DATABASE_PASSWORD_FILE', /without DATABASE_URL/],
    ];
    for (const [env, variable, message] of cases) {
      const error = configError(env);
      assert.equal(error.variable, variable, JSON.stringify(env));
      assert.match(error.message, message);
    }
  });
});
