import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Stack, startStack } from '../../../stack/src/stack.ts';
import { SuiteCleanups, tempDir } from '../../../test/support/index.ts';
import { main } from '../../src/cli/loadtest.ts';
import { describeRun } from '../../src/report/run-info.ts';
import type { CacheSavingsResult } from '../../src/scenarios/cache-savings.ts';
import type { InFlightResult } from '../../src/scenarios/in-flight.ts';
import type { RedirectsResult } from '../../src/scenarios/redirects.ts';
import { k6Skip } from '../tool-skips.ts';

// Short, small runs of each scenario, end to end against the real stack with k6 generating the
// load: not to measure anything, but so the harness cannot rot. The numbers asserted are the ones
// that must hold at any speed (k6's latency goals may be missed on a busy machine: not asserted).

const skip = k6Skip('npm run loadtest');

const out = tempDir({ after }, 'linkyard-loadtest-results-');

function readResult<T>(name: string): T {
  for (const file of [`${name}.json`, `${name}.md`]) assert.ok(existsSync(join(out, file)), `${file} written`);
  return JSON.parse(readFileSync(join(out, `${name}.json`), 'utf8')) as T;
}

test('in-flight: starts its own stack, runs k6, measures λ, W and L, samples in-flight counts, stops the stack', { skip }, async () => {
  const argv = ['in-flight', '--rate', '40', '--duration', '2', '--warmup', '0', '--instances', '2', '--quiet', '--out', out];
  const run = await main(argv);
  const result = readResult<InFlightResult>('in-flight');
  assert.deepEqual(run.result, result);
  // Headed by the command that made it, the hardware class and the date: nothing about the session.
  assert.equal(result.run.command, `npm run loadtest -- ${argv.join(' ')}`);
  assert.ok(run.report.markdown.includes(`\n\n${describeRun(result.run)}.\n`), 'the header line');
  // k6 schedules a view at 0 s, every 25 ms, and one at 2 s that a busy machine may reach only
  // after the scenario has ended: 81 or 80, three requests each, unless it dropped some.
  const views = result.client.requests / 3;
  assert.ok([80, 81].includes(views + result.client.dropped), `${views} views sent, ${result.client.dropped} dropped`);
  assert.equal(result.client.failed, 0);
  assert.deepEqual(result.client.statuses, { 200: 2 * views, 303: views });
  assert.equal(
    result.client.latencyMs.page.count + result.client.latencyMs.stylesheet.count + result.client.latencyMs.redirect.count,
    3 * views,
  );
  const { client, apps } = result.littlesLaw;
  assert.ok(client.arrivalRate > 60 && client.arrivalRate < 180, `λ ≈ 120 req/s, got ${client.arrivalRate}`);
  assert.ok(client.meanTimeInSystem > 0 && client.meanTimeInSystem < 1);
  assert.ok(Math.abs(client.inFlight - client.arrivalRate * client.meanTimeInSystem) < 1e-9);
  // The apps see the page and the redirect, never the stylesheet (nginx serves /static), and
  // setup()'s one page, read for its stylesheet link.
  assert.equal(apps.requests, 2 * views + 1);
  assert.ok(result.observed.samples >= 5, `sampled ${result.observed.samples} times`);
  assert.ok(
    result.samples.every((sample) => sample.t >= 0 && sample.t <= result.client.windowSeconds),
    'only samples taken while the load ran',
  );
  // Each sample's client count is k6's requests sent before it and answered after it (exact, in
  // request-log.test.ts). At 120 requests a second of about a millisecond, L ≈ 0.1: that some sample
  // catches one in flight is chance (2 of 9 full runs on 7 December saw none), so here only what holds at any speed.
  assert.ok(
    result.samples.every((sample) => Number.isInteger(sample.client) && sample.client >= 0 && sample.client <= result.client.requests),
    "the client count comes from k6's record of each request",
  );
  assert.ok(Number.isFinite(result.observed.client) && Number.isFinite(result.observed.nginx) && Number.isFinite(result.observed.apps));
  assert.deepEqual(
    result.comparisons.map((c) => c.where),
    ['client', 'apps'],
  );
  assert.ok(Math.abs(result.seed.inFlight - 868.06) < 0.01);
  for (const chart of Object.keys(run.report.charts)) assert.match(readFileSync(join(out, chart), 'utf8'), /^<svg /);
  assert.match(run.report.markdown, /\| client \(k6\) \|/);
});

let stack: Stack;
let dataDir: string;
const fixtures = new SuiteCleanups();
before(async () => {
  if (skip !== false) return;
  dataDir = tempDir(fixtures, 'linkyard-loadtest-stack-');
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
  await fixtures.run();
});

function givenStack(): string[] {
  return ['--url', stack.url, '--metrics-urls', stack.appUrls.map((url) => `${url}/metrics`).join(','), '--quiet', '--out', out];
}

test('cache-savings against a given stack: exact counts at the client, nginx and the apps', { skip }, async () => {
  const run = await main(['cache-savings', '--visitors', '3', '--visits', '4', ...givenStack()]);
  assert.ok(run.goalMet, "k6's thresholds for each kind of browser");
  const result = readResult<CacheSavingsResult>('cache-savings');
  const [none, validate, browser] = result.phases;
  assert.ok(none && validate && browser);
  for (const phase of result.phases) {
    assert.equal(phase.visits, 12);
    assert.equal(phase.resourcesNeeded, 36);
    assert.equal(phase.failed, 0);
    // Nothing else talked to nginx or the apps meanwhile: what the clients sent is what arrived.
    assert.equal(phase.nginxRequests, phase.clientRequests, `${phase.policy}: nginx counted what was sent`);
    assert.equal(phase.appRequests, 24, `${phase.policy}: the page and the redirect of each visit reach the apps`);
  }
  assert.equal(none.clientRequests, 36);
  assert.equal(none.stylesheetDownloads, 12);
  assert.equal(none.fromCache, 0);
  // Revalidation: as many requests, but 304 without a body after each browser's first visit.
  assert.equal(validate.clientRequests, 36);
  assert.equal(validate.notModified, 9);
  assert.equal(validate.stylesheetDownloads, 3);
  assert.ok(validate.bytesReceived < none.bytesReceived);
  // Honouring Cache-Control: the stylesheet once per browser, then never asked for again.
  assert.equal(browser.clientRequests, 27);
  assert.equal(browser.fromCache, 9);
  assert.equal(browser.stylesheetDownloads, 3);
  assert.ok(result.saving.clientRequests > 0);
  assert.ok(browser.appRequests < browser.clientRequests);
  assert.equal(result.seedScaled.after, 27, "the seed's arithmetic predicts the browser phase exactly");
  assert.ok(Math.abs(result.seed.after - 4020) < 1e-9);
});

test('redirects against a given stack: every answer a 303, at the rate asked for', { skip }, async () => {
  await main(['redirects', '--rate', '100', '--duration', '1', '--warmup', '0', ...givenStack()]);
  const result = readResult<RedirectsResult>('redirects');
  // An arrival at 0 s, every 10 ms, and (unless the scenario ended first) one at 1 s.
  assert.ok(
    [100, 101].includes(result.load.requests + result.load.dropped),
    `${result.load.requests} sent, ${result.load.dropped} dropped`,
  );
  assert.deepEqual(Object.keys(result.load.statuses), ['303']);
  assert.equal(result.load.errors, 0);
  assert.ok(result.load.latency.p99 >= result.load.latency.p50);
  assert.ok(result.littlesLaw.inFlight > 0 && result.littlesLaw.inFlight < 100, `λ·W = ${result.littlesLaw.inFlight}`);
  assert.equal(result.appRequests, result.load.requests, 'every redirect reached an app');
});

test('an unknown scenario or a bad number stops before anything starts', async () => {
  await assert.rejects(main(['nope']), /unknown scenario 'nope'/);
  await assert.rejects(main(['in-flight', '--rate', '0']), /--rate must be a positive number/);
  await assert.rejects(main(['cache-savings', '--http1']), /--http1 needs HTTPS/);
  await assert.rejects(main(['cache-savings', '--https', '--url', 'https://127.0.0.1:1']), /--https starts a stack of its own/);
  await assert.rejects(main(['cache-savings', '--ca-file', 'ca.pem']), /--ca-file is for an https:\/\/ --url/);
  await assert.rejects(
    main(['cache-savings', '--url', 'https://127.0.0.1:1', '--ca-file', '/nonexistent/ca.pem']),
    /--ca-file: \/nonexistent\/ca\.pem does not exist/,
  );
});
