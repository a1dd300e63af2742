/**
 * The pool's worker thread starts with the first check and is retired after CHECK_WORKER_IDLE_MS
 * without one (real piscina, real threads): a process that only redirects holds no second isolate.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventually } from '../../../test/support/index.ts';
import { CheckQueue } from '../../src/check/check-queue.ts';
import { checkOptionsFrom, createChecker } from '../../src/check/create-checker.ts';
import { PoolEngine } from '../../src/check/pool-engine.ts';
import { DomainError } from '../../src/errors.ts';
import { checkConfig, startCheckTarget } from './fixtures/target.ts';

describe('pool checker thread lifetime', () => {
  test('no thread until the first check; retired after the idle spell; started again by the next check', async (t) => {
    const target = await startCheckTarget(t);
    const checker = createChecker(checkConfig({ CHECK_MODE: 'pool', CHECK_WORKERS: '1', CHECK_WORKER_IDLE_MS: '300' }));
    t.after(() => checker.close());
    assert.equal(checker.threads, 0, 'no thread before any check');
    assert.equal(checker.healthy, true, 'healthy with no thread: readiness does not need one');

    const first = await checker.check(`${target.origin}/title`);
    assert.equal(first.ok, true);
    assert.equal(checker.threads, 1);

    assert.ok(await eventually(() => checker.threads === 0, 10_000), 'retired after the idle spell');
    assert.equal(checker.healthy, true, 'a retired thread is not a failure');

    const again = await checker.check(`${target.origin}/title`);
    assert.equal(again.ok, true, 'the next check starts a thread again');
    assert.equal(checker.threads, 1);
  });

  test('a check cancelled before its thread has started never runs, and frees its slot at once', async (t) => {
    const target = await startCheckTarget(t);
    const checker = createChecker(
      checkConfig({ CHECK_MODE: 'pool', CHECK_WORKERS: '1', CHECK_CONCURRENCY_PER_WORKER: '1', CHECK_TIMEOUT_MS: '10000' }),
    );
    t.after(() => checker.close());
    assert.equal(checker.threads, 0);
    const caller = new AbortController();
    const abandoned = checker.check(`${target.origin}/slow`, caller.signal);
    // The thread is still starting: the cancel must travel with the task, not be lost on the way.
    caller.abort(new Error('gone before the thread was up'));
    await assert.rejects(abandoned, { message: 'gone before the thread was up' });
    const started = performance.now();
    assert.ok(await eventually(() => checker.running === 0, 5000), 'the slot freed long before the 10 s deadline');
    assert.ok(performance.now() - started < 5000);
    const next = await checker.check(`${target.origin}/title`);
    assert.equal(next.ok, true, 'the one slot is free again');
  });

  test('a thread with a check running is not retired, however long it runs', async (t) => {
    const target = await startCheckTarget(t);
    const checker = createChecker(
      checkConfig({ CHECK_MODE: 'pool', CHECK_WORKERS: '1', CHECK_WORKER_IDLE_MS: '100', CHECK_TIMEOUT_MS: '10000' }),
    );
    t.after(() => checker.close());
    const slow = checker.check(`${target.origin}/slow`);
    assert.ok(await eventually(() => target.requests.length === 1, 5000));
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(checker.threads, 1, 'still there, six idle spells later');
    assert.equal(checker.running, 1);
    await checker.close();
    assert.equal((await slow).ok, false, 'ended by close, not by retirement');
  });

  test('one thread runs its checks side by side, up to CHECK_CONCURRENCY_PER_WORKER at once', async (t) => {
    const target = await startCheckTarget(t);
    const checker = createChecker(
      checkConfig({ CHECK_MODE: 'pool', CHECK_WORKERS: '1', CHECK_CONCURRENCY_PER_WORKER: '5', CHECK_TIMEOUT_MS: '10000' }),
    );
    t.after(() => checker.close());
    // /slow never finishes its headers: each check holds its slot until it is closed.
    const slow = Array.from({ length: 5 }, () => checker.check(`${target.origin}/slow`));
    assert.ok(await eventually(() => target.requests.length === 5, 5000), `the site saw ${target.requests.length} of 5 checks at once`);
    assert.equal(checker.threads, 1);
    await checker.close();
    for (const result of await Promise.all(slow)) assert.equal(result.ok, false);
  });

  test('a thread that dies starting fails its checks at once with CHECKS_UNAVAILABLE, and the next check tries a new thread', async (t) => {
    const target = await startCheckTarget(t);
    const options = checkOptionsFrom(checkConfig({ CHECK_TIMEOUT_MS: '10000' }));
    // A real thread whose heap cannot even hold the check module: it runs out of memory starting.
    // piscina alone would then start no thread again and keep the check queued past any deadline.
    const engine = new PoolEngine(options, {
      workers: 1,
      concurrentPerWorker: 5,
      idleMs: 30_000,
      threadLimits: { maxOldGenerationSizeMb: 4, maxYoungGenerationSizeMb: 2 },
    });
    const checker = new CheckQueue(engine, { slots: 5, maxQueue: 5, timeoutMs: options.timeoutMs });
    t.after(() => checker.close());
    assert.equal(checker.healthy, true, 'no thread has failed yet');

    for (const attempt of ['first', 'next']) {
      const started = performance.now();
      const refusal = await checker.check(`${target.origin}/title`).then(
        (result) => assert.fail(`the ${attempt} check answered ${JSON.stringify(result)}`),
        (error: unknown) => error,
      );
      const waited = performance.now() - started;
      assert.ok(refusal instanceof DomainError && refusal.code === 'CHECKS_UNAVAILABLE', `${attempt}: ${String(refusal)}`);
      assert.equal(refusal.statusCode, 503);
      assert.ok(refusal.retryAfter !== undefined && refusal.retryAfter >= 1);
      assert.match(String((refusal.cause as Error | undefined)?.message), /memory/, 'the cause names why the thread died');
      assert.ok(waited < options.timeoutMs, `the ${attempt} check was answered in ${waited.toFixed(0)} ms, within its deadline`);
      assert.equal(checker.healthy, false, 'readiness reports the check pool unavailable');
      assert.equal(checker.running, 0, 'its slot is free again');
    }
    assert.equal(target.requests.length, 0, 'no check reached the site');
  });
});
