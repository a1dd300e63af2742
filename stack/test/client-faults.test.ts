/**
 * Clients that misbehave, against the native stack as shipped (nginx's limits and timeouts from
 * proxy/, its access log on, the default rate limit, 2 app processes on one SQLite file): a flood
 * of a couple of thousand connections, and a few hundred that drip their requests. Loopback only,
 * bounded in time, everything stopped even when an assertion fails. Latencies are reported as
 * figures (t.diagnostic), never asserted: this machine is shared.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCheckTarget, type Target } from '../../app/test/check/fixtures/target.ts';
import { formPost, httpRequest } from '../../app/test/client.ts';
import { peakRssBytes, rssBytes } from '../../loadtest/src/observers/peak-rss.ts';
import { SuiteCleanups, tempDir } from '../../test/support/index.ts';
import { type Stack, startStack } from '../src/stack.ts';
import type { FloodReport, FloodSpec } from './fixtures/flood.ts';

const FLOOD = new URL('./fixtures/flood.ts', import.meta.url).pathname;

const MiB = 1024 * 1024;
const FLOOD_MS = 4000;
const GET_CONNECTIONS = 1000;
const POST_CONNECTIONS = 1000;
/** POSTs come from 127.0.0.2 … 127.0.0.21: twenty clients, each with its own rate limit, 50 connections each. */
const POST_CLIENTS = 20;
/** The bookmarked site is slow but works: each admitted check holds a slot this long. */
const CHECK_DELAY_MS = 3000;
const HEADER_DRIPPERS = 150;
const BODY_STALLERS = 150;
const BODY_TRICKLERS = 100;
/** proxy/snippets/client-limits.conf, tested as shipped. */
const CLIENT_HEADER_TIMEOUT_MS = 10_000;
const CLIENT_BODY_TIMEOUT_MS = 10_000;

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function latencies(values: readonly number[]): string {
  return `n=${values.length} p50 ${percentile(values, 50).toFixed(1)} ms, p99 ${percentile(values, 99).toFixed(1)} ms, max ${Math.max(...values).toFixed(1)} ms`;
}

/** A redirect every `everyMs` on one kept-alive connection, as a person clicking links would. */
function probeRedirects(stack: Stack, everyMs: number): { stop(): Promise<{ ms: number[]; failures: string[] }> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const ms: number[] = [];
  const failures: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      try {
        const response = await httpRequest(`${stack.url}/steady`, { agent });
        if (response.status === 303) ms.push(performance.now() - started);
        else failures.push(`HTTP ${response.status}`);
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      agent.destroy();
      return { ms, failures };
    },
  };
}

/** One flood process (fixtures/flood.ts); killed if the test ends first. */
async function runFlood(t: TestContext, spec: FloodSpec): Promise<FloodReport> {
  const child = spawn(process.execPath, [FLOOD, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => void child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, `the ${spec.kind} flood failed: ${stderr}`);
  return JSON.parse(stdout) as FloodReport;
}

/**
 * Per method and status, how long nginx took over each request (`request_time`): the server's
 * side of a latency, without the time the flood's own starved processes added. A refused POST
 * reads `GET 429`: error_page serves the 429 page as a GET.
 */
function nginxTimes(accessLog: string): string {
  const times = new Map<string, number[]>();
  for (const line of accessLog.split('\n')) {
    if (line === '') continue;
    const entry = JSON.parse(line) as { method: string; status: number; request_time: number };
    const key = `${entry.method} ${entry.status}`;
    const ms = times.get(key) ?? [];
    ms.push(entry.request_time * 1000);
    times.set(key, ms);
  }
  return [...times]
    .sort()
    .map(([key, ms]) => `${key}: ${latencies(ms)}`)
    .join('; ');
}

function merged(a: FloodReport, b: FloodReport): FloodReport {
  const statuses = { ...a.statuses };
  for (const [status, n] of Object.entries(b.statuses)) statuses[status] = (statuses[status] ?? 0) + n;
  const refusedMs: Record<string, number[]> = {};
  for (const status of new Set([...Object.keys(a.refusedMs), ...Object.keys(b.refusedMs)])) {
    refusedMs[status] = [...(a.refusedMs[status] ?? []), ...(b.refusedMs[status] ?? [])];
  }
  return {
    requests: a.requests + b.requests,
    statuses,
    failures: [...a.failures, ...b.failures],
    refusedMs,
    missingRetryAfter: a.missingRetryAfter + b.missingRetryAfter,
    acknowledged: [...a.acknowledged, ...b.acknowledged],
  };
}

/**
 * Summed over the app processes, asked of each directly: form posts answered, and requests in
 * flight (each scrape counts itself).
 */
async function appFormPosts(stack: Stack): Promise<{ answered: number; inFlight: number }> {
  let answered = 0;
  let inFlight = 0;
  for (const appUrl of stack.appUrls) {
    const metrics = await httpRequest(`${appUrl}/metrics`);
    for (const line of metrics.body.split('\n')) {
      const match = /^http_requests_total\{(.*)\} (\d+)$/.exec(line);
      if (match?.[1]?.includes('method="POST"') && match[1].includes('route="/"')) answered += Number(match[2]);
      const gauge = /^http_requests_in_flight (\d+)$/.exec(line);
      if (gauge) inFlight += Number(gauge[1]);
    }
  }
  return { answered, inFlight };
}

/** Connections Linux has dropped since boot because a listener's accept queue was full. */
function listenOverflows(): number {
  const [names = '', values = ''] = readFileSync('/proc/net/netstat', 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('TcpExt:'));
  return Number(values.split(' ')[names.split(' ').indexOf('ListenOverflows')]);
}

/** nginx's master (its pid file) and its workers (the master's children, as Linux lists them). */
function nginxPids(stateDir: string): number[] {
  const master = Number(readFileSync(join(stateDir, 'nginx', 'nginx.pid'), 'utf8'));
  const workers = readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
  return [master, ...workers];
}

describe('clients that misbehave, through nginx and 2 app processes', { timeout: 120_000 }, () => {
  let stack: Stack;
  let dir: string;
  let target: Target;
  const fixtures = new SuiteCleanups();

  before(async () => {
    dir = tempDir(fixtures, 'linkyard-client-faults-');
    // nginx started by root runs its workers as nobody: they open the access log after a rotation.
    chmodSync(dir, 0o755);
    target = await startCheckTarget(fixtures);
    stack = await startStack({
      instances: 2,
      port: 0,
      stateDir: join(dir, 'state'),
      dataDir: join(dir, 'data'),
      // As shipped but for the target on loopback; LOG_LEVEL info, the default.
      env: { CHECK_ALLOW_PRIVATE: 'true' },
      quiet: true,
    });
    const steady = await httpRequest(`${stack.url}/`, formPost({ longuri: `${target.origin}/title`, shortname: 'steady' }));
    assert.equal(steady.status, 303, steady.body);
  });

  after(async () => {
    await stack?.stop();
    await fixtures.run();
  });

  it('sheds a flood visibly (429 from nginx, 503 + Retry-After from full check queues), keeps every acknowledged bookmark, and recovers', async (t) => {
    const baselineProbe = probeRedirects(stack, 10);
    await sleep(1500);
    const baseline = await baselineProbe.stop();
    assert.deepEqual(baseline.failures, []);

    const withRssBefore = (pids: readonly number[]) => pids.map((pid) => ({ pid, before: rssBytes(pid) ?? 0 }));
    const appsBefore = withRssBefore(stack.pids().filter((pid): pid is number => pid !== undefined));
    const proxiesBefore = withRssBefore(nginxPids(join(dir, 'state')));
    const logLinesBefore = stack.logTail().length;
    const overflowsBefore = listenOverflows();

    // Four processes of 500 connections each: under the common soft limit of 1 024 descriptors a
    // process, and the load is not generated on the event loop that measures the bystander.
    const half = { url: stack.url, durationMs: FLOOD_MS, clients: POST_CLIENTS / 2, targetUri: `${target.origin}/delay/${CHECK_DELAY_MS}` };
    const getHalf = { ...half, kind: 'get', path: '/steady', connections: GET_CONNECTIONS / 2 } as const;
    const postHalf = { ...half, kind: 'post', path: '/', connections: POST_CONNECTIONS / 2 } as const;
    const during = probeRedirects(stack, 50);
    const floodStarted = performance.now();
    const floods = Promise.all([
      runFlood(t, { ...getHalf, firstAddress: 1, namePrefix: 'unused' }),
      runFlood(t, { ...getHalf, firstAddress: 1, namePrefix: 'unused' }),
      runFlood(t, { ...postHalf, firstAddress: 2, namePrefix: 'flood-a' }),
      runFlood(t, { ...postHalf, firstAddress: 2 + POST_CLIENTS / 2, namePrefix: 'flood-b' }),
    ]).then(([getsA, getsB, postsA, postsB]) => [merged(getsA, getsB), merged(postsA, postsB)] as const);
    await sleep(FLOOD_MS);
    // The flood ends; requests still in flight (admitted checks) finish meanwhile.
    const duringFlood = await during.stop();
    const afterFlood = probeRedirects(stack, 50);
    const [gets, posts] = await floods;
    const drainedMs = performance.now() - floodStarted - FLOOD_MS;
    await sleep(3000);
    const recovered = await afterFlood.stop();

    const withPeak = (processes: ReturnType<typeof withRssBefore>) =>
      processes.map(({ pid, before }) => ({ pid, before, peak: peakRssBytes(pid) ?? 0 }));
    const apps = withPeak(appsBefore);
    const proxies = withPeak(proxiesBefore);
    // The tail keeps 500 lines: fewer than that after the flood means none were dropped from it.
    const tailAfter = stack.logTail();
    const floodLogLines = tailAfter.slice(logLinesBefore);

    t.diagnostic(
      `flood: ${GET_CONNECTIONS} GET connections ${JSON.stringify(gets.statuses)}, ${POST_CONNECTIONS} POST connections from ${POST_CLIENTS} addresses ${JSON.stringify(posts.statuses)}, for ${FLOOD_MS} ms`,
    );
    t.diagnostic(
      `POSTs refused by nginx (429) answered in ${latencies(posts.refusedMs['429'] ?? [])}; by a check queue (503) in ${latencies(posts.refusedMs['503'] ?? [])}; the flood's last request ended ${Math.round(drainedMs)} ms after it`,
    );
    t.diagnostic(
      `as nginx timed them (request_time, from the first byte of the request to the last of the answer): ${nginxTimes(readFileSync(stack.accessLogPath, 'utf8'))}`,
    );
    t.diagnostic(
      `redirects by a bystander: before ${latencies(baseline.ms)}; during ${latencies(duringFlood.ms)}; in the 3 s after ${latencies(recovered.ms)} (first ${recovered.ms[0]?.toFixed(1)} ms)`,
    );
    t.diagnostic(
      `RSS before → peak (MiB): apps ${apps.map(({ before, peak }) => `${(before / MiB).toFixed(0)} → ${(peak / MiB).toFixed(0)}`).join(', ')}; nginx ${proxies.map(({ before, peak }) => `${(before / MiB).toFixed(0)} → ${(peak / MiB).toFixed(0)}`).join(', ')}`,
    );
    t.diagnostic(`connections Linux dropped for a full accept queue (nginx's or an app's): ${listenOverflows() - overflowsBefore}`);
    t.diagnostic(
      `${floodLogLines.length} lines in the launcher's output during the flood${floodLogLines.length > 0 ? `, e.g.\n${floodLogLines.slice(-3).join('\n')}` : ''}`,
    );

    // Shed visibly: both kinds of refusal happened, and every 503 said when to come back.
    assert.ok((posts.statuses['429'] ?? 0) > 0, 'nginx refused POSTs over the rate limit with 429');
    assert.ok((posts.statuses['503'] ?? 0) > 0, 'full check queues refused POSTs with 503');
    assert.equal(posts.missingRetryAfter, 0, 'every 503 carries Retry-After');
    // No timeouts, no resets: every request got one of the answers above.
    const floodFailures = [...gets.failures, ...posts.failures];
    assert.deepEqual(
      floodFailures.slice(0, 10),
      [],
      `${floodFailures.length} requests of the flood failed; the kernel dropped ${listenOverflows() - overflowsBefore} connections for a full accept queue; nginx said:\n${floodLogLines
        .filter((line) => line.includes('upstream'))
        .slice(0, 10)
        .join('\n')}`,
    );
    assert.deepEqual(duringFlood.failures, [], 'redirects kept working during the flood');
    assert.deepEqual(recovered.failures, []);
    assert.ok(recovered.ms.length > 10, 'redirects answered after the flood');

    // Nothing acknowledged is lost: every 303 is a bookmark that redirects.
    assert.ok(posts.acknowledged.length > 0, 'some POSTs were admitted');
    for (const name of posts.acknowledged) {
      const response = await httpRequest(`${stack.url}/${name}`);
      assert.equal(response.status, 303, `${name} was acknowledged but does not redirect`);
    }

    // Memory bounded: nothing grew by more than a burst of checks could explain (the bench sees
    // 235 MiB at most per app process under 2 500 creations a second).
    for (const { pid, peak } of apps) assert.ok(peak < 512 * MiB, `app pid ${pid} peaked at ${(peak / MiB).toFixed(0)} MiB`);
    for (const { pid, peak } of proxies) {
      assert.ok(peak < 128 * MiB, `nginx pid ${pid} peaked at ${(peak / MiB).toFixed(0)} MiB`);
    }
    // Refusals are in the access log once, not also a line each in the output.
    assert.ok(tailAfter.length < 500 && floodLogLines.length < 20, `the output got ${floodLogLines.length} lines during the flood`);
  });

  it('closes clients that drip their headers or stall their bodies, keeps bodies dripped steadily from the apps, and redirects keep their latency', async (t) => {
    const baselineProbe = probeRedirects(stack, 20);
    await sleep(1500);
    const baseline = await baselineProbe.stop();
    const postsBefore = await appFormPosts(stack);

    const { port } = new URL(stack.url);
    const sockets: Socket[] = [];
    t.after(() => {
      for (const socket of sockets) socket.destroy();
    });
    type Kind = 'header' | 'body' | 'trickle';
    const closedAfterMs: Record<Kind, number[]> = { header: [], body: [], trickle: [] };
    const answers: Record<Kind, string[]> = { header: [], body: [], trickle: [] };
    const opened = performance.now();
    const closing: Record<Kind, Promise<void>[]> = { header: [], body: [], trickle: [] };
    const kinds: Kind[] = [
      ...Array.from({ length: HEADER_DRIPPERS }, () => 'header' as const),
      ...Array.from({ length: BODY_STALLERS }, () => 'body' as const),
      ...Array.from({ length: BODY_TRICKLERS }, () => 'trickle' as const),
    ];
    for (const [i, kind] of kinds.entries()) {
      // Bodies from addresses of their own: POST / is rate limited per client, and a refusal
      // (429 at once, from one address's 21st POST on) is not what is tested here.
      const localAddress = kind === 'header' ? '127.0.0.1' : `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
      const socket = connect({ port: Number(port), host: '127.0.0.1', localAddress });
      sockets.push(socket);
      let received = '';
      socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
      socket.on('error', () => {});
      // Headers: a byte every 500 ms, never finished. Bodies: complete headers promising 100
      // bytes, then three of them a second apart and nothing more (stalled), or one a second
      // until the test ends (a trickle).
      let bytes: Buffer;
      if (kind === 'header') bytes = Buffer.from(`GET /steady HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'a'.repeat(200)}`);
      else {
        socket.write(
          'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n',
        );
        bytes = Buffer.from(kind === 'body' ? 'abc' : 'x'.repeat(99));
      }
      let sent = 0;
      const timer = setInterval(
        () => {
          if (sent < bytes.length && !socket.destroyed) socket.write(bytes.subarray(sent, ++sent));
        },
        kind === 'header' ? 500 : 1000,
      );
      closing[kind].push(
        new Promise<void>((resolve) => {
          socket.once('close', () => {
            clearInterval(timer);
            closedAfterMs[kind].push(performance.now() - opened);
            answers[kind].push(received.split('\r\n', 1)[0] || '(closed without an answer)');
            resolve();
          });
        }),
      );
    }

    const during = probeRedirects(stack, 20);
    // Midway, every slow client is connected and sending: none of them may be at an app.
    const midway = sleep(5000).then(() => appFormPosts(stack));
    const bound = Math.max(CLIENT_HEADER_TIMEOUT_MS, 3000 + CLIENT_BODY_TIMEOUT_MS) + 5000;
    const allClosed = await Promise.race([
      Promise.all([...closing.header, ...closing.body]).then(() => true),
      sleep(bound).then(() => false),
    ]);
    const redirects = await during.stop();
    const postsAfter = await appFormPosts(stack);
    const { inFlight: inFlightMidway } = await midway;

    const summary = (kind: Kind) => {
      const seen = new Map<string, number>();
      for (const answer of answers[kind]) seen.set(answer, (seen.get(answer) ?? 0) + 1);
      return `${closedAfterMs[kind].length} closed${closedAfterMs[kind].length > 0 ? ` after ${latencies(closedAfterMs[kind])} (${JSON.stringify(Object.fromEntries(seen))})` : ''}`;
    };
    const elapsedMs = performance.now() - opened;
    t.diagnostic(`${HEADER_DRIPPERS} dripping headers: ${summary('header')}`);
    t.diagnostic(`${BODY_STALLERS} stalling bodies: ${summary('body')}`);
    t.diagnostic(
      `${BODY_TRICKLERS} bodies trickling a byte a second: ${summary('trickle')} in ${Math.round(elapsedMs)} ms; form posts that reached an app meanwhile: ${postsAfter.answered - postsBefore.answered} answered, ${inFlightMidway} in flight midway`,
    );
    t.diagnostic(`redirects by a bystander: before ${latencies(baseline.ms)}; meanwhile ${latencies(redirects.ms)}`);

    assert.ok(
      allClosed,
      `nginx closed ${closedAfterMs.header.length + closedAfterMs.body.length} of ${HEADER_DRIPPERS + BODY_STALLERS} slow clients within ${bound} ms`,
    );
    // Closed by nginx's timeouts, not sooner (they were never answered as if complete) and not much later.
    assert.ok(
      Math.min(...closedAfterMs.header) >= CLIENT_HEADER_TIMEOUT_MS - 500,
      `a header dripper closed after ${Math.min(...closedAfterMs.header)} ms`,
    );
    assert.ok(
      Math.min(...closedAfterMs.body) >= 3000 + CLIENT_BODY_TIMEOUT_MS - 500,
      `a body staller closed after ${Math.min(...closedAfterMs.body)} ms`,
    );
    assert.ok(
      answers.body.every((answer) => answer === '(closed without an answer)' || answer.startsWith('HTTP/1.1 408')),
      answers.body.join(', '),
    );
    // client_body_timeout is per read: a steady trickle keeps its connection (up to 16 KiB at a
    // byte a second), but only at nginx, which reads a body whole before passing it on.
    assert.equal(closedAfterMs.trickle.length, 0, 'nginx keeps a body that keeps coming');
    assert.equal(postsAfter.answered - postsBefore.answered, 0, 'no slow body was answered by an app');
    // The scrapes themselves and a bystander's redirect at most; 250 if nginx passed bodies on as they came.
    assert.ok(inFlightMidway <= stack.appUrls.length + 1, `${inFlightMidway} requests in flight at the apps midway`);
    assert.deepEqual(redirects.failures, [], 'every redirect meanwhile was answered');
    assert.ok(redirects.ms.length > 100, `${redirects.ms.length} redirects meanwhile`);
  });
});
