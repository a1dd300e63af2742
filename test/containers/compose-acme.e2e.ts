import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { observeClientResets } from '../../loadtest/src/observers/client-resets.ts';
import { Progress } from '../../loadtest/src/progress.ts';
import { freePorts } from '../../stack/src/ports.ts';
import { httpsGet, httpsRequest, servedSerial } from '../support/acme.ts';
import { SuiteCleanups } from '../support/index.ts';
import { skipWithoutDocker, startFresh } from './compose-stack.ts';
import { ComposeProject, tail, waitFor } from './docker.ts';

// docker-compose.yml + docker-compose.tls.yml + docker-compose.acme.yml with the `acme` profile,
// as docs/https.md#acme has a user run it, with pebble (the ACME test server) as the CA
// (test/containers/compose-acme-pebble.yml): the certbot service gets the first certificate by
// HTTP-01 through nginx's public plain port, nginx serves it from the letsencrypt volume with no
// restart, and a forced renewal under wrk -c16 through HTTPS is taken up with no reload (within
// ssl_certificate_cache's 60 s) and no request lost.

const [HTTP_PORT = 0, HTTPS_PORT = 0, MANAGEMENT_PORT = 0] = await freePorts(3);
/** The name certified: nginx's service name, which pebble's VA resolves on the compose network. */
const NAME = 'nginx';
const CERTBOT = ['exec', '-T', 'certbot', 'certbot'];

describe('docker compose with docker-compose.acme.yml (certbot and pebble)', { skip: await skipWithoutDocker(), timeout: 900_000 }, () => {
  const fixtures = new SuiteCleanups();
  let project: ComposeProject;
  let root: string;

  before(async () => {
    project = new ComposeProject({
      name: 'linkyard-e2e-acme',
      files: ['docker-compose.yml', 'docker-compose.tls.yml', 'docker-compose.acme.yml', 'test/containers/compose-acme-pebble.yml'],
      env: {
        COMPOSE_PROFILES: 'acme',
        LINKYARD_ACME_DOMAINS: NAME,
        LINKYARD_HTTP_PORT: String(HTTP_PORT),
        LINKYARD_HTTPS_PORT: String(HTTPS_PORT),
        LINKYARD_PEBBLE_MANAGEMENT_PORT: String(MANAGEMENT_PORT),
        PUBLIC_URL: `https://${NAME}:${HTTPS_PORT}`,
        LINKYARD_ACME_RETRY_SECONDS: '5',
      },
    });
    fixtures.after(await startFresh(project, HTTP_PORT));
    // The root pebble's certificates chain to, from its management API, itself trusted by the
    // root of pebble's own test certificates (the image's; read from the container).
    const minica = await project.compose(['exec', '-T', 'pebble', 'cat', '/test/certs/pebble.minica.pem']);
    root = (await httpsGet(MANAGEMENT_PORT, '/roots/0', minica, 'localhost')).body;
  });

  after(async () => {
    await project?.down({ volumes: true });
    await fixtures.run();
  });

  it('gets the first certificate by HTTP-01 through nginx, and nginx serves it without a restart', async () => {
    const serial = await waitFor('the certificate from pebble to be served', 120_000, async () =>
      servedSerial(HTTPS_PORT, root, NAME).catch(() => undefined),
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}\n${tail(await project.logs(80, ['certbot', 'nginx', 'pebble']), 120)}`);
    });
    assert.match(serial, /^[0-9A-F]+$/);
    const page = await httpsGet(HTTPS_PORT, '/', root, NAME);
    assert.equal(page.status, 200);
    assert.match(page.body, /<form/);
    assert.match(await project.logs(40, ['certbot']), /renewal checked every 43200 s/);
  });

  it('renews (forced) under wrk -c16 through HTTPS: taken up with no reload, no request lost', async (t) => {
    const created = await httpsRequest(HTTPS_PORT, '/api/bookmarks', root, {
      servername: NAME,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uri: `https://${NAME}:${HTTPS_PORT}/?steady`, name: 'steady' }),
    });
    assert.equal(created.status, 201, created.body);
    const before = await servedSerial(HTTPS_PORT, root, NAME);
    const nginxStarted = (await project.state('nginx')).startedAt;

    const { load, failed, event } = await observeClientResets(
      {
        url: `https://127.0.0.1:${HTTPS_PORT}`,
        connections: 16,
        // The renewal (seconds) and ssl_certificate_cache's valid=60s before the files are looked at again.
        durationSeconds: 100,
        requests: [{ method: 'GET', path: '/steady' }],
        expected: [303],
        warmUpMs: 2000,
      },
      async () => {
        await project.compose([...CERTBOT, 'renew', '--force-renewal', '--non-interactive', '--no-random-sleep-on-renew'], {
          timeoutMs: 60_000,
        });
        const renewed = performance.now();
        const serial = await waitFor('the renewed certificate to be served', 80_000, async () => {
          const served = await servedSerial(HTTPS_PORT, root, NAME);
          return served === before ? undefined : served;
        });
        return { serial, takenUpMs: performance.now() - renewed };
      },
      new Progress({ quiet: true }),
    );
    assert.notEqual(event.serial, before);
    assert.equal((await project.state('nginx')).startedAt, nginxStarted, 'nginx was not restarted');
    t.diagnostic(
      `renewal under wrk -c16: served ${(event.takenUpMs / 1000).toFixed(0)} s after certbot was done (ssl_certificate_cache valid=60s); ${load.requests} requests, ${load.errors} reset or unanswered, ${failed} failed; statuses ${JSON.stringify(load.statuses)}`,
    );
    assert.equal(load.errors, 0, 'no connection reset or closed under a request');
    assert.equal(failed, 0, 'every request answered 303');
  });
});
