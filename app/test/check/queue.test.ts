/**
 * Admission, cancellation and shutdown, for both checkers: they share the bound, and the pool must
 * keep its threads through cancellations and many checks.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventually } from '../../../test/support/index.ts';
import { createChecker } from '../../src/check/create-checker.ts';
import { DomainError } from '../../src/errors.ts';
import { checkConfig, startCheckTarget } from './fixtures/target.ts';

function oneSlot(mode: 'pool' | 'inline') {
  return createChecker(
    checkConfig({
      CHECK_MODE: mode,
      CHECK_WORKERS: '1',
      CHECK_CONCURRENCY_PER_WORKER: '1',
      CHECK_MAX_QUEUE: '1',
      CHECK_TIMEOUT_MS: '10000',
    }),
  );
}

for (const mode of ['pool', 'inline'] as const) {
  describe(`${mode} checker admission`, () => {
    test('a full queue refuses with CHECK_QUEUE_FULL; an abandoned check leaves the queue or frees its slot', async (t) => {
      const target = await startCheckTarget(t);
      const checker = oneSlot(mode);
      t.after(() => checker.close());
      const slow = `${target.origin}/slow`;

      const runningCaller = new AbortController();
      const running = checker.check(slow, runningCaller.signal);
      const waitingCaller = new AbortController();
      const waiting = checker.check(slow, waitingCaller.signal);
      assert.equal(checker.running, 1);
      assert.equal(checker.queueDepth, 1);

      await assert.rejects(checker.check(slow), (error: unknown) => {
        assert.ok(error instanceof DomainError);
        assert.equal(error.code, 'CHECK_QUEUE_FULL');
        assert.equal(error.statusCode, 503);
        assert.equal(error.retryAfter, 10);
        return true;
      });

      // Abandoned while waiting: gone from the queue, never sent.
      waitingCaller.abort(new Error('caller left'));
      await assert.rejects(waiting, { message: 'caller left' });
      assert.equal(checker.queueDepth, 0);
      assert.ok(await eventually(() => target.requests.length === 1, 5000));

      // Abandoned while running: the caller is answered at once and the check itself stops (its
      // socket closes) long before the 10 s deadline, freeing the slot.  Bounds are loose so a
      // loaded machine does not fail the test; without cancellation it would take the 10 s.
      const started = performance.now();
      runningCaller.abort(new Error('caller left too'));
      await assert.rejects(running, { message: 'caller left too' });
      assert.ok(await eventually(() => checker.running === 0 && target.closedSockets === 1, 5000));
      assert.ok(performance.now() - started < 5000);

      // The slot is usable again (and in the pool, its thread is alive).
      const next = await checker.check(`${target.origin}/title`);
      assert.equal(next.ok, true);
      assert.deepEqual(target.requests, ['/slow', '/title']);
      assert.equal(checker.healthy, true);
    });

    test('a check that waits longer than one deadline for a slot is refused with CHECK_QUEUE_FULL, unsent', async (t) => {
      const target = await startCheckTarget(t);
      const checker = createChecker(
        checkConfig({
          CHECK_MODE: mode,
          CHECK_WORKERS: '1',
          CHECK_CONCURRENCY_PER_WORKER: '1',
          CHECK_MAX_QUEUE: '5',
          CHECK_TIMEOUT_MS: '2000',
        }),
      );
      t.after(() => checker.close());
      // The pool's worker thread starts on the first check: not inside the waits measured here.
      assert.equal((await checker.check(`${target.origin}/title`)).ok, true);
      target.requests.length = 0;
      // Each takes 1.2 s: the second waits 1.2 s (under the 2 s bound), the third would wait 2.4 s.
      const checks = ['a', 'b', 'c'].map((name) => checker.check(`${target.origin}/delay/1200?${name}`));
      const started = performance.now();
      const [first, second, third] = await Promise.allSettled(checks);
      assert.equal(first?.status === 'fulfilled' && first.value.ok, true, JSON.stringify(first));
      assert.equal(second?.status === 'fulfilled' && second.value.ok, true, JSON.stringify(second));
      assert.equal(third?.status, 'rejected');
      assert.ok(third.reason instanceof DomainError && third.reason.code === 'CHECK_QUEUE_FULL', String(third.reason));
      assert.equal(third.reason.retryAfter, 2);
      assert.deepEqual(target.requests, ['/delay/1200', '/delay/1200'], 'the refused check was never sent');
      assert.equal(checker.queueDepth, 0);
      assert.ok(performance.now() - started < 5000);
    });

    test('once the oldest waiting check has waited half a deadline, new checks are refused at once', async (t) => {
      const target = await startCheckTarget(t);
      const checker = createChecker(
        checkConfig({
          CHECK_MODE: mode,
          CHECK_WORKERS: '1',
          CHECK_CONCURRENCY_PER_WORKER: '1',
          CHECK_MAX_QUEUE: '5',
          CHECK_TIMEOUT_MS: '3000',
        }),
      );
      t.after(() => checker.close());
      assert.equal((await checker.check(`${target.origin}/title`)).ok, true);
      // The slot is held until the 3 s deadline; the second check waits behind it.
      const running = checker.check(`${target.origin}/slow`);
      const waiting = checker.check(`${target.origin}/plain`);
      assert.equal(checker.queueDepth, 1);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const asked = performance.now();
      await assert.rejects(checker.check(`${target.origin}/long-title`), { code: 'CHECK_QUEUE_FULL' });
      const answeredMs = performance.now() - asked;
      assert.ok(answeredMs < 500, `refused after ${answeredMs} ms`);
      assert.ok(!target.requests.includes('/long-title'), 'the refused check was never sent');
      await Promise.allSettled([running, waiting]);
    });

    test('an already-aborted signal is refused before anything runs', async (t) => {
      const target = await startCheckTarget(t);
      const checker = oneSlot(mode);
      t.after(() => checker.close());
      await assert.rejects(checker.check(`${target.origin}/title`, AbortSignal.abort(new Error('too late'))), {
        message: 'too late',
      });
      assert.equal(target.connections, 0);
      assert.equal(checker.running, 0);
    });

    test('many checks, more than the slots, all complete', async (t) => {
      const target = await startCheckTarget(t);
      const checker = createChecker(
        // A long deadline: a check waits at most one for a slot, and a loaded machine must not make this test about that.
        checkConfig({
          CHECK_MODE: mode,
          CHECK_WORKERS: '2',
          CHECK_CONCURRENCY_PER_WORKER: '8',
          CHECK_MAX_QUEUE: '500',
          CHECK_TIMEOUT_MS: '20000',
        }),
      );
      t.after(() => checker.close());
      const paths = ['/title', '/hop/2', '/status/404', '/status/403', '/plain'];
      const results = await Promise.all(
        Array.from({ length: 300 }, (_, i) => checker.check(`${target.origin}${paths[i % paths.length]}?n=${i}`)),
      );
      assert.equal(results.filter((result) => result.ok).length, 240);
      assert.equal(results.filter((result) => !result.ok && result.reason === 'http_status').length, 60);
      assert.equal(checker.running, 0);
      assert.equal(checker.queueDepth, 0);
      assert.equal(checker.healthy, true);
      // Keep-alive: far fewer connections than requests.
      assert.ok(target.connections < 100, `${target.connections} connections for ${target.requests.length} requests`);
    });

    test('close() refuses what waits and what comes, ends what runs, and reports unhealthy', async (t) => {
      const target = await startCheckTarget(t);
      const checker = oneSlot(mode);
      assert.equal(checker.healthy, true);
      const running = checker.check(`${target.origin}/slow`);
      const waitingRefused = assert.rejects(checker.check(`${target.origin}/slow`), { code: 'CHECK_QUEUE_FULL' });
      assert.ok(await eventually(() => target.requests.length === 1, 5000));

      const started = performance.now();
      await checker.close();
      assert.equal(checker.healthy, false);
      await waitingRefused;
      await assert.rejects(checker.check(`${target.origin}/title`), { code: 'CHECK_QUEUE_FULL' });
      const ended = await running;
      assert.equal(ended.ok, false);
      assert.ok(performance.now() - started < 5000, 'close did not wait for the 10 s deadline');
    });
  });
}
