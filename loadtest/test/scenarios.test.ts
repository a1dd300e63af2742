import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startStack, type Stack } from '../../app/src/stack/stack.ts';
import { main } from '../src/cli.ts';
import type { CacheSavingsResult } from '../src/scenarios/cache-savings.ts';
import type { InFlightResult } from '../src/scenarios/in-flight.ts';
import type { RedirectsResult } from '../src/scenarios/redirects.ts';

// Short, small runs of each scenario, end to end against the real stack: not to measure anything,
// but so the harness cannot rot. The numbers asserted are the ones that must hold at any speed.

const out = mkdtempSync(join(tmpdir(), 'linkyard-loadtest-results-'));
after(() => rmSync(out, { recursive: true, force: true }));

function readResult<T>(name: string): T {
  for (const file of [`${name}.json`, `${name}.md`]) assert.ok(existsSync(join(out, file)), `${file} written`);
  return JSON.parse(readFileSync(join(out, `${name}.json`), 'utf8')) as T;
}

test('in-flight: starts its own stack, measures λ, W and L, samples in-flight counts, stops the stack', async () => {
  const run = await main(['in-flight', '--rate', '40', '--duration', '2', '--warmup', '0', '--instances', '2', '--quiet', '--out', out]);
  const result = readResult<InFlightResult>('in-flight');
  assert.deepEqual(run.result, result);
  assert.equal(result.client.requests, 240, '40 views/s × 2 s × 3 requests');
  assert.equal(result.client.failed, 0);
  assert.deepEqual(result.client.statuses, { 200: 160, 303: 80 });
  const { client, apps } = result.littlesLaw;
  assert.ok(client.arrivalRate > 60 && client.arrivalRate < 180, `λ ≈ 120 req/s, got ${client.arrivalRate}`);
  assert.ok(client.meanTimeInSystem > 0 && client.meanTimeInSystem < 1);
  assert.ok(Math.abs(client.inFlight - client.arrivalRate * client.meanTimeInSystem) < 1e-9);
  // The apps see the page and the redirect, never the stylesheet (nginx serves /static).
  assert.equal(apps.requests, 160);
  assert.ok(result.observed.samples >= 5, `sampled ${result.observed.samples} times`);
  assert.ok(Number.isFinite(result.observed.client) && Number.isFinite(result.observed.nginx) && Number.isFinite(result.observed.apps));
  assert.deepEqual(result.comparisons.map((c) => c.where), ['client', 'apps']);
  assert.ok(Math.abs(result.seed.inFlight - 868.06) < 0.01);
  for (const chart of Object.keys(run.report.charts)) assert.match(readFileSync(join(out, chart), 'utf8'), /^<svg /);
  assert.match(run.report.markdown, /\| client \(load generator\) \|/);
});

let stack: Stack;
let dataDir: string;
before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'linkyard-loadtest-stack-'));
  stack = await startStack({
    instances: 2,
    port: 0,
    dataDir: join(dataDir, 'data'),
    stateDir: join(dataDir, 'state'),
    rateLimit: '100000r/s',
    accessLog: false,
    quiet: true,
    env: { CHECK_ALLOW_PRIVATE: 'true', LOG_LEVEL: 'warn' },
  });
});
after(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function givenStack(): string[] {
  return ['--url', stack.url, '--metrics-urls', stack.appUrls.map((url) => `${url}/metrics`).join(','), '--quiet', '--out', out];
}

test('cache-savings against a given stack: exact counts at the client, nginx and the apps', async () => {
  await main(['cache-savings', '--visitors', '3', '--visits', '4', ...givenStack()]);
  const result = readResult<CacheSavingsResult>('cache-savings');
  const [none, validate, browser] = result.phases;
  assert.ok(none && validate && browser);
  for (const phase of result.phases) {
    assert.equal(phase.totals.visits, 12);
    assert.equal(phase.totals.failed, 0);
    // Nothing else talked to nginx or the apps meanwhile: what the clients sent is what arrived.
    assert.equal(phase.nginxRequests, phase.totals.clientRequests, `${phase.policy}: nginx counted what was sent`);
    assert.equal(phase.appRequests, 24, `${phase.policy}: the page and the redirect of each visit reach the apps`);
  }
  assert.equal(none.totals.clientRequests, 36);
  assert.equal(none.totals.stylesheetDownloads, 12);
  // Revalidation: as many requests, but 304 without a body after each browser's first visit.
  assert.equal(validate.totals.clientRequests, 36);
  assert.equal(validate.totals.notModified, 9);
  assert.ok(validate.totals.bytesReceived < none.totals.bytesReceived);
  // Honouring Cache-Control: the stylesheet once per browser, then never asked for again.
  assert.equal(browser.totals.clientRequests, 27);
  assert.equal(browser.totals.fromCache, 9);
  assert.equal(browser.totals.stylesheetDownloads, 3);
  assert.ok(result.saving.clientRequests > 0);
  assert.ok(browser.appRequests < browser.totals.clientRequests);
  assert.equal(result.seedScaled.after, 27, 'the seed\'s arithmetic predicts the browser phase exactly');
  assert.ok(Math.abs(result.seed.after - 4020) < 1e-9);
});

test('redirects against a given stack: every answer a 303, λ·W close to the connections kept busy', async () => {
  await main(['redirects', '--connections', '8', '--duration', '1', '--warmup', '0', ...givenStack()]);
  const result = readResult<RedirectsResult>('redirects');
  assert.ok(result.load.requests > 0);
  assert.deepEqual(Object.keys(result.load.statuses), ['303']);
  assert.equal(result.load.errors, 0);
  assert.ok(result.load.latency.p99 >= result.load.latency.p50);
  assert.ok(result.littlesLaw.inFlight > 0 && result.littlesLaw.inFlight <= 8.5, `λ·W = ${result.littlesLaw.inFlight}`);
  assert.ok(result.appRequests >= result.load.requests, 'every redirect reached an app');
});

test('an unknown scenario or a bad number stops before anything starts', async () => {
  await assert.rejects(main(['nope']), /unknown scenario 'nope'/);
  await assert.rejects(main(['in-flight', '--rate', '0']), /--rate must be a positive number/);
});
