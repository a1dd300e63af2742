import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../../test/support/index.ts';
import { type K6Client, type K6Scenario, readAnswer, readRequests, runK6 } from '../src/k6.ts';
import type { K6CacheSavings } from '../src/scenarios/cache-savings.ts';
import { openTarget, shortNames, type Target } from '../src/target/target.ts';
import { k6Skip } from './tool-skips.ts';

// The k6 scenarios over HTTPS: the native stack serving TLS with a certificate from a CA made for
// the run, which k6 alone trusts (SSL_CERT_FILE), speaking HTTP/2 by ALPN or HTTP/1.1 when told
// (GODEBUG=http2client=0). k6-scenarios.test.ts asserts what each scenario is for over plain HTTP;
// here, that they run over HTTPS, and that the cache savings are the same over both protocols,
// with the connections each needed. Figures at full size: docs/https.md#k6-over-https.

const skip = k6Skip('the k6 scenarios over HTTPS');

const results = tempDir({ after }, 'linkyard-k6-https-');

describe('k6 scenarios over HTTPS (k6 trusting the test CA)', { skip, timeout: 120_000 }, () => {
  let target: Target;
  let base: Record<string, string>;
  before(async () => {
    target = await openTarget({ instances: 2, https: true });
    const names = await shortNames(target, 20);
    base = { BASE_URL: target.url, NAMES: names.join(','), METRICS_URLS: target.metricsUrls.join(',') };
  });
  after(() => target?.stop());

  const k6 = (scenario: K6Scenario, env: Record<string, string>, client: K6Client, outJson?: string) =>
    runK6({ scenario, env, resultsDir: results, timeoutMs: 60_000, client, ...(outJson !== undefined && { outJson }) });

  it('refuses the stack without the test CA: its certificate is trusted by nothing else', async () => {
    assert.match(target.url, /^https:/);
    assert.ok(target.k6Client.caFile !== undefined);
    await assert.rejects(k6('redirects', { ...base, RATE: '10', DURATION: '1' }, {}), /not ready at https:.*x509: unknown authority/);
  });

  it('redirects: every arrival a 303 over HTTPS, none failed', async () => {
    const out = join(results, 'redirects.ndjson');
    const run = await k6('redirects', { ...base, RATE: '50', DURATION: '1', P99_MS: '1000' }, target.k6Client, out);
    assert.equal(run.exitCode, 0, run.output);
    const { result } = readAnswer<{ requests: number; failedRate: number }>(results, 'redirects');
    assert.equal(result.failedRate, 0);
    const load = (await readRequests(out)).filter((request) => request.scenario === 'redirects');
    assert.ok(load.length >= 40, `${load.length} redirects`);
    assert.deepEqual([...new Set(load.map((request) => request.status))], [303]);
  });

  it('in-flight: page views over HTTPS, sampling nginx and the apps', async () => {
    const run = await k6('in-flight', { ...base, RATE: '20', DURATION: '2', P99_MS: '1000' }, target.k6Client);
    assert.equal(run.exitCode, 0, run.output);
    const { result } = readAnswer<{ client: { requests: number; failedRate: number }; nginx: { observed: number } }>(results, 'in-flight');
    assert.equal(result.client.failedRate, 0);
    assert.ok(result.client.requests >= 3 * 30, `${result.client.requests} requests`);
    assert.ok(result.nginx.observed >= 0, 'stub_status read over HTTPS');
  });

  it('cache-savings over HTTP/2 and HTTP/1.1: the same savings, one connection per browser either way', async () => {
    const answers: K6CacheSavings[] = [];
    for (const [protocol, http1] of [
      ['HTTP/2', false],
      ['HTTP/1.1', true],
    ] as const) {
      const run = await k6('cache-savings', { ...base, CACHE: 'browser', VISITORS: '3', VISITS: '4' }, { ...target.k6Client, http1 });
      assert.equal(run.exitCode, 0, run.output);
      const { result } = readAnswer<K6CacheSavings>(results, 'cache-savings-browser');
      assert.equal(result.protocol, protocol);
      answers.push(result);
    }
    const [h2, h1] = answers as [K6CacheSavings, K6CacheSavings];
    for (const result of [h2, h1]) {
      assert.equal(result.resourcesNeeded, 36, '3 browsers × 4 visits × (page, stylesheet, short link)');
      assert.equal(result.stylesheetRequests, 3, 'the stylesheet once per browser');
      assert.equal(result.clientRequests, 27);
      assert.equal(result.nginxRequests, result.clientRequests, 'what the browsers sent is what reached nginx');
      assert.equal(result.appRequests, 24);
      // Each browser's requests go one after another on the connection it keeps across its visits.
      assert.equal(result.connectionsOpened, 3, `${result.protocol}: connections opened`);
      assert.equal(result.nginxConnections, 3, `${result.protocol}: connections nginx accepted`);
    }
    const counts = ({ clientRequests, stylesheetRequests, servedFromCache, nginxRequests, appRequests }: K6CacheSavings) => ({
      clientRequests,
      stylesheetRequests,
      servedFromCache,
      nginxRequests,
      appRequests,
    });
    assert.deepEqual(counts(h2), counts(h1), 'the same savings over both protocols');
  });
});
