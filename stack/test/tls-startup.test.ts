import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SuiteCleanups } from '../../test/support/index.ts';
import { type IssuedCertificate, makeTestCa, type TestCa } from '../../test/support/tls.ts';
import { renderEnvFiles, renderHttpsFiles } from '../src/nginx-config.ts';
import { atLeast, requireTlsSupport, tlsFromEnv } from '../src/tls.ts';

// What stops `npm start` with HTTPS on before anything runs: its settings, the certificate files
// (checked by app/src/tls-files.ts, whose own tests list every problem) reported in one line with
// exit 78, and an nginx that cannot serve TLS.

const LAUNCHER = fileURLToPath(new URL('../src/launcher.ts', import.meta.url));
const DAY_MS = 86_400_000;

/** `npm start`'s launcher with `env`: its exit code and what it printed to stderr. */
function launch(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [LAUNCHER],
      { env: { PATH: process.env.PATH, ...env }, timeout: 30_000 },
      (error, _stdout, stderr) => resolve({ code: error === null ? 0 : (child.exitCode ?? null), stderr }),
    );
  });
}

describe('HTTPS start-up checks (TLS_CERT_FILE, TLS_KEY_FILE)', () => {
  const fixtures = new SuiteCleanups();
  let ca: TestCa;
  let site: IssuedCertificate;

  before(() => {
    ca = makeTestCa(fixtures);
    site = ca.issue('site');
  });
  after(() => fixtures.run());

  it('takes both files or neither, and HTTPS settings only with them', () => {
    assert.equal(tlsFromEnv({}), undefined, 'off by default: nothing changes');
    assert.throws(() => tlsFromEnv({ TLS_CERT_FILE: site.certificateFile }), /^ConfigError: TLS_KEY_FILE: TLS_CERT_FILE is set/);
    assert.throws(() => tlsFromEnv({ TLS_KEY_FILE: site.keyFile }), /^ConfigError: TLS_CERT_FILE: TLS_KEY_FILE is set/);
    assert.throws(() => tlsFromEnv({ HSTS_MAX_AGE: '600' }), /HSTS_MAX_AGE: only means something with HTTPS on/);
    assert.throws(() => tlsFromEnv({ ...files(site), HSTS_MAX_AGE: '1y' }), /HSTS_MAX_AGE: expected a whole number/);
    assert.throws(() => tlsFromEnv({ ...files(site), HTTPS_PORT: '70000' }), /HTTPS_PORT: expected 0–65535/);
    assert.deepEqual(tlsFromEnv({ ...files(site), HSTS_MAX_AGE: '31536000' }), {
      certificateFile: site.certificateFile,
      keyFile: site.keyFile,
      port: 8443,
      hstsMaxAge: 31_536_000,
      acmeWebroot: undefined,
    });
  });

  it('stops `npm start` with exit 78 and that one line (each problem as above)', async () => {
    const expired = ca.issue('expired-launch', { from: new Date(Date.now() - 10 * DAY_MS), to: new Date(Date.now() - DAY_MS) });
    const { code, stderr } = await launch(files(expired));
    assert.equal(code, 78, stderr);
    assert.match(
      stderr,
      new RegExp(`^linkyard: bad configuration: TLS_CERT_FILE: ${expired.certificateFile} \\(CN=127\\.0\\.0\\.1\\) expired on [^\\n]+\\n$`),
    );
  });

  it('renders HTTP/2 for the nginx at hand, and refuses one too old or built without TLS', () => {
    const settings = {
      prefix: '/tmp/p',
      host: '127.0.0.1',
      port: 8080,
      upstreams: [{ port: 8001 }],
      staticRoot: '/srv',
      rateLimit: '10r/s',
      accessLog: false,
    };
    const tls = { port: 8443, internalPort: 8081, certificateFile: '/c.pem', keyFile: '/k.pem', acmeWebroot: '/w' };
    const old = renderHttpsFiles(settings, { ...tls, http2Directive: false });
    assert.match(old['server.conf'], /^listen 127\.0\.0\.1:8443 ssl http2 default_server;$/m);
    const recent = renderHttpsFiles(settings, { ...tls, http2Directive: true });
    assert.match(recent['server.conf'], /^listen 127\.0\.0\.1:8443 ssl default_server;\nhttp2 on;$/m);
    assert.match(recent['redirect.conf'], /^ {2}listen 127\.0\.0\.1:8080 default_server;$/m);
    assert.match(recent['redirect.conf'], /set \$linkyard_https_port ":8443";/);
    assert.match(renderHttpsFiles(settings, { ...tls, port: 443, http2Directive: true })['redirect.conf'], /set \$linkyard_https_port "";/);
    assert.match(
      renderEnvFiles({ ...settings, tls: { ...tls, http2Directive: true } })['server.conf'],
      /^listen 127\.0\.0\.1:8081 default_server;$/m,
      'the internal plain port',
    );
    assert.match(
      renderEnvFiles(settings)['server.conf'],
      /^listen 127\.0\.0\.1:8080 default_server;$/m,
      'TLS off: the public port, as before',
    );

    assert.ok(atLeast([1, 25, 1], [1, 25, 1]) && atLeast([1, 30, 0], [1, 25, 1]) && !atLeast([1, 22, 1], [1, 25, 1]));
    assert.throws(
      () => requireTlsSupport('/old/nginx', { version: [1, 18, 0], ssl: true, http2: true }),
      /HTTPS needs nginx ≥ 1\.19\.4, and \/old\/nginx is 1\.18\.0/,
      "Debian 11's and Ubuntu 22.04's nginx has no ssl_conf_command",
    );
    assert.doesNotThrow(() => requireTlsSupport('/new/nginx', { version: [1, 19, 4], ssl: true, http2: true }));
    assert.throws(() => requireTlsSupport('/x/nginx', { version: [1, 22, 1], ssl: false, http2: true }), /built with its SSL module/);
  });
});

function files(issued: IssuedCertificate): Record<string, string> {
  return { TLS_CERT_FILE: issued.certificateFile, TLS_KEY_FILE: issued.keyFile };
}
