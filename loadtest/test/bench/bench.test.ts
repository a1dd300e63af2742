import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../../test/support/index.ts';
import { combineCreations } from '../../src/bench/load/steady-creations.ts';
import { combineSlices, luaString, renderWrkScript } from '../../src/bench/load/wrk.ts';
import { renderCeilingConfig } from '../../src/bench/nginx.ts';
import { LEG_NAMES } from '../../src/bench/options.ts';
import { runBench } from '../../src/bench/run.ts';
import { UsageError } from '../../src/cli/arguments.ts';
import { parseLegs } from '../../src/cli/bench.ts';
import { Progress } from '../../src/progress.ts';
import { benchReport, benchTargets } from '../../src/report/bench.ts';
import { wrkSkip } from '../tool-skips.ts';

test('the ceiling nginx configs are ones nginx accepts', (t) => {
  const prefix = tempDir(t, 'linkyard-bench-conf-');
  mkdirSync(join(prefix, 'tmp')); // startNginx makes it; nginx -t wants the temp paths to exist
  for (const config of [
    { kind: 'return', port: 18_999 },
    { kind: 'proxy', port: 18_999, upstreamPorts: [18_001, 18_002] },
  ] as const) {
    const path = join(prefix, 'nginx.conf');
    writeFileSync(path, renderCeilingConfig(prefix, config));
    const check = spawnSync('nginx', ['-t', '-p', prefix, '-c', path], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
  }
});

test('wrk scripts take printable ASCII only, quoted for Lua', () => {
  assert.equal(luaString('say "hi" \\ bye'), '"say \\"hi\\" \\\\ bye"');
  assert.throws(() => luaString('caf\u00e9'), /not printable ASCII/);
  assert.throws(() => luaString('a\nb'), /not printable ASCII/);
  assert.throws(() => renderWrkScript([]), /nothing to send/);
});

test("a leg made of slices: counts add up, percentiles are the median of the slices', max the worst", () => {
  const slice = (requests: number, p99: number, max: number, statuses: Record<string, number>) => ({
    requests,
    durationSeconds: 2,
    rps: requests / 2,
    latency: { count: requests, mean: 1, p50: 1, p90: p99 / 2, p99, max },
    statuses,
    errors: 1,
  });
  const leg = combineSlices([slice(100, 5, 9, { 303: 100 }), slice(300, 40, 80, { 303: 299, 404: 1 }), slice(200, 6, 10, { 303: 200 })]);
  assert.equal(leg.requests, 600);
  assert.equal(leg.durationSeconds, 6);
  assert.equal(leg.rps, 100);
  assert.equal(leg.latency.p99, 6, 'one stalled slice does not decide the p99');
  assert.equal(leg.latency.max, 80);
  assert.deepEqual(leg.statuses, { 303: 599, 404: 1 });
  assert.equal(leg.errors, 3);
  assert.equal(combineSlices([slice(10, 4, 4, {}), slice(10, 8, 8, {})]).latency.p99, 6, 'an even count takes the middle two');
  assert.throws(() => combineSlices([]), /no slices/);
});

test("creations run in slices: counts and statuses add up, the rate is over their time together, latencies the median run's", () => {
  const run = (sent: number, seconds: number, p99: number, statuses: Record<string, number>) => ({
    sent,
    ratePerSecond: sent / seconds,
    statuses,
    p50: p99 / 4,
    p99,
  });
  const together = combineCreations([run(200, 2, 40, { 201: 200 }), run(150, 2, 900, { 201: 149, 0: 1 }), run(250, 2, 50, { 201: 250 })]);
  assert.equal(together.sent, 600);
  assert.equal(together.ratePerSecond, 100);
  assert.deepEqual(together.statuses, { 201: 599, 0: 1 });
  assert.equal(together.p99, 50, 'one stalled run does not decide the p99');
  assert.equal(together.p50, 12.5);
  assert.throws(() => combineCreations([]), /no runs/);
});

test("--legs: known names in the bench's order; an unknown one is a usage error", () => {
  assert.deepEqual(parseLegs(undefined), [...LEG_NAMES]);
  assert.deepEqual(parseLegs('creations,return-ceiling'), ['return-ceiling', 'creations']);
  assert.throws(
    () => parseLegs('return-ceiling,warp'),
    (error: unknown) => error instanceof UsageError && /unknown leg\(s\): warp/.test(error.message),
  );
  assert.throws(() => parseLegs(','), UsageError);
});

test('bench: one leg alone, the report leaves the others out', { skip: wrkSkip("the bench's one-leg run") }, async () => {
  const result = await runBench(
    { connections: 8, durationSeconds: 1, instances: 1, slowChecks: 10, slowTargetDelayMs: 15_000, heavyRate: 20, workerIdleMs: 300 },
    new Progress({ quiet: true }),
    'npm run bench (test: one leg)',
    ['return-ceiling'],
  );
  assert.deepEqual(result.legs, ['return-ceiling']);
  assert.ok((result.throughput.returnCeiling?.rps ?? 0) > 0);
  assert.equal(result.slowChecks, undefined);
  assert.deepEqual(result.rss, [], 'no stack started');
  const report = benchReport(result);
  assert.match(
    report.markdown,
    /^`npm run bench \(test: one leg\)` — \d+-core \w+, \d+ GiB, \d{4}-\d\d-\d\d; load generator, nginx and apps share the machine\. /m,
  );
  assert.match(report.markdown, /not run, so left out below: one-app, stack/);
  assert.doesNotMatch(report.markdown, /## Peak RSS|## Redirects while slow/);
  assert.deepEqual(Object.keys(report.charts), ['bench-throughput.svg', 'bench-latency.svg']);
  assert.deepEqual(benchTargets(result), [], 'no target is about (1) alone');
});
