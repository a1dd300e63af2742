/**
 * The check thread's heap limits, and the SQLite visit writer's, hold in a process started with
 * APP_NODE_FLAGS: V8's process-wide heap flags would otherwise win over the thread's
 * resourceLimits (a real Node process, real V8).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { APP_NODE_FLAGS } from '../../../stack/src/app-process.ts';
import { CHECK_THREAD_LIMITS } from '../../src/check/pool-engine.ts';
import { SEARCH_READER_LIMITS } from '../../src/store/sqlite-search-reader.ts';
import { VISIT_WRITER_LIMITS } from '../../src/store/sqlite-visit-writer.ts';

const MiB = 1024 * 1024;

/** Runs in the child: the pool checker, then a thread with PROBE_LIMITS reporting its heap. */
const PROBE = `
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { createChecker } from ${JSON.stringify(new URL('../../src/check/create-checker.ts', import.meta.url).href)};
import { checkConfig } from ${JSON.stringify(new URL('./fixtures/target.ts', import.meta.url).href)};
const newSpace = () => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size;
const mainBefore = getHeapStatistics().heap_size_limit;
const checker = createChecker(checkConfig({ CHECK_MODE: process.env.PROBE_MODE }));
const worker = new Worker(
  "const { getHeapStatistics, getHeapSpaceStatistics } = process.getBuiltinModule('node:v8');" +
  "process.getBuiltinModule('node:worker_threads').parentPort.postMessage([getHeapStatistics().heap_size_limit, getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size]);",
  { eval: true, resourceLimits: JSON.parse(process.env.PROBE_LIMITS) },
);
const [[threadLimit, threadNewSpace]] = await once(worker, 'message');
await worker.terminate();
await checker.close();
process.stdout.write(JSON.stringify({ mainBefore, mainAfter: getHeapStatistics().heap_size_limit, threadLimit, threadNewSpace }));
`;

async function probe(
  mode: 'pool' | 'inline',
  limits: Readonly<Record<string, number>> = CHECK_THREAD_LIMITS,
): Promise<{ mainBefore: number; mainAfter: number; threadLimit: number; threadNewSpace: number }> {
  const child = spawn(process.execPath, [...APP_NODE_FLAGS, '--input-type=module', '-e', PROBE], {
    env: { ...process.env, PROBE_MODE: mode, PROBE_LIMITS: JSON.stringify(limits) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 0, stdout);
  return JSON.parse(stdout) as { mainBefore: number; mainAfter: number; threadLimit: number; threadNewSpace: number };
}

describe('thread heap limits under APP_NODE_FLAGS', () => {
  test('the pool checker lets its threads take CHECK_THREAD_LIMITS; the main heap keeps its own', async () => {
    const { mainBefore, mainAfter, threadLimit, threadNewSpace } = await probe('pool');
    assert.ok(mainBefore >= 128 * MiB, `main heap limit ${mainBefore}`);
    assert.equal(mainAfter, mainBefore, 'the main isolate keeps the limit it started with');
    const limitMb = CHECK_THREAD_LIMITS.maxOldGenerationSizeMb + CHECK_THREAD_LIMITS.maxYoungGenerationSizeMb;
    assert.ok(threadLimit <= limitMb * MiB, `thread heap limit ${threadLimit / MiB} MiB, expected at most ${limitMb}`);
    assert.ok(threadNewSpace < 8 * MiB, `thread new space ${threadNewSpace / MiB} MiB`);
  });

  test('the SQLite threads take VISIT_WRITER_LIMITS and SEARCH_READER_LIMITS, not V8’s defaults, once the pool has cleared the flags', async () => {
    const { threadLimit: unlimited } = await probe('pool', {});
    for (const limits of [VISIT_WRITER_LIMITS, SEARCH_READER_LIMITS]) {
      const { threadLimit } = await probe('pool', limits);
      const limitMb = limits.maxOldGenerationSizeMb + limits.maxYoungGenerationSizeMb;
      assert.ok(threadLimit <= limitMb * MiB, `thread heap limit ${threadLimit / MiB} MiB, expected at most ${limitMb}`);
      assert.ok(unlimited > limitMb * MiB, `without limits the thread takes V8's default, ${unlimited / MiB} MiB`);
    }
  });

  test('without that (inline mode starts no pool), the process flags win: what the pool corrects', async () => {
    const { threadLimit } = await probe('inline');
    assert.ok(threadLimit >= 128 * MiB, `thread heap limit ${threadLimit / MiB} MiB`);
  });
});
