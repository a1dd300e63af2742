import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderEnvFiles, renderHttpsFiles } from '../src/nginx-config.ts';
import { tlsFromEnv } from '../src/tls.ts';

// What the native stack renders for certificates taken up without a reload (certificate-renewal.ts)
// and for certbot's first certificate. The real thing, nginx reading renewed files under load, is
// test/acme/native.drill.ts (`npm run test:drills`) and `npm run loadtest -- renewal-resets`.

const settings = {
  prefix: '/tmp/p',
  host: '127.0.0.1',
  port: 8080,
  upstreams: [{ port: 8001 }],
  staticRoot: '/srv',
  rateLimit: '10r/s',
  accessLog: false,
};
const tls = {
  port: 8443,
  internalPort: 8081,
  certificateFile: '/etc/letsencrypt/live/x/fullchain.pem',
  keyFile: '/etc/letsencrypt/live/x/privkey.pem',
  acmeWebroot: '/w',
  http2Directive: false,
};

describe('certificates named by variables, and the ACME webroot without HTTPS', () => {
  it('names the certificate through variables defined at http level, so nginx reads the files per handshake', () => {
    const files = renderHttpsFiles(settings, tls);
    assert.match(
      files['server.conf'],
      /^ssl_certificate \$linkyard_tls_certificate;\nssl_certificate_key \$linkyard_tls_certificate_key;$/m,
    );
    assert.doesNotMatch(files['server.conf'], /ssl_certificate_cache/, 'nginx < 1.27.4 has no cache');
    assert.match(
      files['redirect.conf'],
      /^map "" \$linkyard_tls_certificate \{\n {2}default "\/etc\/letsencrypt\/live\/x\/fullchain\.pem";\n\}$/m,
    );
    assert.match(
      files['redirect.conf'],
      /^map "" \$linkyard_tls_certificate_key \{\n {2}default "\/etc\/letsencrypt\/live\/x\/privkey\.pem";\n\}$/m,
    );
    const cached = renderHttpsFiles(settings, { ...tls, certificateCache: true });
    assert.match(cached['server.conf'], /^ssl_certificate_cache max=16 valid=60s;$/m);
  });

  it('serves ACME challenges on the plain port without HTTPS only when given a webroot', () => {
    const plain = renderEnvFiles({ ...settings, acmeWebroot: '/var/lib/linkyard/acme' })['server.conf'];
    assert.match(plain, /location \^~ \/\.well-known\/acme-challenge\/ \{\n {2}root "\/var\/lib\/linkyard\/acme";/);
    assert.doesNotMatch(renderEnvFiles(settings)['server.conf'], /acme-challenge/, 'nothing changes without one');
    // With HTTPS the redirect server serves them (snippets/https-redirect.conf), not the inside port.
    assert.doesNotMatch(renderEnvFiles({ ...settings, acmeWebroot: '/w', tls })['server.conf'], /acme-challenge/);
  });

  it('takes ACME_WEBROOT without the certificate files (the first certificate), and still refuses HTTPS_PORT alone', () => {
    assert.equal(tlsFromEnv({ ACME_WEBROOT: '/var/lib/linkyard/acme' }), undefined);
    assert.throws(() => tlsFromEnv({ HTTPS_PORT: '443' }), /HTTPS_PORT/);
  });
});
