import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formPost, httpRequest } from '../../app/test/client.ts';
import { SuiteCleanups, tempDir } from '../../test/support/index.ts';
import { CRL_URL, type IssuedCertificate, makeTestCa, spkiHash, type TestCa } from '../../test/support/tls.ts';
import { type Stack, startStack } from '../src/stack.ts';
import { runAppCommand } from './helpers.ts';

// The native stack with HTTPS on, as `npm start` runs it with TLS_CERT_FILE and TLS_KEY_FILE:
// real nginx, one app process, a certificate from a CA this test makes and only this test
// trusts. One stack for the whole file; clients are openssl s_client, curl, Node and Chromium.

const HSTS_MAX_AGE = 600;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runTool(command: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout: 15_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr }),
    );
    // s_client waits for input after the handshake; end of input closes the connection.
    child.stdin?.end();
  });
}

describe('the native stack over HTTPS (TLS_CERT_FILE, TLS_KEY_FILE)', () => {
  const fixtures = new SuiteCleanups();
  let ca: TestCa;
  let site: IssuedCertificate;
  let stack: Stack;
  let dataDir: string;
  let acmeWebroot: string;
  let hostPort: string;

  before(async () => {
    ca = makeTestCa(fixtures);
    site = ca.issue('site');
    dataDir = tempDir(fixtures, 'linkyard-tls-data-');
    acmeWebroot = tempDir(fixtures, 'linkyard-tls-acme-');
    // Started by root, nginx's workers run as nobody: the webroot must be theirs to enter.
    chmodSync(acmeWebroot, 0o755);
    stack = await startStack({
      port: 0,
      instances: 1,
      dataDir,
      stateDir: tempDir(fixtures, 'linkyard-tls-state-'),
      quiet: true,
      accessLog: false,
      env: { CHECK_ALLOW_PRIVATE: 'false', LOG_LEVEL: 'warn' },
      tls: { ...site, port: 0, hstsMaxAge: HSTS_MAX_AGE, acmeWebroot },
    });
    hostPort = stack.url.replace('https://', '');
  });

  after(async () => {
    await stack?.stop();
    await fixtures.run();
  });

  const sClient = (...args: string[]) =>
    runTool('openssl', ['s_client', '-connect', hostPort, '-servername', 'localhost', '-CAfile', ca.caCertFile, ...args]);

  it('accepts TLS 1.3 and 1.2 handshakes, verified against the test CA', async () => {
    const tls13 = await sClient('-tls1_3');
    assert.equal(tls13.code, 0, tls13.stderr);
    assert.match(tls13.stdout, /New, TLSv1\.3, Cipher is TLS_AES_/);
    assert.match(tls13.stdout, /Verify return code: 0 \(ok\)/);
    // The leaf names its CA's revocation list, as a public CA's does (testssl.sh's cert_revocation).
    const leaf = await runTool('openssl', ['x509', '-in', site.certificateFile, '-noout', '-ext', 'crlDistributionPoints']);
    assert.ok(leaf.stdout.includes(`URI:${CRL_URL}`), leaf.stdout + leaf.stderr);
    const tls12 = await sClient('-tls1_2');
    assert.equal(tls12.code, 0, tls12.stderr);
    assert.match(tls12.stdout, /New, TLSv1\.2, Cipher is ECDHE-ECDSA-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)/);
  });

  it("chooses the TLS 1.2 suite by the server's order, except for a client that names ChaCha20 first", async () => {
    const cipherOf = async (...args: string[]) => {
      const run = await sClient('-tls1_2', ...args);
      assert.equal(run.code, 0, run.stderr);
      return /New, TLSv1\.2, Cipher is (\S+)/.exec(run.stdout)?.[1];
    };
    // The client lists AES-256 before AES-128: the server's order (AES-128 first) wins.
    assert.equal(await cipherOf('-cipher', 'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256'), 'ECDHE-ECDSA-AES128-GCM-SHA256');
    // ChaCha20 first (a phone without AES hardware): PrioritizeChaCha gives it that, in TLS 1.2 and 1.3.
    assert.equal(await cipherOf('-cipher', 'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256'), 'ECDHE-ECDSA-CHACHA20-POLY1305');
    const tls13 = await sClient('-tls1_3', '-ciphersuites', 'TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256');
    assert.match(tls13.stdout, /New, TLSv1\.3, Cipher is TLS_CHACHA20_POLY1305_SHA256/);
  });

  it('refuses TLS 1.1 and 1.0, and TLS 1.2 suites without forward secrecy or AEAD', async () => {
    // SECLEVEL=0: this client would not even offer the old protocols otherwise; the server must refuse them.
    for (const protocol of ['-tls1_1', '-tls1']) {
      const old = await sClient(protocol, '-cipher', 'DEFAULT@SECLEVEL=0');
      assert.notEqual(old.code, 0, `${protocol} was accepted:\n${old.stdout}`);
      assert.match(old.stderr, /alert protocol version/, `${protocol}: the server's refusal`);
    }
    // RSA key exchange; CBC with SHA-1 (ECDSA, so the certificate would allow it); CBC with SHA-256.
    for (const cipher of ['AES128-SHA', 'AES256-GCM-SHA384', 'ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES128-SHA256']) {
      const weak = await sClient('-tls1_2', '-cipher', `${cipher}@SECLEVEL=0`);
      assert.notEqual(weak.code, 0, `${cipher} was accepted`);
      assert.match(weak.stderr, /alert handshake failure|no cipher/, `${cipher}: the server's refusal`);
    }
  });

  it('speaks HTTP/2 when the client offers it by ALPN, and HTTP/1.1 to those that do not', async () => {
    const h2 = await runTool('curl', [
      '-sS',
      '--http2',
      '--cacert',
      ca.caCertFile,
      '-o',
      '/dev/null',
      '-w',
      '%{http_version} %{http_code}',
      `${stack.url}/`,
    ]);
    assert.equal(h2.stdout, '2 200', h2.stderr);
    const h1 = await runTool('curl', [
      '-sS',
      '--http1.1',
      '--cacert',
      ca.caCertFile,
      '-o',
      '/dev/null',
      '-w',
      '%{http_version} %{http_code}',
      `${stack.url}/`,
    ]);
    assert.equal(h1.stdout, '1.1 200', h1.stderr);
  });

  it('redirects the public plain port to https: 301 for GET and HEAD, 308 for others; ACME challenges are served, not redirected', async () => {
    const get = await httpRequest(`${stack.plainUrl}/some-name?q=1`);
    assert.equal(get.status, 301);
    assert.equal(get.headers.location, `${stack.url}/some-name?q=1`);
    assert.equal((await httpRequest(`${stack.plainUrl}/`, { method: 'HEAD' })).status, 301);
    const post = await httpRequest(`${stack.plainUrl}/`, formPost({ longuri: 'https://example.com/', shortname: 'plain' }));
    assert.equal(post.status, 308);
    assert.equal(post.headers.location, `${stack.url}/`);
    assert.equal((await httpRequest(`${stack.plainUrl}/api/bookmarks/x`, { method: 'DELETE' })).status, 308);
    const noHost = await runTool('curl', ['-sS', '-0', '-H', 'Host:', '-o', '/dev/null', '-w', '%{http_code}', `${stack.plainUrl}/x`]);
    assert.equal(noHost.stdout, '400', 'HTTP/1.0 without a Host: no site to redirect to');
    assert.equal(post.headers['strict-transport-security'], undefined, 'no HSTS on plain HTTP (RFC 6797 §7.2)');

    const challenges = join(acmeWebroot, '.well-known', 'acme-challenge');
    mkdirSync(challenges, { recursive: true });
    writeFileSync(join(challenges, 'token-123'), 'token-123.thumbprint');
    const token = await httpRequest(`${stack.plainUrl}/.well-known/acme-challenge/token-123`);
    assert.equal(token.status, 200);
    assert.equal(token.body, 'token-123.thumbprint');
    assert.equal((await httpRequest(`${stack.plainUrl}/.well-known/acme-challenge/unknown`)).status, 404);
    assert.equal((await httpRequest(`${stack.plainUrl}/.well-known/other`)).status, 301, 'only the challenges are exempt');
  });

  it('sends HSTS with the configured max-age over HTTPS only; the internal plain port is not redirected', async () => {
    const page = await httpRequest(`${stack.url}/`, { ca: ca.caCertPem });
    assert.equal(page.status, 200);
    assert.equal(page.headers['strict-transport-security'], `max-age=${HSTS_MAX_AGE}`);
    const missing = await httpRequest(`${stack.url}/static/nothing-here.css`, { ca: ca.caCertPem });
    assert.equal(missing.headers['strict-transport-security'], `max-age=${HSTS_MAX_AGE}`, 'on nginx’s own answers too');
    const internal = await httpRequest(`${stack.internalUrl}/`);
    assert.equal(internal.status, 200);
    assert.equal(internal.headers['strict-transport-security'], undefined);
  });

  it('compresses nothing a session cookie reaches (BREACH), but still the stylesheet and the API', async () => {
    const gzip = { 'accept-encoding': 'gzip, deflate, br' };
    const page = await httpRequest(`${stack.url}/`, { headers: gzip, ca: ca.caCertPem });
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-encoding'], undefined, 'the page');
    const stylesheet = /<link\s+rel="stylesheet"\s+href="([^"]+)"/.exec(page.body)?.[1] ?? '';
    const css = await httpRequest(`${stack.url}${stylesheet}`, { headers: gzip, ca: ca.caCertPem });
    assert.equal(css.headers['content-encoding'], 'gzip', 'the stylesheet: no secret in it');
    const signIn = await httpRequest(`${stack.url}/sign-in`, { headers: gzip, ca: ca.caCertPem });
    assert.equal(signIn.headers['content-encoding'], undefined, 'the sign-in form');
    // Bearer keys only, never the cookie: a cross-site page cannot make it send a victim's data.
    const api = await httpRequest(`${stack.url}/api/bookmarks?limit=50`, { headers: gzip, ca: ca.caCertPem });
    assert.equal(api.status, 200);
    if (Number(api.headers['content-length'] ?? 1000) >= 256) assert.equal(api.headers['content-encoding'], 'gzip', 'the API');
  });

  it('serves the page, a create and its redirect over HTTPS, with https short URLs and a Secure session cookie', async () => {
    const page = await httpRequest(`${stack.url}/`, { ca: ca.caCertPem });
    assert.match(page.body, /<form/);
    // A link to the service itself: checked through the internal plain port (SELF_URL), no certificate needed.
    const created = await httpRequest(`${stack.url}/`, {
      ...formPost({ longuri: `${stack.url}/?over-tls`, shortname: 'over-tls' }),
      ca: ca.caCertPem,
    });
    assert.equal(created.status, 303, created.body);
    const redirect = await httpRequest(`${stack.url}/over-tls`, { ca: ca.caCertPem });
    assert.equal(redirect.status, 303);
    assert.equal(redirect.headers.location, `${stack.url}/?over-tls`);
    const bookmark = JSON.parse((await httpRequest(`${stack.url}/api/bookmarks/over-tls`, { ca: ca.caCertPem })).body) as {
      shortUrl: string;
    };
    assert.equal(bookmark.shortUrl, `${stack.url}/over-tls`);

    const key = await runAppCommand('keys', dataDir, 'create', '--name', 'tls', '--role', 'author');
    const signedIn = await httpRequest(`${stack.url}/sign-in`, { ...formPost({ key }), ca: ca.caCertPem });
    assert.equal(signedIn.status, 303, signedIn.body);
    assert.match(String(signedIn.headers['set-cookie']), /; Secure$/);
  });

  it('sets X-Forwarded-Proto itself (a client’s is replaced); the app believes it only from TRUSTED_PROXIES', async () => {
    // The app accepts a form whose Origin is its own scheme://host, the scheme being what
    // X-Forwarded-Proto says when the sender is a trusted proxy (TRUSTED_PROXIES: loopback here).
    const signOut = (base: string, origin: string, extra: Record<string, string> = {}) =>
      httpRequest(`${base}/sign-out`, {
        method: 'POST',
        headers: { host: 'localhost', origin, 'content-length': '0', ...extra },
        ca: ca.caCertPem,
      });
    assert.equal((await signOut(stack.url, 'https://localhost')).status, 303, 'over HTTPS nginx says https');
    const spoofed = await signOut(stack.internalUrl, 'https://localhost', { 'x-forwarded-proto': 'https' });
    assert.equal(spoofed.status, 403, 'over plain HTTP a client’s X-Forwarded-Proto: https is replaced by http');

    // Straight to an app process: believed from 127.0.0.1 (TRUSTED_PROXIES' default), not from 127.0.0.2.
    const app = stack.appUrls[0] ?? '';
    const direct = (localAddress: string) =>
      httpRequest(`${app}/sign-out`, {
        method: 'POST',
        headers: { host: 'localhost', origin: 'https://localhost', 'x-forwarded-proto': 'https', 'content-length': '0' },
        localAddress,
      });
    assert.equal((await direct('127.0.0.1')).status, 303, 'from a trusted proxy');
    assert.equal((await direct('127.0.0.2')).status, 403, 'from anyone else the header is ignored: the scheme stays http');
  });

  it('is loaded by Chromium trusting the test CA: no certificate warning, no mixed content', async (t) => {
    const { browserSkipReason, CHROMIUM } = await import('../../app/test/browser/support.ts');
    const skip = browserSkipReason();
    if (skip !== undefined) return t.skip(skip);
    const { chromium } = await import('playwright-core');
    // Trusts exactly this test's site certificate (by its public key), nothing else.
    const leafPem = readFileSync(site.certificateFile, 'utf8');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', `--ignore-certificate-errors-spki-list=${spkiHash(leafPem)}`],
      timeout: 30_000,
    });
    t.after(() => browser.close());
    const page = await browser.newPage();
    const requested: string[] = [];
    const problems: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    page.on('console', (message) => {
      if (['error', 'warning'].includes(message.type())) problems.push(message.text());
    });
    const response = await page.goto(`${stack.url}/`);
    assert.equal(response?.status(), 200);
    const security = await response?.securityDetails();
    assert.match(security?.protocol ?? '', /^TLS 1\.3$/);
    assert.equal(await response?.headerValue('strict-transport-security'), `max-age=${HSTS_MAX_AGE}`);
    await page.fill('form.create input[name="longuri"]', `${stack.url}/?from-chromium`);
    await page.fill('form.create input[name="shortname"]', 'from-chromium');
    // The form posts to / and lands on / again (303), over HTTPS all the way.
    await Promise.all([
      page.waitForResponse((answer) => answer.request().method() === 'POST'),
      page.click('form.create button[type="submit"]'),
    ]);
    await page.waitForLoadState();
    assert.ok(page.url().startsWith(`${stack.url}/`), page.url());
    assert.equal(
      (await httpRequest(`${stack.url}/api/bookmarks/from-chromium`, { ca: ca.caCertPem })).status,
      200,
      'the browser created it',
    );
    assert.ok(requested.length > 1, 'the page loaded its stylesheet and script');
    const insecure = requested.filter((url) => !url.startsWith('https://') && !url.startsWith('data:'));
    assert.deepEqual(insecure, [], 'every subresource over https');
    assert.deepEqual(problems, [], 'no mixed-content or certificate complaint in the console');
  });
});
