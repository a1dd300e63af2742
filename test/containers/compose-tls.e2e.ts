import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { formPost, httpRequest } from '../../app/test/client.ts';
import { freePorts } from '../../stack/src/ports.ts';
import { SuiteCleanups } from '../support/index.ts';
import { makeTestCa, type TestCa } from '../support/tls.ts';
import { skipWithoutDocker, startFresh } from './compose-stack.ts';
import { ComposeProject } from './docker.ts';
import { assertSelfLinkOverHttps } from './https.ts';

// docker-compose.yml with docker-compose.tls.yml on top, as docs/https.md has a user run it: the
// certificate and key are Docker secrets (files from a CA this test makes), nginx (the image's
// 1.29) serves HTTPS and HTTP/2, the public plain port redirects, and the plain port 8080 stays
// inside the network for the apps' self-link check, the healthcheck and k6. Free ports of its own
// (LINKYARD_HTTP_PORT, LINKYARD_HTTPS_PORT), so a stack a developer runs on 8080 is not in the way.

const [HTTP_PORT = 0, HTTPS_PORT = 0] = await freePorts(2);
const PUBLIC_URL = `https://localhost:${HTTPS_PORT}`;
const DAY_MS = 86_400_000;

function curl(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('curl', ['-sS', ...args], { timeout: 15_000 }, (error, stdout, stderr) =>
      error === null ? resolve(stdout) : reject(new Error(stderr)),
    ),
  );
}

describe('docker compose with docker-compose.tls.yml (HTTPS from secrets)', { skip: await skipWithoutDocker(), timeout: 600_000 }, () => {
  const fixtures = new SuiteCleanups();
  let ca: TestCa;
  let project: ComposeProject;

  before(async () => {
    ca = makeTestCa(fixtures);
    const site = ca.issue('compose-site');
    project = new ComposeProject({
      name: 'linkyard-e2e-tls',
      files: ['docker-compose.yml', 'docker-compose.tls.yml'],
      env: {
        LINKYARD_TLS_CERT_FILE: site.certificateFile,
        LINKYARD_TLS_KEY_FILE: site.keyFile,
        LINKYARD_HTTP_PORT: String(HTTP_PORT),
        LINKYARD_HTTPS_PORT: String(HTTPS_PORT),
        PUBLIC_URL,
        LINKYARD_HSTS_MAX_AGE: '300',
      },
    });
    fixtures.after(await startFresh(project, HTTP_PORT));
  });

  after(async () => {
    await project?.down({ volumes: true });
    await fixtures.run();
  });

  it('serves HTTPS with HTTP/2 from the secrets, HSTS as configured; every service healthy', async () => {
    for (const service of ['nginx', 'app1', 'app2', 'app3', 'postgres']) {
      assert.equal((await project.state(service)).health, 'healthy', `${service} is healthy (nginx's check uses the internal port)`);
    }
    assert.equal(
      await curl(['--http2', '--cacert', ca.caCertFile, '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `${PUBLIC_URL}/`]),
      '2 200',
    );
    const page = await httpRequest(`${PUBLIC_URL}/`, { ca: ca.caCertPem });
    assert.equal(page.headers['strict-transport-security'], 'max-age=300');
  });

  it('redirects the published plain port (301, 308 for a POST), and does not publish the internal one', async () => {
    const get = await httpRequest(`http://localhost:${HTTP_PORT}/some?x=1`);
    assert.equal(get.status, 301);
    assert.equal(get.headers.location, `${PUBLIC_URL}/some?x=1`);
    const post = await httpRequest(`http://localhost:${HTTP_PORT}/`, formPost({ longuri: 'https://example.com/', shortname: 'x' }));
    assert.equal(post.status, 308);
    assert.equal((await httpRequest(`http://localhost:${HTTP_PORT}/.well-known/acme-challenge/none`)).status, 404);
    const published = await project.composeResult(['port', 'nginx', '8080']);
    assert.doesNotMatch(published.stdout, /:\d+/, `8080 is not published: ${published.stdout}${published.stderr}`);
  });

  it('checks the certificate before nginx starts: the tls-check service says what is wrong in one line, exit 78', async () => {
    const expired = ca.issue('compose-expired', { from: new Date(Date.now() - 10 * DAY_MS), to: new Date(Date.now() - DAY_MS) });
    const check = await project.composeResult(['run', '--rm', '--no-deps', 'tls-check'], {
      env: { LINKYARD_TLS_CERT_FILE: expired.certificateFile, LINKYARD_TLS_KEY_FILE: expired.keyFile },
      timeoutMs: 60_000,
    });
    assert.equal(check.code, 78, `${check.stdout}${check.stderr}`);
    assert.match(
      check.stderr,
      /linkyard: bad configuration: LINKYARD_TLS_CERT_FILE \(secret tls_certificate\): \/run\/secrets\/tls_certificate \(CN=127\.0\.0\.1\) expired on 20/,
    );
    const logs = await project.logs(20, ['tls-check']);
    assert.match(logs, /certificate CN=127\.0\.0\.1, valid until .*, and its key: ok/, 'the one that runs passed the same check');
  });

  it('creates and redirects over HTTPS; a link to itself is checked through the internal port (SELF_URL)', async () => {
    await assertSelfLinkOverHttps(PUBLIC_URL, ca.caCertPem);
  });
});
