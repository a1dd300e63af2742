import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import { APP_NODE_FLAGS } from '../src/stack/app-process.ts';
import { probeStatus, waitFor } from '../src/stack/wait.ts';
import { form, freePort, htmlPage, startTarget, tempDir } from './helpers.ts';

const SERVER = new URL('../src/server.ts', import.meta.url).pathname;

function waitReady(url: string): Promise<void> {
  return waitFor(`${url}/readyz`, async () => (await probeStatus(`${url}/readyz`)) === 200, { timeoutMs: 15_000 });
}

describe('the server process', () => {
  it('runs with APP_NODE_FLAGS from `npm run app` too, and V8 takes them', async (t) => {
    const scripts = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }).scripts;
    assert.equal(scripts.app, ['exec sh scripts/with-node.sh node', ...APP_NODE_FLAGS, 'app/src/server.ts'].join(' '));

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: tempDir(t) };
    const child = spawn(process.execPath, [...APP_NODE_FLAGS, SERVER], { env, stdio: 'ignore' });
    t.after(() => child.kill('SIGKILL'));
    await waitReady(url);
    // Two semi-spaces of at most 4 MiB each (16 MiB each without the flag).
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const newSpace = Number(/^nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)$/m.exec(metrics)?.[1]);
    assert.ok(newSpace > 0 && newSpace <= 8 * 1024 * 1024, `new space ${newSpace} bytes`);
  });

  it('stops at start-up naming a bad variable', async () => {
    const child = spawn(process.execPath, [SERVER], { env: { ...process.env, PORT: 'eighty' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const [code] = (await once(child, 'exit')) as [number];
    assert.notEqual(code, 0);
    assert.match(stderr, /PORT: expected a whole number, got 'eighty'/);
  });

  it('drains on SIGTERM: readiness 503, requests in flight finish, visits flushed, exit 0', async (t) => {
    const slow = await startTarget(t, (request, response) => setTimeout(() => htmlPage('slow')(request, response), 800));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const dataDir = tempDir(t);
    const env = { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, CHECK_ALLOW_PRIVATE: 'true', LOG_LEVEL: 'info', VISITS_FLUSH_MS: '60000' };
    const child = spawn(process.execPath, [SERVER], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    await waitReady(url);

    const fast = await startTarget(t, htmlPage('fast'));
    await fetch(`${url}/`, { method: 'POST', redirect: 'manual', ...form({ longuri: `${fast.url}/`, shortname: 'v' }) });
    for (let i = 0; i < 3; i++) await fetch(`${url}/v`, { redirect: 'manual' });

    const inFlight = fetch(`${url}/`, { method: 'POST', redirect: 'manual', ...form({ longuri: `${slow.url}/`, shortname: 'late' }) });
    await sleep(200);
    child.kill('SIGTERM');
    const response = await inFlight;
    assert.equal(response.status, 303, 'the request in flight was finished, not dropped');
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 0);
    assert.match(stdout, /"msg":"draining: finishing requests in flight"/);
    assert.match(stdout, /"reqId":/);

    // Back up on the same data: the slow bookmark and the visits are there.
    const again = spawn(process.execPath, [SERVER], { env, stdio: 'ignore' });
    t.after(() => again.kill('SIGKILL'));
    await waitReady(url);
    const visits = (await (await fetch(`${url}/api/bookmarks/v`)).json()) as { visits: number };
    assert.equal(visits.visits, 3);
    assert.equal((await fetch(`${url}/late`, { redirect: 'manual' })).status, 303);
    again.kill('SIGTERM');
    await once(again, 'exit');
  });
});
