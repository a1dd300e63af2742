import assert from 'node:assert/strict';
import { chmodSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { httpRequest, runLoad } from '../../app/test/client.ts';
import { tempDir } from '../../test/support/index.ts';
import { type Stack, startStack } from '../src/stack.ts';

// nginx's access log through a real stack, rotated by size while requests keep coming: the files
// stay bounded, no request fails, and no line is lost at a rotation (only whole old files are
// dropped, oldest first).

const ROTATION = { maxBytes: 64 * 1024, keep: 2, intervalMs: 50 };
const REQUESTS = 6000;
const CONCURRENCY = 8;

function logFiles(path: string): string[] {
  const name = path.slice(dirname(path).length + 1);
  return readdirSync(dirname(path))
    .filter((entry) => entry === name || entry.startsWith(`${name}.`))
    .map((entry) => join(dirname(path), entry));
}

function totalBytes(path: string): number {
  return logFiles(path).reduce((sum, file) => {
    try {
      return sum + statSync(file).size;
    } catch {
      return sum; // renamed away between the listing and the stat
    }
  }, 0);
}

/** The `seq` query parameter of every request in a log file, in file order. */
function seqsIn(file: string): number[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => /"uri":"\/healthz\?seq=(\d+)"/.exec(line)?.[1])
    .filter((seq): seq is string => seq !== undefined)
    .map(Number);
}

describe("nginx's access log in the native stack", { timeout: 120_000 }, () => {
  it('is rotated by size under load: bounded, every request answered, no line lost at a rotation', async (t) => {
    // Stopped before its folder is removed: after() hooks run in the order they were added.
    let started: Stack | undefined;
    t.after(() => started?.stop());
    const dir = tempDir(t, 'linkyard-access-log-');
    // nginx started by root runs its workers as nobody, and a worker opens the new log itself.
    chmodSync(dir, 0o755);
    const stack = await startStack({
      instances: 1,
      port: 0,
      stateDir: join(dir, 'state'),
      dataDir: join(dir, 'data'),
      env: { LOG_LEVEL: 'warn' },
      quiet: true,
      accessLogRotation: ROTATION,
    });
    started = stack;

    let sent = 0;
    let peakBytes = 0;
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    const sampler = setInterval(() => (peakBytes = Math.max(peakBytes, totalBytes(stack.accessLogPath))), 10);
    const load = await runLoad(CONCURRENCY, done, async (_loop, _iteration, agent) => {
      const seq = sent++;
      if (seq >= REQUESTS) {
        finished();
        return undefined;
      }
      const response = await httpRequest(`${stack.url}/healthz?seq=${seq}`, { agent });
      return response.status === 200 ? undefined : `#${seq}: ${response.status}`;
    }).finally(() => clearInterval(sampler));
    assert.deepEqual(load.failures, []);

    // The last request's line reaches the live file: nginx reopened it after every rotation.
    await new Promise((resolve) => setTimeout(resolve, ROTATION.intervalMs * 4));
    const marker = await httpRequest(`${stack.url}/healthz?seq=${REQUESTS}`);
    assert.equal(marker.status, 200);
    const files = logFiles(stack.accessLogPath).sort();
    assert.deepEqual(
      files.map((file) => file.slice(stack.accessLogPath.length)),
      ['', '.1', '.2'],
      'the live file and two rotated ones',
    );
    // nginx writes its lines up to a second late (ACCESS_LOG_BUFFERING).
    let live: number[] = [];
    for (let attempt = 0; attempt < 150 && !live.includes(REQUESTS); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      live = seqsIn(stack.accessLogPath);
    }
    assert.ok(live.includes(REQUESTS), 'the newest request is in access.log');

    // Only whole old files are dropped. The one dropped last may hold lines as new as the start of
    // access.log.2: a worker slow to switch files (a starved machine) wrote them there after the
    // others had moved on. From access.log.1's first line on, every request is in a file kept, up
    // to the few in flight at a rotation.
    const kept = [...seqsIn(`${stack.accessLogPath}.2`), ...seqsIn(`${stack.accessLogPath}.1`), ...live];
    const keptSet = new Set(kept);
    const oldest = Math.min(...kept);
    const from = Math.min(...seqsIn(`${stack.accessLogPath}.1`));
    const missing = (first: number): number => REQUESTS + 1 - first - kept.filter((seq) => seq >= first).length;
    t.diagnostic(
      `${REQUESTS} requests, ${(totalBytes(stack.accessLogPath) / 1024).toFixed(0)} KiB in ${files.length} files at the end, peak ${(peakBytes / 1024).toFixed(0)} KiB; the files hold requests ${oldest}–${REQUESTS}, ${missing(oldest)} of them missing, ${missing(from)} since ${from}`,
    );
    assert.ok(missing(from) <= CONCURRENCY, `${missing(from)} requests between ${from} and ${REQUESTS} are in no file`);
    assert.equal(keptSet.size, kept.length, 'no line written twice');
    assert.ok(kept.length < REQUESTS / 2, `rotation dropped old lines (${kept.length} kept)`);

    // Bounded: three files of the set size, plus what is written between two looks at the size
    // (generous: a loaded machine delays the looks; unbounded, the log would reach about 1.7 MiB).
    const bound = (ROTATION.keep + 1) * ROTATION.maxBytes + 512 * 1024;
    assert.ok(peakBytes < bound, `the log files reached ${peakBytes} bytes; the bound is ${bound}`);
  });

  it("warns at start, run as root, when nginx's workers could not reopen the log after a rotation", {
    skip: process.getuid?.() !== 0 && 'only as root do the workers run as another user',
  }, async (t) => {
    let started: Stack | undefined;
    t.after(() => started?.stop());
    const dir = tempDir(t, 'linkyard-access-log-closed-'); // 0700: nobody may enter
    const stack = await startStack({
      instances: 1,
      port: 0,
      stateDir: join(dir, 'state'),
      dataDir: join(dir, 'data'),
      env: { LOG_LEVEL: 'warn' },
      quiet: true,
    });
    started = stack;
    const warning = stack.logTail().find((line) => line.includes('warning: run as root'));
    assert.ok(warning?.includes(`cannot enter ${dir} (no o+x)`), warning);
  });
});
