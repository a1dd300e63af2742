import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LatencyRecorder } from '../../src/analysis/latency.ts';
import { cacheArithmetic, compare, littlesLaw, relativeGap, SEED_CACHE, seedInFlight } from '../../src/analysis/littles-law.ts';

test("Little's law: L = λ·W", () => {
  const law = littlesLaw(12_000, 10, 0.004);
  assert.equal(law.arrivalRate, 1200);
  assert.equal(law.meanTimeInSystem, 0.004);
  assert.ok(Math.abs(law.inFlight - 4.8) < 1e-9);
  assert.throws(() => littlesLaw(1, 0, 1), RangeError);
});

test("the seed's in-flight arithmetic: 250e6/86400 · 3 · 0.1 ≈ 868", () => {
  const seed = seedInFlight();
  assert.ok(Math.abs(seed.arrivalRate - 8680.5556) < 0.001);
  assert.ok(Math.abs(seed.inFlight - 868.0556) < 0.001);
  // The seed's answer is written as 2894 · 3 · 0.1: page views per second, rounded.
  assert.equal(Math.round(250e6 / 86_400), 2894);
});

test("the seed's cache arithmetic: 4000 + 2000 · 0.01 = 4020", () => {
  assert.ok(Math.abs(SEED_CACHE.after - 4020) < 1e-9);
  assert.ok(Math.abs(SEED_CACHE.saving - 0.33) < 1e-9);
  assert.equal(cacheArithmetic(3000, 1 / 3, 1).after, 3000);
});

test('relative gap and tolerance', () => {
  assert.equal(relativeGap(4, 3), 0.25);
  assert.equal(relativeGap(0, 0), 0);
  assert.equal(relativeGap(0, 1), Infinity);
  assert.equal(compare('apps', 4, 3, 0.25).held, true);
  assert.equal(compare('apps', 4, 2.9, 0.25).held, false);
});

test('latency percentiles keep fractions of a millisecond', () => {
  const recorder = new LatencyRecorder();
  assert.ok(Number.isNaN(recorder.mean));
  for (let i = 1; i <= 10_000; i++) recorder.record(i / 1000); // 0.001 … 10 ms, grows past 4096
  assert.equal(recorder.count, 10_000);
  assert.equal(recorder.percentile(50), 5);
  assert.equal(recorder.percentile(99), 9.9);
  assert.equal(recorder.percentile(100), 10);
  assert.ok(Math.abs(recorder.mean - 5.0005) < 1e-9);
  recorder.record(0.0005);
  assert.equal(recorder.percentile(0), 0.0005);
});
