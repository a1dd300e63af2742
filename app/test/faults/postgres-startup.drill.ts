import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { probeStatus, waitFor } from '../../../stack/src/wait.ts';
import { freePort, tempDir } from '../../../test/support/index.ts';
import { PostgresStore } from '../../src/store/postgres.ts';
import { startThrowawayPostgres, type ThrowawayPostgres, throwawayPostgresSkip } from './throwaway-postgres.ts';

// Start-up against a PostgreSQL of the test's own that is not there yet, as on a busy Swarm host
// where the apps start before the database accepts connections; and processes starting together
// on a database without pg_trgm, each creating it.

const SERVER = new URL('../../src/server.ts', import.meta.url).pathname;
const DATABASE_AWAY_MS = 3000;

/** The server as its own process, killed when the test ends; its stdout kept for assertions. */
function startServer(t: TestContext, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [SERVER], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, exited, stdout: () => output };
}

async function stoppedPostgres(t: TestContext): Promise<ThrowawayPostgres> {
  const pg = await startThrowawayPostgres();
  t.after(() => pg.destroy());
  await pg.stop();
  return pg;
}

function appEnv(t: TestContext, url: string, port: number, waitMs: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: tempDir(t),
    DATABASE_URL: url,
    DATABASE_CONNECT_TIMEOUT_MS: '1000',
    DATABASE_STARTUP_WAIT_MS: String(waitMs),
    LOG_LEVEL: 'info',
  };
}

describe('PostgreSQL at start-up', { skip: throwawayPostgresSkip }, () => {
  test('the app waits for a database that comes up seconds after it, saying so each attempt, then serves', async (t) => {
    const pg = await stoppedPostgres(t);
    const port = await freePort();
    const { child, exited, stdout } = startServer(t, appEnv(t, pg.url, port, 30_000));
    await sleep(DATABASE_AWAY_MS);
    await pg.start();
    await waitFor('the app ready', async () => (await probeStatus(`http://127.0.0.1:${port}/readyz`)) === 200, { timeoutMs: 30_000 });
    // It did not exit when the first connection failed; stopped now, so its buffered log is written.
    child.kill('SIGTERM');
    assert.deepEqual(await exited, [0, null]);
    const attempts = stdout()
      .split('\n')
      .filter((line) => line.includes('database not reachable at start-up'))
      .map((line) => JSON.parse(line) as { attempt: number; retryInMs: number; level: number });
    // 250, 500, 1000, 2000 ms… while the database was away (the process's own start takes part of
    // the 3 s on a busy machine, so how many is not fixed).
    assert.ok(attempts.length >= 1, stdout());
    assert.deepEqual(
      attempts.map((line) => line.attempt),
      attempts.map((_, index) => index + 1),
    );
    assert.ok(attempts.every((line, index) => line.retryInMs === Math.min(250 * 2 ** index, 5000)));
  });

  test('with DATABASE_STARTUP_WAIT_MS=0 it exits at once, as before', async (t) => {
    const pg = await stoppedPostgres(t);
    const { exited, stdout } = startServer(t, appEnv(t, pg.url, await freePort(), 0));
    const [code] = await exited;
    assert.equal(code, 1);
    assert.ok(!stdout().includes('trying again'), stdout());
  });

  test('gives up after DATABASE_STARTUP_WAIT_MS when the database stays away, and exits 1', async (t) => {
    const pg = await stoppedPostgres(t);
    const started = performance.now();
    const { exited, stdout } = startServer(t, appEnv(t, pg.url, await freePort(), 2000));
    const [code] = await exited;
    assert.equal(code, 1);
    // 250 + 500 + 1000 ms of waits fit in 2 s; the next (2000 ms) does not.
    assert.equal(
      stdout()
        .split('\n')
        .filter((line) => line.includes('trying again')).length,
      3,
      stdout(),
    );
    assert.ok(performance.now() - started < 15_000);
  });

  test('processes starting together on a database without pg_trgm all create the search index without an error', async (t) => {
    const pg = await startThrowawayPostgres();
    t.after(() => pg.destroy());
    // Eight at once, as the replicas of a service do: without the lock, CREATE EXTENSION IF NOT
    // EXISTS raced into a unique violation on pg_extension.
    const stores = Array.from({ length: 8 }, () => new PostgresStore({ connectionString: pg.url }));
    t.after(() => Promise.all(stores.map((store) => store.close())));
    await Promise.all(stores.map((store) => store.migrate()));
    const steps = await Promise.allSettled(stores.map((store) => store.searchIndexStep()));
    assert.deepEqual(
      steps.filter((step) => step.status === 'rejected').map((step) => String(step.reason)),
      [],
    );
    // One built it; the others found it being built. Once done, every process finds it ready.
    assert.ok(steps.some((step) => step.status === 'fulfilled' && step.value));
    assert.deepEqual(
      await Promise.all(stores.map((store) => store.searchIndexStep())),
      stores.map(() => true),
    );
  });
});
