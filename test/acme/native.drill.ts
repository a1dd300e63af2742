import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmodSync, chownSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { observeClientResets } from '../../loadtest/src/observers/client-resets.ts';
import { Progress } from '../../loadtest/src/progress.ts';
import { type Stack, startStack } from '../../stack/src/stack.ts';
import { type Certbot, certbotFor, httpsGet, type Pebble, servedSerial, startPebble } from '../support/acme.ts';
import { freePort, SuiteCleanups, tempDir } from '../support/index.ts';

// ACME natively, as docs/https.md#acme tells an operator to do it: the stack on plain HTTP with
// ACME_WEBROOT, `certbot certonly --webroot` for the first certificate, the stack restarted with
// TLS_CERT_FILE/TLS_KEY_FILE on certbot's live/ files, then a forced renewal under wrk -c16
// through HTTPS, taken up without a reload. Pebble validates every HTTP-01 challenge for real,
// through nginx on the plain port. About 40 s: `npm run test:drills`, not in `npm test`.

const NAME = 'localhost';
/** nobody:nogroup, the user nginx's workers run as when root starts it. */
const NOGROUP = 65534;

function liveSerial(certbot: Certbot): string {
  const pem = readFileSync(join(certbot.configDir, 'live', NAME, 'cert.pem'), 'utf8');
  return new X509Certificate(pem).serialNumber;
}

describe('ACME natively: certbot --webroot against pebble, renewal under load without a reload', () => {
  const fixtures = new SuiteCleanups();
  let pebble: Pebble;
  let certbot: Certbot;
  let root: string;
  let stack: Stack | undefined;
  let plainPort: number;
  let webroot: string;
  let dataDir: string;
  let stateDir: string;

  before(async () => {
    plainPort = await freePort();
    pebble = await startPebble(fixtures, plainPort);
    root = await pebble.issuingRoot();
    certbot = certbotFor(fixtures, pebble);
    webroot = tempDir(fixtures, 'linkyard-acme-webroot-');
    // nginx's workers (nobody, under root) serve the tokens certbot writes here.
    chmodSync(webroot, 0o755);
    dataDir = tempDir(fixtures, 'linkyard-acme-data-');
    stateDir = tempDir(fixtures, 'linkyard-acme-state-');
  });

  after(async () => {
    await stack?.stop();
    await fixtures.run();
  });

  const common = { instances: 2, quiet: true, accessLog: false, rateLimit: '100000r/s', env: { LOG_LEVEL: 'warn' } };

  it('issues the first certificate through the plain stack (ACME_WEBROOT, certbot certonly --webroot)', async () => {
    stack = await startStack({ ...common, port: plainPort, dataDir, stateDir, acmeWebroot: webroot });
    const said = await certbot.run(
      'certonly',
      '--webroot',
      '--webroot-path',
      webroot,
      '--domain',
      NAME,
      '--agree-tos',
      '--register-unsafely-without-email',
    );
    assert.match(said, /Successfully received certificate/);
    await stack.stop();
    stack = undefined;
    if (process.getuid?.() === 0) {
      // docs/https.md#acme: certbot keeps live/ and archive/ to root (0700) and the key 0600; the
      // workers need to enter both and read the key, which certbot keeps readable across renewals.
      chmodSync(join(certbot.configDir, 'live'), 0o755);
      chmodSync(join(certbot.configDir, 'archive'), 0o755);
      const key = join(certbot.configDir, 'archive', NAME, 'privkey1.pem');
      chownSync(key, 0, NOGROUP);
      chmodSync(key, 0o640);
    }
  });

  it('serves it over HTTPS from live/, valid against pebble’s root', async () => {
    const live = join(certbot.configDir, 'live', NAME);
    stack = await startStack({
      ...common,
      port: plainPort,
      dataDir,
      stateDir,
      tls: { certificateFile: join(live, 'fullchain.pem'), keyFile: join(live, 'privkey.pem'), port: 0, acmeWebroot: webroot },
    });
    const httpsPort = Number(new URL(stack.url).port);
    const page = await httpsGet(httpsPort, '/', root);
    assert.equal(page.status, 200);
    assert.match(page.body, /<form/);
    assert.equal(await servedSerial(httpsPort, root, NAME), liveSerial(certbot));
  });

  it('renews (forced) under wrk -c16 through HTTPS: the new certificate served, no request lost, no connection reset', async (t) => {
    assert.ok(stack !== undefined, 'the HTTPS stack of the test before');
    const httpsPort = Number(new URL(stack.url).port);
    const created = await fetch(`${stack.internalUrl}/api/bookmarks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // A link to the service itself: the only URI a loopback-only machine can check.
      body: JSON.stringify({ uri: `${stack.url}/?steady`, name: 'steady' }),
    });
    assert.equal(created.status, 201, await created.text());
    const before = liveSerial(certbot);

    const { load, failed, event } = await observeClientResets(
      {
        url: stack.url,
        connections: 16,
        durationSeconds: 15,
        requests: [{ method: 'GET', path: '/steady' }],
        expected: [303],
        warmUpMs: 2000,
      },
      async () => {
        // HTTP-01 again, through the plain port's redirect server (the ACME exemption), then
        // certbot repoints live/: nginx serves the new files at the next handshake.
        await certbot.run('renew', '--force-renewal', '--no-random-sleep-on-renew');
        return servedSerial(httpsPort, root, NAME);
      },
      new Progress({ quiet: true }),
    );
    const renewed = liveSerial(certbot);
    assert.notEqual(renewed, before, 'certbot issued a new certificate');
    assert.equal(event, renewed, 'a new handshake during the load is served the new certificate');
    t.diagnostic(
      `renewal under wrk -c16: ${load.requests} requests, ${load.errors} reset or unanswered, ${failed} failed; statuses ${JSON.stringify(load.statuses)}`,
    );
    assert.equal(load.errors, 0, 'no connection reset or closed under a request');
    assert.equal(failed, 0, 'every request answered 303');
    assert.ok(load.requests > 0);
    // certbot kept the new key readable by the workers (group and mode of the old one).
    const keys = readdirSync(join(certbot.configDir, 'archive', NAME)).filter((file) => file.startsWith('privkey'));
    assert.equal(keys.length, 2);
    if (process.getuid?.() === 0) assert.equal(statSync(join(certbot.configDir, 'archive', NAME, 'privkey2.pem')).gid, NOGROUP);
  });
});
