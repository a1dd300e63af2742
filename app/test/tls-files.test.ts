import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SuiteCleanups } from '../../test/support/index.ts';
import { type IssuedCertificate, makeTestCa, type TestCa } from '../../test/support/tls.ts';
import { ConfigError } from '../src/env.ts';
import { checkCertificateFiles } from '../src/tls-files.ts';

// The certificate and key nginx is about to serve, checked before it starts (by `npm start`, and
// by compose's tls-check service through cli/check-tls.ts): every problem in one line naming the
// variable, the file and what is wrong. Certificates from a CA this test makes.

const DAY_MS = 86_400_000;
const CHECK_TLS = fileURLToPath(new URL('../src/cli/check-tls.ts', import.meta.url));

describe('certificate and key files (tls-files.ts)', () => {
  const fixtures = new SuiteCleanups();
  let ca: TestCa;
  let site: IssuedCertificate;
  let other: IssuedCertificate;

  before(() => {
    ca = makeTestCa(fixtures);
    site = ca.issue('site');
    other = ca.issue('other');
  });
  after(() => fixtures.run());

  const refusal = (certificate: string, key: string, now?: Date): string => {
    try {
      checkCertificateFiles(certificate, key, now);
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      assert.doesNotMatch(error.message, /\n/, 'one line');
      return error.message;
    }
    assert.fail('accepted');
  };

  it('accepts a certificate (with its chain) and its own key', () => {
    assert.match(checkCertificateFiles(site.certificateFile, site.keyFile).subject, /CN=127\.0\.0\.1/);
  });

  it('names the file and the problem: missing, not PEM, expired, not yet valid, someone else’s key', () => {
    const missing = join(ca.dir, 'nope.crt');
    assert.equal(refusal(missing, site.keyFile), `TLS_CERT_FILE: ${missing} does not exist`);
    assert.equal(refusal(site.certificateFile, join(ca.dir, 'nope.key')), `TLS_KEY_FILE: ${join(ca.dir, 'nope.key')} does not exist`);
    assert.equal(refusal(ca.dir, site.keyFile), `TLS_CERT_FILE: ${ca.dir} is a folder, not a file`);
    // The two swapped, a common slip.
    assert.match(refusal(site.keyFile, site.certificateFile), new RegExp(`^TLS_CERT_FILE: ${site.keyFile} holds no PEM certificate`));
    const garbage = join(ca.dir, 'garbage.key');
    writeFileSync(garbage, 'not a key\n');
    assert.match(refusal(site.certificateFile, garbage), new RegExp(`^TLS_KEY_FILE: ${garbage} holds no PEM private key`));

    const encrypted = join(ca.dir, 'encrypted.key');
    execFileSync('openssl', ['pkey', '-in', site.keyFile, '-aes256', '-passout', 'pass:secret', '-out', encrypted]);
    assert.match(refusal(site.certificateFile, encrypted), new RegExp(`^TLS_KEY_FILE: ${encrypted} is encrypted with a passphrase`));

    const expired = ca.issue('expired', { from: new Date(Date.now() - 10 * DAY_MS), to: new Date(Date.now() - DAY_MS) });
    assert.match(
      refusal(expired.certificateFile, expired.keyFile),
      new RegExp(`^TLS_CERT_FILE: ${expired.certificateFile} \\(CN=127\\.0\\.0\\.1\\) expired on 20`),
    );
    assert.match(refusal(site.certificateFile, site.keyFile, new Date(Date.now() - DAY_MS)), /is not valid yet: from 20/);
    assert.match(
      refusal(site.certificateFile, other.keyFile),
      new RegExp(`^TLS_KEY_FILE: ${other.keyFile} is not the private key of the certificate in ${site.certificateFile}`),
    );
  });

  it('is what check-tls runs: one line on stderr and exit 78, or one line on stdout and 0', async () => {
    const run = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(process.execPath, [CHECK_TLS, ...args], (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
        ),
      );
    const ok = await run(site.certificateFile, site.keyFile);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^certificate CN=127\.0\.0\.1, valid until 20\S+, and its key: ok\n$/);
    const mismatched = await run(site.certificateFile, other.keyFile);
    assert.equal(mismatched.code, 78);
    assert.match(
      mismatched.stderr,
      /^linkyard: bad configuration: LINKYARD_TLS_KEY_FILE \(secret tls_key\): \S+ is not the private key of the certificate in \S+ \(CN=127\.0\.0\.1\)\n$/,
    );
  });
});
