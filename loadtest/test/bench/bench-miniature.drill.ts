import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LEG_NAMES } from '../../src/bench/options.ts';
import { runBench } from '../../src/bench/run.ts';
import { Progress } from '../../src/progress.ts';
import { benchReport, benchTargets, type HeavyChecksResult, type SlowChecksResult } from '../../src/report/bench.ts';
import { k6Skip, wrkSkip } from '../tool-skips.ts';

// Every leg of `npm run bench` in miniature (about a minute): a drill, run by `npm run test:drills`.

test('bench: every leg in miniature, numbers sane, targets marked but not asserted', {
  skip: wrkSkip("the bench's miniature") || k6Skip("the bench's miniature"),
}, async () => {
  const result = await runBench(
    { connections: 8, durationSeconds: 1, instances: 1, slowChecks: 10, slowTargetDelayMs: 15_000, heavyRate: 20, workerIdleMs: 300 },
    new Progress({ quiet: true }),
    'npm run bench (drill: every leg in miniature)',
  );
  assert.deepEqual(result.legs, [...LEG_NAMES]);
  const { slowChecks, heavyChecks, create, idleStart, ratios, stats, tls } = result;
  if (
    stats === undefined ||
    slowChecks === undefined ||
    heavyChecks === undefined ||
    create === undefined ||
    idleStart === undefined ||
    ratios?.stackOverMap === undefined
  ) {
    assert.fail('every leg reported');
  }
  if (tls === undefined) assert.fail('the TLS leg reported');
  const legs = [
    ...Object.values(result.throughput),
    slowChecks.pool.with,
    slowChecks.inline.with,
    heavyChecks.pool.with,
    heavyChecks.inline.with,
    stats.on.leg,
    stats.off.leg,
    tls.https,
    tls.plain,
  ];
  for (const leg of legs) {
    assert.ok(leg.rps > 0, `${leg.name}: req/s`);
    assert.deepEqual(Object.keys(leg.statuses), ['303'], `${leg.name}: only 303s`);
    assert.ok(leg.latency.p99 >= leg.latency.p50);
  }
  for (const mode of ['pool', 'inline'] as const) {
    const run: SlowChecksResult = slowChecks[mode];
    assert.equal(run.checksReported, 10, `${mode}: the apps reported every check in flight`);
    // Requests parked on I/O are what the in-flight gauge does see.
    assert.ok(run.inFlightGauge >= 10, `${mode}: gauge ${run.inFlightGauge}`);
    assert.equal(
      Object.values(run.creationStatuses).reduce((a, b) => a + b, 0),
      10,
      'every creation answered',
    );
    for (const gcs of [run.majorGcs.without, run.majorGcs.with]) assert.ok(Number.isInteger(gcs) && gcs >= 0, `${mode}: full GCs ${gcs}`);
  }
  for (const leg of [create.pool, create.inline]) {
    assert.ok((leg.statuses['201'] ?? 0) > 0, `${leg.name}: bookmarks were created`);
    // A repeated name would be answered 200 (same URI again) or 409: wrk's {n} must be unique.
    assert.equal(leg.statuses['200'] ?? 0, 0);
    assert.equal(leg.statuses['409'] ?? 0, 0);
  }
  for (const mode of ['pool', 'inline'] as const) {
    const creations: HeavyChecksResult['creations'] = heavyChecks[mode].creations;
    assert.ok(creations.sent > 0, `${mode}: heavy creations were sent`);
    // Every one passed its check of the HTTPS site, trusted through the run's CA only: created.
    assert.deepEqual(Object.keys(creations.statuses), ['201'], `${mode}: ${JSON.stringify(creations.statuses)}`);
  }
  assert.ok(idleStart.coldMs > 0 && idleStart.warmMs > 0);
  assert.ok(result.rss.length >= 3);
  assert.deepEqual(
    [...new Set(result.rss.map((entry) => entry.stack))],
    ['one app', 'stack (1 apps, pool)', 'stack (1 apps, inline)'],
    'in the order the stacks started',
  );
  for (const entry of result.rss) {
    assert.ok(entry.peakBytes > 10e6 && entry.peakAnonymousBytes > 1e6 && entry.peakFileBytes > 1e6, JSON.stringify(entry));
    // Sampled parts never exceed the kernel's exact high-water mark of their sum (both in kB pages).
    assert.ok(Math.max(entry.peakAnonymousBytes, entry.peakFileBytes) <= entry.peakBytes);
  }
  assert.ok(ratios.stackOverMap > 0);
  assert.ok(tls.rpsRatio > 0 && tls.p99Ratio > 0);
  // s_time -new never resumes, -reuse always does (after its first): nginx's session cache works.
  assert.equal(tls.full.resumedShare, 0);
  assert.ok(tls.resumed.resumedShare > 0.9, `resumed: ${tls.resumed.resumedShare}`);
  for (const kind of [tls.full, tls.resumed]) {
    assert.ok(kind.perSecond > 0 && kind.perWorkerCpuSecond > 0 && kind.workers >= 1, JSON.stringify(kind));
  }
  for (const side of [stats.on, stats.off]) assert.ok(side.cpuUsPerRedirect > 0, `${side.leg.name}: CPU a redirect`);
  assert.ok(stats.cpuRatio > 0 && stats.rpsRatio > 0);
  assert.equal(benchTargets(result).length, 9);
  assert.match(benchReport(result).markdown, /## Targets/);
});
