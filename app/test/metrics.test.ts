import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { RequestCounts, RequestDurations } from '../src/metrics.ts';

// Durations a route might see: on a bound, between bounds, below the first, above the last.
const OBSERVED: ReadonlyArray<[method: string, route: string, seconds: number]> = [
  ['GET', '/:name', 0.0002],
  ['GET', '/:name', 0.0005],
  ['GET', '/:name', 0.0007],
  ['GET', '/:name', 0.003],
  ['HEAD', '/:name', 0.02],
  ['POST', '/api/bookmarks', 0.4],
  ['POST', '/api/bookmarks', 12],
  ['GET', 'unmatched', 1],
];

describe('RequestDurations', () => {
  it("exposes what prom-client's own Histogram does for the same observations, as text and as JSON", async () => {
    const ours = new Registry();
    const requests = new RequestCounts();
    new RequestDurations(requests, ours);
    const theirs = new Registry();
    const reference = new Histogram({
      name: RequestDurations.NAME,
      help: RequestDurations.HELP,
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [theirs],
    });
    for (const [method, route, seconds] of OBSERVED) {
      requests.route(route).count(method, 200).observe(seconds);
      reference.observe({ method, route }, seconds);
    }
    const lines = async (registry: Registry) => (await registry.metrics()).trimEnd().split('\n');
    const expected = await lines(theirs);
    assert.ok(expected.includes('http_request_duration_seconds_bucket{le="0.0005",method="GET",route="/:name"} 2'), expected.join('\n'));
    assert.deepEqual(await lines(ours), expected);
    // Exemplars are off: prom-client's values carry an empty `exemplar` field, ours none.
    const withoutExemplars = (metrics: Awaited<ReturnType<Registry['getMetricsAsJSON']>>) =>
      metrics.map((metric) => ({
        ...metric,
        values: metric.values.map((value) => {
          const { exemplar: _, ...rest } = value as typeof value & { exemplar?: unknown };
          return rest;
        }),
      }));
    assert.deepEqual(await ours.getMetricsAsJSON(), withoutExemplars(await theirs.getMetricsAsJSON()));
  });

  it('is read by the installed prom-client, the version package.json pins (getForPromString is not in its typings)', async () => {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const installed = JSON.parse(readFileSync(new URL('../../node_modules/prom-client/package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    assert.equal(manifest.dependencies['prom-client'], installed.version, 'an exact pin, and the version installed');
    const registry = new Registry();
    const requests = new RequestCounts();
    new RequestDurations(requests, registry);
    requests.route('/:name').count('GET', 303).observe(0.002);
    const text = await registry.metrics();
    assert.match(text, /^http_request_duration_seconds_count\{method="GET",route="\/:name"\} 1$/m, text);
    const [json] = await registry.getMetricsAsJSON();
    assert.ok(
      json?.values.some((value) => value.labels.le === 0.0025 && value.value === 1),
      JSON.stringify(json),
    );
  });

  it('counts nothing until a request was answered', async () => {
    const registry = new Registry();
    new RequestDurations(new RequestCounts(), registry);
    assert.deepEqual((await registry.metrics()).trimEnd().split('\n'), [
      `# HELP ${RequestDurations.NAME} ${RequestDurations.HELP}`,
      `# TYPE ${RequestDurations.NAME} histogram`,
    ]);
  });
});
