import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../../test/support/index.ts';
import { epochMs, type K6Request, readRequests } from '../../src/k6.ts';
import { inFlightAt, perSecond, requestWindow, statusCounts } from '../../src/observers/request-log.ts';

const request = (end: number, durationMs: number, status = 200): K6Request => ({ end, durationMs, status, name: 'x', scenario: 'load' });

test("k6's nanosecond times keep their fraction of a millisecond", () => {
  assert.equal(epochMs('2026-11-27T11:04:21.034586315Z'), Date.parse('2026-11-27T11:04:21.034Z') + 0.586315);
  assert.equal(epochMs('2026-11-27T11:04:21Z'), Date.parse('2026-11-27T11:04:21Z'));
  assert.throws(() => epochMs('yesterday'), /not a UTC time/);
});

test('in flight at an instant: sent at or before it, answered after it', () => {
  // [0, 10], [5, 15], [20, 21]
  const requests = [request(10, 10), request(15, 10), request(21, 1)];
  assert.deepEqual(inFlightAt(requests, [-1, 0, 4, 5, 9.9, 10, 14, 15, 18, 20.5, 30]), [0, 1, 1, 2, 2, 1, 1, 0, 0, 1, 0]);
  assert.deepEqual(requestWindow(requests), { start: 0, end: 21, seconds: 0.021 });
  assert.throws(() => requestWindow([]), /no requests/);
});

test('per second: answers counted in the second they arrived, λ·W as their summed time in system', () => {
  const seconds = perSecond([request(1000 + 100, 50), request(1000 + 900, 150), request(1000 + 2500, 500)], 1000);
  assert.deepEqual(seconds, [
    { second: 0, requests: 2, littleL: 0.2 },
    { second: 1, requests: 0, littleL: 0 },
    { second: 2, requests: 1, littleL: 0.5 },
  ]);
  assert.deepEqual(statusCounts([request(1, 1, 303), request(2, 1, 303), request(3, 1, 0)]), { 0: 1, 303: 2 });
});

test('the --out json record: one request per http_req_duration point, the rest skipped', async (t) => {
  const dir = tempDir(t, 'linkyard-k6-json-');
  const path = join(dir, 'out.ndjson');
  const tags = '"tags":{"expected_response":"true","group":"","method":"GET","name":"GET /:name","scenario":"redirects","status":"303"}';
  writeFileSync(
    path,
    [
      '{"type":"Metric","data":{"name":"http_req_duration","type":"trend","contains":"time"},"metric":"http_req_duration"}',
      `{"metric":"http_reqs","type":"Point","data":{"time":"2026-11-27T11:04:10.5Z","value":1,${tags}}}`,
      `{"metric":"http_req_duration","type":"Point","data":{"time":"2026-11-27T11:04:10.5Z","value":1.25,${tags}}}`,
      '{"metric":"http_req_duration","type":"Point","data":{"time":"2026-11-27T11:04:10.25Z","value":3,"tags":{"name":"setup","status":"200"}}}',
      '',
    ].join('\n'),
  );
  assert.deepEqual(await readRequests(path), [
    { end: Date.parse('2026-11-27T11:04:10.500Z'), durationMs: 1.25, status: 303, name: 'GET /:name', scenario: 'redirects' },
    { end: Date.parse('2026-11-27T11:04:10.250Z'), durationMs: 3, status: 200, name: 'setup', scenario: '' },
  ]);
});
