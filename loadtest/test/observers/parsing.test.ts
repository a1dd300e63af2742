import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appCounters, parsePrometheusText, sumOf } from '../../../k6/lib/prometheus.ts';
import { nginxInFlight, parseStubStatus } from '../../../k6/lib/stub-status.ts';

const METRICS = `# HELP http_requests_in_flight Requests received and not yet answered
# TYPE http_requests_in_flight gauge
http_requests_in_flight 3

# HELP http_requests_total HTTP requests answered, by route pattern and status
# TYPE http_requests_total counter
http_requests_total{method="GET",route="/:name",status_code="303"} 1200
http_requests_total{method="GET",route="/",status_code="200"} 400
http_requests_total{method="GET",route="/metrics",status_code="200"} 17
http_requests_total{method="POST",route="/api/bookmarks",status_code="201"} 5
http_requests_total{method="GET",route="/readyz",status_code="200"} 9
http_request_duration_seconds_bucket{le="0.001",method="GET",route="/:name"} 1100
http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/:name"} 1200
http_request_duration_seconds_sum{method="GET",route="/:name"} 0.9
http_request_duration_seconds_count{method="GET",route="/:name"} 1200
http_request_duration_seconds_sum{method="GET",route="/metrics"} 0.5
http_request_duration_seconds_count{method="GET",route="/metrics"} 17
process_resident_memory_bytes 83886080 1700000000000
nodejs_gc_duration_seconds_sum{kind="major"} NaN
nodejs_eventloop_lag_p99_seconds Nan
`;

test('Prometheus text: samples, labels and values', () => {
  const samples = parsePrometheusText(METRICS);
  assert.equal(samples.length, 15);
  assert.deepEqual(samples[0], { name: 'http_requests_in_flight', labels: {}, value: 3 });
  assert.deepEqual(samples[1]?.labels, { method: 'GET', route: '/:name', status_code: '303' });
  assert.equal(samples.find((s) => s.labels.le === '+Inf')?.value, 1200);
  assert.ok(Number.isNaN(samples.at(-2)?.value));
  assert.ok(Number.isNaN(samples.at(-1)?.value), 'prom-client writes NaN as Nan');
  assert.equal(sumOf(samples, 'http_requests_total'), 1631);
});

test('Prometheus text: escaped label values may hold quotes, commas and braces', () => {
  const [sample] = parsePrometheusText('x{a="say \\"hi\\", {ok}",b="back\\\\slash\\nline"} 1.5e3\n');
  assert.deepEqual(sample, { name: 'x', labels: { a: 'say "hi", {ok}', b: 'back\\slash\nline' }, value: 1500 });
});

test('Prometheus text: a line that is not a sample is an error, not a silent zero', () => {
  assert.throws(() => parsePrometheusText('http_requests_total{route="/"} lots\n'), /not a Prometheus value/);
  assert.throws(() => parsePrometheusText('{} 1\n'), /not a Prometheus sample line/);
});

test('app counters leave out what is not load: /metrics scrapes and health checks', () => {
  const counters = appCounters(parsePrometheusText(METRICS));
  assert.deepEqual(counters, {
    requests: 1605,
    durationSum: 0.9,
    durationCount: 1200,
    inFlight: 3,
    residentBytes: 83886080,
  });
});

test('stub_status: every field, and in-flight as Reading + Writing minus the asking request', () => {
  const status = parseStubStatus(
    'Active connections: 291 \nserver accepts handled requests\n 16630948 16630948 31070465 \nReading: 6 Writing: 179 Waiting: 106 \n',
  );
  assert.deepEqual(status, {
    active: 291,
    accepts: 16630948,
    handled: 16630948,
    requests: 31070465,
    reading: 6,
    writing: 179,
    waiting: 106,
  });
  assert.equal(nginxInFlight(status), 184);
  assert.equal(nginxInFlight({ ...status, reading: 0, writing: 1 }), 0);
  assert.throws(() => parseStubStatus('<html>404</html>'), /not an nginx stub_status page/);
});
