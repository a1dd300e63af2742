/**
 * Check targets that attack the checker rather than fail: a gzip bomb, a body dripped a byte a
 * second, headers that never end, two hosts redirecting to each other. Each is a real server on
 * loopback. Every check must end with a verdict and its reason within the deadline, and the
 * process's memory must not jump: RSS is sampled while the check runs (the pool's worker thread
 * is in this process too) and its peak compared with the level before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, type TestContext, test } from 'node:test';
import { eventually } from '../../../test/support/index.ts';
import { createChecker } from '../../src/check/create-checker.ts';
import type { CheckResult, UriChecker } from '../../src/check/types.ts';
import { BIG_PAGE_TITLE, checkConfig, gzipBombMember, startCheckTarget, TITLE_TEXT } from './fixtures/target.ts';

const MiB = 1024 * 1024;
/**
 * How much the process may grow during one hostile check. A bomb inflated past the 64 KiB cap
 * grows it by hundreds of MiB within the deadline (its server sends 16 MiB of spaces per 16 KiB);
 * undici's and zlib's buffers, a worker's heap growing a little, stay well under this.
 */
const RSS_TOLERANCE = 48 * MiB;
const DEADLINE_MS = 1500;

/** Runs `check` while sampling RSS every 2 ms; the result, how long it took, and the growth seen. */
async function measured(check: () => Promise<CheckResult>): Promise<{ result: CheckResult; elapsedMs: number; rssGrowth: number }> {
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 2);
  const started = performance.now();
  try {
    const result = await check();
    return { result, elapsedMs: performance.now() - started, rssGrowth: Math.max(peak, process.memoryUsage.rss()) - baseline };
  } finally {
    clearInterval(sampler);
  }
}

function report(t: TestContext, what: string, run: { result: CheckResult; elapsedMs: number; rssGrowth: number }): void {
  const verdict = run.result.ok
    ? `accepted (HTTP ${run.result.status}, title ${JSON.stringify(run.result.title)})`
    : `${run.result.reason}: ${run.result.detail}`;
  t.diagnostic(`${what}: ${verdict} in ${Math.round(run.elapsedMs)} ms, RSS +${(run.rssGrowth / MiB).toFixed(1)} MiB`);
}

function assertBounded(run: { elapsedMs: number; rssGrowth: number }): void {
  assert.ok(run.elapsedMs < DEADLINE_MS + 1000, `took ${Math.round(run.elapsedMs)} ms; the deadline is ${DEADLINE_MS} ms`);
  assert.ok(run.rssGrowth < RSS_TOLERANCE, `RSS grew ${(run.rssGrowth / MiB).toFixed(1)} MiB during the check`);
}

for (const mode of ['pool', 'inline'] as const) {
  describe(`${mode} checker against hostile targets`, () => {
    let checker: UriChecker;
    before(async () => {
      checker = createChecker(checkConfig({ CHECK_MODE: mode, CHECK_TIMEOUT_MS: String(DEADLINE_MS), CHECK_MAX_BODY_BYTES: '65536' }));
      // The worker thread starts, and undici's agent is made, before anything is measured.
      const warm = await startCheckTarget({ after: (cleanup) => void after(cleanup) });
      await checker.check(`${warm.origin}/title`);
    });
    after(() => checker.close());

    test('a compressed page (gzip, br) is decoded and its title found', async (t) => {
      const target = await startCheckTarget(t);
      for (const encoding of ['gzip', 'br']) {
        const result = await checker.check(`${target.origin}/compressed/${encoding}`);
        assert.equal(result.ok, true, JSON.stringify(result));
        assert.equal(result.ok && result.title, TITLE_TEXT, encoding);
      }
    });

    test("a large page, plain or gzipped at a real page's ratio, is accepted: its title after 60 KiB of CSS, or none past the 64 KiB cap", async (t) => {
      const target = await startCheckTarget(t);
      for (const encoding of ['identity', 'gzip']) {
        // The title after 60 KiB of inline CSS, found just before the cap; or past it, where the
        // check stops reading at the cap and judges the ratio (5× here) before accepting.
        const titled = await measured(() => checker.check(`${target.origin}/big-page/${encoding}/titled`));
        report(t, `big ${encoding} page`, titled);
        assert.deepEqual(
          [titled.result.ok, titled.result.ok && titled.result.title],
          [true, BIG_PAGE_TITLE],
          JSON.stringify(titled.result),
        );
        const late = await measured(() => checker.check(`${target.origin}/big-page/${encoding}/late`));
        report(t, `big ${encoding} page, title past the cap`, late);
        assert.deepEqual([late.result.ok, late.result.ok && late.result.title], [true, null], JSON.stringify(late.result));
        assertBounded(late);
        assert.ok(late.result.durationMs < DEADLINE_MS, `${late.result.durationMs} ms: it read until the deadline`);
      }
    });

    test('a gzip bomb fails as a compression bomb once 64 KiB are inflated, and memory stays flat', async (t) => {
      const target = await startCheckTarget(t);
      gzipBombMember(); // the server's 16 MiB of spaces, compressed before memory is measured
      const run = await measured(() => checker.check(`${target.origin}/gzip-bomb`));
      report(t, 'gzip bomb', run);
      assert.equal(run.result.ok, false, JSON.stringify(run.result));
      assert.equal(!run.result.ok && run.result.reason, 'compression_bomb');
      const ratio = Number(
        /^the page is a compression bomb \(its gzip expands (\d+)×, over 100×\)$/.exec((!run.result.ok && run.result.detail) || '')?.[1],
      );
      assert.ok(ratio > 100, JSON.stringify(run.result));
      assert.equal(run.result.status, 200);
      assertBounded(run);
      assert.ok(run.result.durationMs < DEADLINE_MS, `${run.result.durationMs} ms: it read until the deadline`);
      const sent = target.endlessBytes;
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(target.endlessBytes, sent, 'the server is no longer sending');
      // Most of it never left the socket buffers: the check read a few KiB of it.
      t.diagnostic(`the bomb's server wrote ${(sent / MiB).toFixed(1)} MiB of gzip (a thousand times that inflated) before it was cut off`);
    });

    test('a body dripped a byte a second fails at the deadline: the site did not answer in time', async (t) => {
      const target = await startCheckTarget(t);
      const run = await measured(() => checker.check(`${target.origin}/drip`));
      report(t, 'dripped body', run);
      assert.deepEqual(
        [run.result.ok, !run.result.ok && run.result.reason, !run.result.ok && run.result.detail, run.result.status],
        [false, 'timeout', `timed out reading the page after ${DEADLINE_MS} ms`, 200],
      );
      assert.ok(run.result.durationMs >= DEADLINE_MS - 10, `${run.result.durationMs} ms`);
      assertBounded(run);
      assert.equal(await eventually(() => target.closedSockets >= target.connections, 2000), true, 'the dripping connection was closed');
    });

    test('headers that never end: a timeout when slow, an overflow when fast', async (t) => {
      const target = await startCheckTarget(t);
      const slow = await measured(() => checker.check(`${target.origin}/endless-headers/slow`));
      report(t, 'slow endless headers', slow);
      assert.deepEqual(
        [slow.result.ok, !slow.result.ok && slow.result.reason, !slow.result.ok && slow.result.detail],
        [false, 'timeout', `timed out after ${DEADLINE_MS} ms`],
      );
      assertBounded(slow);

      const fast = await measured(() => checker.check(`${target.origin}/endless-headers/fast`));
      report(t, 'fast endless headers', fast);
      assert.equal(fast.result.ok, false);
      assert.equal(!fast.result.ok && fast.result.detail, 'the response headers never ended (over 16 KiB)');
      assertBounded(fast);
      assert.ok(fast.result.durationMs < DEADLINE_MS, `${fast.result.durationMs} ms: it waited for the deadline`);
    });

    test('two hosts redirecting to each other: a loop, or past the redirect limit', async (t) => {
      const a = await startCheckTarget(t);
      const b = await startCheckTarget(t, '::1');
      const loop = await measured(() => checker.check(`${a.origin}/pingpong?peer=${encodeURIComponent(b.origin)}`));
      report(t, 'two-host loop', loop);
      assert.deepEqual(
        [loop.result.ok, !loop.result.ok && loop.result.reason, !loop.result.ok && loop.result.detail],
        [false, 'too_many_redirects', 'redirect loop'],
      );
      assert.deepEqual([a.requests.length, b.requests.length], [1, 1]);
      assertBounded(loop);

      const chain = await measured(() => checker.check(`${a.origin}/pingpong/0?peer=${encodeURIComponent(b.origin)}`));
      report(t, 'two-host endless chain', chain);
      assert.deepEqual([chain.result.ok, !chain.result.ok && chain.result.detail], [false, 'more than 5 redirects']);
      // The first request and five redirects followed, alternating between the two hosts.
      assert.deepEqual([a.requests.length, b.requests.length], [1 + 3, 1 + 3]);
      assertBounded(chain);
    });
  });
}
