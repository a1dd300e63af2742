import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Agent } from 'node:http';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { httpRequest, runLoad } from '../../app/test/client.ts';
import { freePort, tempDir } from '../../test/support/index.ts';
import { APP_MALLOC_ENV, AppProcess } from '../src/app-process.ts';

// One supervised app process, as the stack runs each: real processes on a real port, with clients
// talking to the port directly (no nginx), so whatever they see is the port's own behaviour.

async function startProcess(t: TestContext): Promise<{ app: AppProcess; dataDir: string; lines: string[] }> {
  const port = await freePort();
  const dataDir = join(tempDir(t), 'data');
  const lines: string[] = [];
  const app = new AppProcess({
    name: 'app1',
    port,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', REUSE_PORT: 'true', DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
    log: (source, line) => lines.push(`${source} | ${line}`),
  });
  t.after(() => app.stop());
  await app.start();
  return { app, dataDir, lines };
}

describe('AppProcess', () => {
  it('starts the process with APP_MALLOC_ENV in its environment, where glibc reads it', async (t) => {
    const { app } = await startProcess(t);
    const environ = readFileSync(`/proc/${app.pid}/environ`, 'utf8').split('\0');
    for (const [name, value] of Object.entries(APP_MALLOC_ENV)) assert.ok(environ.includes(`${name}=${value}`), `${name}=${value}`);
  });
});

describe('AppProcess#replace', { timeout: 90_000 }, () => {
  it('starts the successor next to the running process, so the port answers every request throughout', async (t) => {
    const { app } = await startProcess(t);
    const before = app.pid;
    assert.ok(before !== undefined, 'the app is running');
    // Clients that never resend, each on a keep-alive connection; the one being drained is
    // answered `Connection: close` and the next request goes out on a new connection.
    const load = await runLoad(4, app.replace(), async (loop, i, agent: Agent) => {
      const response = await httpRequest(`${app.url}/healthz`, { agent, resend: false });
      return response.status === 200 ? undefined : `loop ${loop} #${i}: ${response.status}`;
    });
    assert.deepEqual(load.failures, [], 'no connection refused or reset, no request failed');
    assert.ok(load.requests > 20, `steady load: ${load.requests} requests`);
    assert.notEqual(app.pid, before);
    assert.throws(() => process.kill(before, 0), { code: 'ESRCH' }, 'the old process has exited');
    assert.equal((await httpRequest(`${app.url}/readyz`)).status, 200);
  });

  it('keeps the running process when its successor does not start', async (t) => {
    const { app, dataDir, lines } = await startProcess(t);
    const before = app.pid;
    // The running process keeps its open SQLite file; a new one finds a file where its data
    // folder should be, and stops at start-up.
    renameSync(dataDir, `${dataDir}-moved`);
    writeFileSync(dataDir, 'not a folder');

    await assert.rejects(app.replace(), /exited before it was ready/);
    assert.equal(app.pid, before, 'the old process is still the one supervised');
    assert.equal(app.ready, true);
    assert.equal((await httpRequest(`${app.url}/healthz`)).status, 200, 'and it still answers on the port');
    assert.ok(
      lines.some((line) => /exited \(code [1-9]\d*\)/.test(line)),
      `the failed successor's exit is reported:\n${lines.join('\n')}`,
    );
  });
});
