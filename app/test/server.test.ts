import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { APP_NODE_FLAGS } from '../../stack/src/app-process.ts';
import { probeStatus, waitFor } from '../../stack/src/wait.ts';
import { freePort, startTarget, tempDir } from '../../test/support/index.ts';
import { formPost, httpRequest } from './client.ts';
import { htmlPage, refusesConnections } from './helpers.ts';

const SERVER = new URL('../src/server.ts', import.meta.url).pathname;

/** The server as its own process, killed when the test ends; its stdout kept for assertions. */
function startServer(t: TestContext, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [SERVER], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, exited, stdout: () => output };
}

/**
 * One client connection held open the way nginx holds its upstream keepalive connections: a
 * request, its answer, then idle until the next request. Never resends anything.
 */
class KeptConnection {
  readonly #socket: Socket;
  #received = '';
  #waiting: (() => void) | undefined;
  /** The server closed its side (FIN or reset). */
  ended = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.#received += chunk;
      this.#waiting?.();
    });
    const onEnd = () => {
      this.ended = true;
      this.#waiting?.();
    };
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onEnd);
  }

  static async open(port: number): Promise<KeptConnection> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new KeptConnection(socket);
  }

  /** Sends one request and reads its answer (Fastify always sends a content-length). */
  async exchange(
    method: string,
    path: string,
    body?: { type: string; text: string },
  ): Promise<{ status: number; headers: Map<string, string>; body: string }> {
    const head = [`${method} ${path} HTTP/1.1`, 'Host: linkyard', 'Connection: keep-alive'];
    if (body) head.push(`Content-Type: ${body.type}`, `Content-Length: ${Buffer.byteLength(body.text)}`);
    this.#socket.write(`${head.join('\r\n')}\r\n\r\n${body?.text ?? ''}`);
    for (;;) {
      const end = this.#received.indexOf('\r\n\r\n');
      if (end >= 0) {
        const [statusLine = '', ...lines] = this.#received.slice(0, end).split('\r\n');
        const headers = new Map(
          lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
        );
        const length = Number(headers.get('content-length') ?? 0);
        if (this.#received.length >= end + 4 + length) {
          const answer = { status: Number(statusLine.split(' ')[1]), headers, body: this.#received.slice(end + 4, end + 4 + length) };
          this.#received = this.#received.slice(end + 4 + length);
          return answer;
        }
      }
      if (this.ended) throw new Error(`the server closed the connection before answering ${method} ${path}`);
      await new Promise<void>((resolve) => (this.#waiting = resolve));
    }
  }

  /** Resolves once the server has closed its side. */
  async closedByServer(): Promise<void> {
    while (!this.ended) await new Promise<void>((resolve) => (this.#waiting = resolve));
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

function waitReady(url: string): Promise<void> {
  return waitFor(`${url}/readyz`, async () => (await probeStatus(`${url}/readyz`)) === 200, { timeoutMs: 15_000 });
}

describe('the server process', () => {
  it('runs with APP_NODE_FLAGS from `npm run app` too, and V8 takes them', async (t) => {
    const scripts = (
      JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
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

  it('queues up to 4096 unaccepted connections (as net.core.somaxconn allows), not the 511 of Node, for the bursts nginx opens', async (t) => {
    const port = await freePort();
    const { child } = startServer(t, { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: tempDir(t) });
    await waitReady(`http://127.0.0.1:${port}`);
    // For a listening socket, ss reports the backlog the kernel took as Send-Q.
    const ss = spawnSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' });
    assert.equal(ss.status, 0, ss.stderr);
    const sendQ = Number(ss.stdout.trim().split(/\s+/)[2]);
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    assert.equal(sendQ, Math.min(4096, somaxconn), ss.stdout);
    child.kill('SIGTERM');
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
    const env = {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      CHECK_ALLOW_PRIVATE: 'true',
      LOG_LEVEL: 'info',
      VISITS_FLUSH_MS: '60000',
    };
    const child = spawn(process.execPath, [SERVER], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    await waitReady(url);

    const fast = await startTarget(t, htmlPage('fast'));
    // One connection per request (Connection: close), so no idle keep-alive connection makes the
    // drain wait for its client (the next test is about those).
    await httpRequest(`${url}/`, formPost({ longuri: `${fast.url}/`, shortname: 'v' }));
    for (let i = 0; i < 3; i++) await httpRequest(`${url}/v`);

    const inFlight = httpRequest(`${url}/`, formPost({ longuri: `${slow.url}/`, shortname: 'late' }));
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
    const visits = JSON.parse((await httpRequest(`${url}/api/bookmarks/v`)).body) as { visits: number };
    assert.equal(visits.visits, 3);
    assert.equal((await httpRequest(`${url}/late`)).status, 303);
    again.kill('SIGTERM');
    await once(again, 'exit');
  });

  it('drains behind a keep-alive proxy: refuses new connections, answers on open ones with Connection: close, never closes an idle one, exits once they are gone', async (t) => {
    const target = await startTarget(t, htmlPage('kept'));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    // A deadline far beyond this test, so only the connections closing can end the drain.
    const env = {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: tempDir(t),
      CHECK_ALLOW_PRIVATE: 'true',
      SHUTDOWN_TIMEOUT_MS: '60000',
    };
    const { child, exited, stdout } = startServer(t, env);
    await waitReady(url);

    // Two connections, each used once and then idle, as nginx keeps them.
    const first = await KeptConnection.open(port);
    const second = await KeptConnection.open(port);
    t.after(() => {
      first.destroy();
      second.destroy();
    });
    for (const connection of [first, second]) {
      const answer = await connection.exchange('GET', '/healthz');
      assert.equal(answer.status, 200);
      assert.notEqual(answer.headers.get('connection'), 'close');
    }

    child.kill('SIGTERM');
    await waitFor('new connections to be refused', () => refusesConnections(port), { timeoutMs: 10_000, intervalMs: 20 });
    // Idle for a while after SIGTERM: the server closes neither, and keeps running for them.
    await sleep(500);
    assert.equal(first.ended, false, 'an idle connection is left open');
    assert.equal(second.ended, false, 'an idle connection is left open');
    assert.equal(child.exitCode, null, 'still running while connections are open');

    // A GET on one: answered, with Connection: close, and then that connection closes.
    const readiness = await first.exchange('GET', '/readyz');
    assert.equal(readiness.status, 503, 'draining: not ready');
    assert.equal(readiness.headers.get('connection'), 'close');
    await first.closedByServer();
    assert.equal(child.exitCode, null, 'still running: the other connection is open');

    // A POST on the other, as nginx would send one on a connection it picked from its cache.
    const created = await second.exchange('POST', '/api/bookmarks', {
      type: 'application/json',
      text: JSON.stringify({ uri: `${target.url}/`, name: 'drained' }),
    });
    assert.equal(created.status, 201, created.body);
    assert.equal(created.headers.get('connection'), 'close');
    await second.closedByServer();

    const [code] = await exited;
    assert.equal(code, 0);
    assert.doesNotMatch(stdout(), /connections still open/);

    // Nothing was lost: the POST answered during the drain is in the store.
    const again = spawn(process.execPath, [SERVER], { env, stdio: 'ignore' });
    t.after(() => again.kill('SIGKILL'));
    await waitReady(url);
    assert.equal((await httpRequest(`${url}/drained`)).headers.location, `${target.url}/`);
    again.kill('SIGTERM');
    await once(again, 'exit');
  });

  it('closes connections nobody closes once SHUTDOWN_TIMEOUT_MS runs short, and still exits 0', async (t) => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: tempDir(t), SHUTDOWN_TIMEOUT_MS: '3000' };
    const { child, exited, stdout } = startServer(t, env);
    await waitReady(url);

    // A client that keeps its connection idle for longer than the shutdown may last (a browser).
    const idle = await KeptConnection.open(port);
    t.after(() => idle.destroy());
    assert.equal((await idle.exchange('GET', '/healthz')).status, 200);
    child.kill('SIGTERM');
    await idle.closedByServer();
    const [code] = await exited;
    assert.equal(code, 0);
    assert.match(stdout(), /"connections":1,"msg":"connections still open after 2000 ms of draining: closing them"/);
  });
});
