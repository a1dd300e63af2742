/**
 * CHECK_EXTRA_CA_FILE: checks trust a site under a private CA only when told to, and a file that is
 * not CA certificates stops start-up naming the variable. A real CA made by openssl, a real HTTPS
 * site on loopback, both checkers.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type CheckTarget, HEAVY_PAGE, startHeavyTarget } from '../../../loadtest/src/target/check-targets.ts';
import { SuiteCleanups } from '../../../test/support/index.ts';
import { type IssuedCertificate, makeTestCa, type TestCa } from '../../../test/support/tls.ts';
import { createChecker } from '../../src/check/create-checker.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { checkConfig } from './fixtures/target.ts';

describe('checks of HTTPS sites under an extra CA', () => {
  const fixtures = new SuiteCleanups();
  let ca: TestCa;
  let issued: IssuedCertificate;
  let site: CheckTarget;
  before(async () => {
    ca = makeTestCa(fixtures);
    issued = ca.issue('site');
    site = await startHeavyTarget(issued);
  });
  after(async () => {
    await site?.close();
    await fixtures.run();
  });

  for (const mode of ['pool', 'inline'] as const) {
    test(`${mode}: trusted with CHECK_EXTRA_CA_FILE (64 KiB gzip page, title last), refused without`, async (t) => {
      const trusting = createChecker(checkConfig({ CHECK_MODE: mode, CHECK_EXTRA_CA_FILE: ca.caCertFile }));
      const plain = createChecker(checkConfig({ CHECK_MODE: mode }));
      t.after(() => Promise.all([trusting.close(), plain.close()]));

      assert.equal(HEAVY_PAGE.length, 64 * 1024);
      const result = await trusting.check(`${site.url}/page`);
      assert.ok(result.ok, JSON.stringify(result));
      assert.equal(result.title, 'Heavy page');

      const refused = await plain.check(`${site.url}/page`);
      assert.equal(refused.ok, false);
      assert.ok(!refused.ok && /^TLS certificate not trusted \(/.test(refused.detail), refused.ok ? '' : refused.detail);
    });
  }

  test('a file that is missing, not PEM, or a certificate that is not a CA stops start-up', () => {
    const dir = ca.dir;
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'hello');
    const broken = join(dir, 'broken.pem');
    writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const leaf = issued.leafFile;
    const cases: Array<[string, RegExp]> = [
      [join(dir, 'missing.pem'), /cannot read .*ENOENT/],
      [notPem, /no PEM certificate/],
      [broken, /does not parse/],
      [leaf, /is not a CA certificate/],
    ];
    for (const [path, message] of cases) {
      assert.throws(
        () => loadConfig({ CHECK_EXTRA_CA_FILE: path }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.equal(error.variable, 'CHECK_EXTRA_CA_FILE');
          assert.match(error.message, message);
          return true;
        },
      );
    }
    assert.equal(loadConfig({ CHECK_EXTRA_CA_FILE: ca.caCertFile }).check.extraCa?.trim(), ca.caCertPem.trim());
    assert.equal(loadConfig({}).check.extraCa, undefined);
  });
});
