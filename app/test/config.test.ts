import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig } from '../src/config.ts';
import { drainWindowMs } from '../src/drain.ts';

describe('loadConfig', () => {
  it('gives the seed\'s defaults for an empty environment', () => {
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

  it('keeps the app\'s timeouts around nginx\'s upstream keepalive_timeout', () => {
    const upstream = readFileSync(new URL('../../proxy/snippets/upstream.conf', import.meta.url), 'utf8');
    const seconds = Number(/^\s*keepalive_timeout (\d+)s;$/m.exec(upstream)?.[1]);
    assert.ok(seconds > 0, 'snippets/upstream.conf sets keepalive_timeout in seconds');
    const config = loadConfig({});
    // nginx closes an idle connection before Node would, so it never sends on one Node is closing…
    assert.ok(config.keepAliveTimeoutMs > seconds * 1000, `KEEP_ALIVE_TIMEOUT_MS ${config.keepAliveTimeoutMs} > ${seconds} s`);
    // …and a drain outlasts it, so nginx has closed every idle connection before the app gives up.
    assert.ok(drainWindowMs(config.shutdownTimeoutMs) > seconds * 1000, `drain window ${drainWindowMs(config.shutdownTimeoutMs)} ms > ${seconds} s`);
  });

  it('reads every variable it documents', () => {
    const config = loadConfig({
      PORT: '9001',
      HOST: '127.0.0.1',
      REUSE_PORT: 'true',
      PUBLIC_URL: 'https://links.example.org',
      DATA_DIR: '/var/lib/linkyard',
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
    });
    assert.equal(config.port, 9001);
    assert.equal(config.reusePort, true);
    assert.equal(config.publicUrl.origin, 'https://links.example.org');
    assert.equal(config.dataDir, '/var/lib/linkyard');
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
  });

  it('stops with the variable\'s name on a bad value', () => {
    const bad: Array<[Record<string, string>, string]> = [
      [{ PORT: 'eighty' }, 'PORT'],
      [{ PORT: '70000' }, 'PORT'],
      [{ PUBLIC_URL: 'not a url' }, 'PUBLIC_URL'],
      [{ PUBLIC_URL: 'ftp://x' }, 'PUBLIC_URL'],
      [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
      [{ DATABASE_CONNECT_TIMEOUT_MS: '0' }, 'DATABASE_CONNECT_TIMEOUT_MS'],
      [{ DATABASE_QUERY_TIMEOUT_MS: 'forever' }, 'DATABASE_QUERY_TIMEOUT_MS'],
      [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
      [{ LOG_REQUESTS: 'sometimes' }, 'LOG_REQUESTS'],
      [{ REUSE_PORT: 'shared' }, 'REUSE_PORT'],
      [{ CHECK_ALLOW_PRIVATE: 'maybe' }, 'CHECK_ALLOW_PRIVATE'],
      [{ CHECK_TIMEOUT_MS: '-1' }, 'CHECK_TIMEOUT_MS'],
      [{ TRUSTED_PROXIES: '10.0.0.0/99' }, 'TRUSTED_PROXIES'],
      [{ CHECK_MODE: 'threads' }, 'CHECK_MODE'],
      [{ CHECK_WORKER_IDLE_MS: '10' }, 'CHECK_WORKER_IDLE_MS'],
      [{ CHECK_WORKER_IDLE_MS: 'never' }, 'CHECK_WORKER_IDLE_MS'],
    ];
    for (const [env, variable] of bad) {
      assert.throws(() => loadConfig(env), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.variable, variable);
        assert.ok(error.message.startsWith(`${variable}: `));
        return true;
      });
    }
  });
});
