/**
 * HTTPS on Docker Swarm, deployed as docs/https.md has a user do it: docker-stack.yml with
 * docker-stack.tls.yml on top, on a single-node swarm this suite makes and leaves
 * (test/containers/swarm.ts), the certificate and key Swarm secrets made from files that a CA of
 * the test's own issued (test/support/tls.ts). One deployment for every check, over real HTTPS on
 * 127.0.0.1: the handshake trusting the test CA, HTTP/2 by ALPN, the published plain port
 * redirecting, a create and its redirect with https short URLs, and the plain listener inside the
 * overlay still serving nginx's healthcheck and the apps' self-link check.
 *
 * Then the certificate is rotated as docs/https.md says (new secret names, `docker service update
 * --secret-rm … --secret-add …`) under a client loop over HTTPS that never resends. Swarm mounts a
 * new secret only in a new task, and nginx's task (one per node, stop-first) is replaced: the
 * failed requests and the time the node answered none are measured and printed, not asserted to be
 * nothing; the new certificate served and the service back afterwards are asserted.
 *
 *   npm run test:swarm          (needs a Docker engine: ../shared/tools/docker-offline/setup)
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect } from 'node:tls';
import { formPost, httpRequest, runLoad } from '../../app/test/client.ts';
import { freePorts } from '../../stack/src/ports.ts';
import { SuiteCleanups, tempDir } from '../support/index.ts';
import { type IssuedCertificate, makeTestCa, type TestCa } from '../support/tls.ts';
import { APP_IMAGE, buildImage, docker, dockerUnavailable, waitFor } from './docker.ts';
import { assertSelfLinkOverHttps } from './https.ts';
import { joinSwarm, leaveSwarm, type SwarmMembership, SwarmStack } from './swarm.ts';

const unavailable = await dockerUnavailable();
const skip =
  unavailable !== undefined && process.env.CI !== 'true' ? `NOTICE: ${unavailable}: the swarm suite needs a Docker engine` : false;

// Names of this suite's own, apart from swarm.e2e.ts's: nothing here touches what it did not make.
const PROXY_IMAGE = 'linkyard-proxy:swarm-tls-e2e';
const STACK = 'lyswarmtls';
/** Neither compose's 172.28.89.0/24 nor swarm.e2e.ts's 10.89.91.0/24. */
const SUBNET = '10.89.92.0/24';

/** The client loop during the rotation: this many keep-alive connections, each pausing between requests. */
const LOOPS = 4;
const PAUSE_MS = 20;

const [HTTP_PORT = 0, HTTPS_PORT = 0] = await freePorts(2);
const PUBLIC_URL = `https://127.0.0.1:${HTTPS_PORT}`;

function curl(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('curl', ['-sS', ...args], { timeout: 15_000 }, (error, stdout, stderr) =>
      error === null ? resolve(stdout) : reject(new Error(stderr)),
    ),
  );
}

/** A certificate file's first certificate (the site's), by its SHA-256 fingerprint and serial. */
function certificateOf(issued: IssuedCertificate): { fingerprint256: string; serialNumber: string } {
  const certificate = new X509Certificate(readFileSync(issued.certificateFile));
  return { fingerprint256: certificate.fingerprint256, serialNumber: certificate.serialNumber };
}

describe('HTTPS on a single-node Docker Swarm (docker-stack.tls.yml)', { skip, timeout: 900_000 }, () => {
  const fixtures = new SuiteCleanups();
  const figures: string[] = [];
  let ca: TestCa;
  let site: IssuedCertificate;
  let stack: SwarmStack;
  let membership: SwarmMembership | undefined;
  let stopWatchingExit = (): void => {};

  function cleanUp(): string {
    stack?.removeNow();
    const left = membership === undefined ? '' : leaveSwarm(membership);
    membership = undefined;
    return left;
  }

  /** The certificate nginx serves on the published HTTPS port, in a handshake that trusts only the test CA. */
  function servedCertificate(): Promise<{ fingerprint256: string; serialNumber: string; protocol: string; alpn: string }> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: HTTPS_PORT, ca: ca.caCertPem, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
        const certificate = socket.getPeerCertificate();
        resolve({
          fingerprint256: certificate.fingerprint256,
          serialNumber: certificate.serialNumber,
          protocol: socket.getProtocol() ?? '',
          alpn: socket.alpnProtocol === false ? '' : (socket.alpnProtocol ?? ''),
        });
        socket.end();
      });
      socket.setTimeout(10_000, () => socket.destroy(new Error('no TLS handshake within 10 s')));
      socket.once('error', reject);
    });
  }

  before(async () => {
    ca = makeTestCa(fixtures);
    site = ca.issue('swarm-site');
    const secretsDir = tempDir(fixtures, 'linkyard-swarm-tls-');
    writeFileSync(join(secretsDir, 'postgres_password'), `${randomBytes(18).toString('base64url')}\n`);
    writeFileSync(join(secretsDir, 'api_token'), `${randomBytes(18).toString('base64url')}\n`);

    await buildImage(APP_IMAGE);
    await docker(['build', '--network', 'host', '--file', 'proxy/Dockerfile', '--tag', PROXY_IMAGE, '.'], { timeoutMs: 300_000 });

    stack = new SwarmStack({
      name: STACK,
      env: {
        LINKYARD_IMAGE: APP_IMAGE,
        LINKYARD_PROXY_IMAGE: PROXY_IMAGE,
        LINKYARD_PORT: String(HTTP_PORT),
        LINKYARD_HTTPS_PORT: String(HTTPS_PORT),
        LINKYARD_SUBNET: SUBNET,
        PUBLIC_URL,
        // The rotation's client loop is one client: nginx's per-client limits would answer it 429.
        LINKYARD_RATE_LIMIT: '100000r/s',
        LINKYARD_READ_RATE_LIMIT: '100000r/s',
        LINKYARD_POSTGRES_PASSWORD_FILE: join(secretsDir, 'postgres_password'),
        LINKYARD_API_TOKEN_FILE: join(secretsDir, 'api_token'),
        LINKYARD_TLS_CERT_FILE: site.certificateFile,
        LINKYARD_TLS_KEY_FILE: site.keyFile,
      },
    });
    // A leftover of an interrupted run under this suite's name goes first.
    stack.removeNow();
    membership = await joinSwarm();
    // The runner may be interrupted where `after` never runs.
    process.once('exit', cleanUp);
    stopWatchingExit = () => process.off('exit', cleanUp);

    const began = Date.now();
    await stack.deploy(['docker-stack.tls.yml']);
    // The apps restart until PostgreSQL has initialised its database (Swarm has no depends_on).
    await stack.waitConverged('app', 3, 240_000);
    await stack.waitConverged('nginx', 1, 120_000);
    await waitFor('nginx to answer HTTPS on its published port', 60_000, async () => {
      const response = await httpRequest(`${PUBLIC_URL}/readyz`, { ca: ca.caCertPem });
      return response.status === 200 ? response : undefined;
    });
    figures.push(
      `deploy with docker-stack.tls.yml: 3 healthy app tasks behind nginx on HTTPS in ${((Date.now() - began) / 1000).toFixed(0)} s`,
    );
  });

  after(async (t) => {
    if (figures.length > 0) t.diagnostic(figures.join('\n'));
    t.diagnostic(cleanUp());
    stopWatchingExit();
    await docker(['image', 'rm', PROXY_IMAGE], { timeoutMs: 60_000 }).catch(() => undefined);
    await fixtures.run();
  });

  it('serves HTTPS from the secrets: a handshake trusting the test CA, HTTP/2 by ALPN; nginx healthy by its check on the plain port inside', async () => {
    const served = await servedCertificate();
    assert.equal(served.fingerprint256, certificateOf(site).fingerprint256, 'the certificate from LINKYARD_TLS_CERT_FILE');
    assert.equal(served.protocol, 'TLSv1.3');
    assert.equal(served.alpn, 'h2');
    assert.equal(
      await curl(['--http2', '--cacert', ca.caCertFile, '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `${PUBLIC_URL}/`]),
      '2 200',
    );
    // The image's healthcheck asks http://127.0.0.1:8080/nginx_status inside the container: the
    // plain listener, which the published plain port no longer reaches (next test).
    const [nginx] = await stack.containers('nginx');
    assert.equal(nginx?.health, 'healthy');
    for (const app of await stack.containers('app')) assert.equal(app.health, 'healthy');
  });

  it('redirects the published plain port to HTTPS (301, 308 for a POST), ACME challenges exempt', async () => {
    const get = await httpRequest(`http://127.0.0.1:${HTTP_PORT}/some?x=1`);
    assert.equal(get.status, 301);
    assert.equal(get.headers.location, `${PUBLIC_URL}/some?x=1`);
    const post = await httpRequest(`http://127.0.0.1:${HTTP_PORT}/`, formPost({ longuri: 'https://example.com/', shortname: 'x' }));
    assert.equal(post.status, 308);
    assert.equal(post.headers.location, `${PUBLIC_URL}/`);
    // Served from the acme-webroot volume (empty here), not redirected.
    assert.equal((await httpRequest(`http://127.0.0.1:${HTTP_PORT}/.well-known/acme-challenge/none`)).status, 404);
  });

  it('creates and redirects over HTTPS with https short URLs; a link to itself is checked through nginx:8080 on the overlay', async () => {
    await assertSelfLinkOverHttps(PUBLIC_URL, ca.caCertPem);
  });

  it('rotates the certificate (new secrets, nginx task replaced) under HTTPS traffic: the new one served, nginx back; the cost measured', async (t) => {
    const swarm = stack;
    const next = ca.issue('swarm-site-2');
    // A link to the service itself: its check is answered here (the swarm reaches nothing outside).
    const created = await httpRequest(`${PUBLIC_URL}/`, {
      ...formPost({ longuri: `${PUBLIC_URL}/healthz?rotate`, shortname: 'rotate' }),
      ca: ca.caCertPem,
    });
    assert.equal(created.status, 303, created.body);
    const certificateSecret = await swarm.createSecret('tls_certificate_2', next.certificateFile);
    const keySecret = await swarm.createSecret('tls_key_2', next.keyFile);
    const [oldNginx] = await swarm.containers('nginx');
    assert.ok(oldNginx !== undefined);

    // Completion times of right answers, and each failure with when it ended.
    const answeredAt: number[] = [];
    const failures: Array<{ at: number; what: string }> = [];
    const loadStartedAt = Date.now();
    const rotation = (async () => {
      await sleep(3000);
      const commandAt = Date.now();
      // As docs/https.md: both secrets in one update, so the task is replaced once, with a matching pair.
      await docker(
        [
          'service',
          'update',
          '--detach=true',
          '--secret-rm',
          swarm.service('tls_certificate'),
          '--secret-rm',
          swarm.service('tls_key'),
          '--secret-add',
          `source=${certificateSecret},target=tls_certificate`,
          '--secret-add',
          `source=${keySecret},target=tls_key`,
          swarm.service('nginx'),
        ],
        { timeoutMs: 60_000 },
      );
      const update = await swarm.waitUpdate('nginx', ['completed', 'paused', 'rollback_completed', 'rollback_paused'], 180_000);
      const completedAt = Date.now();
      // Some traffic after Swarm calls it done: the service has recovered, not only its task.
      await sleep(2000);
      return { commandAt, completedAt, update };
    })();
    const load = await runLoad(
      LOOPS,
      rotation,
      async (_loop, _iteration, agent) => {
        try {
          const response = await httpRequest(`${PUBLIC_URL}/rotate`, { agent, ca: ca.caCertPem, resend: false });
          if (response.status === 303) answeredAt.push(Date.now());
          else failures.push({ at: Date.now(), what: `status ${response.status}` });
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          failures.push({ at: Date.now(), what: code ?? (error as Error).message });
        }
        await sleep(PAUSE_MS);
        return undefined;
      },
      () => new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: ca.caCertPem }),
    );
    const { commandAt, completedAt, update } = await rotation;
    t.diagnostic(`update: ${update.seen.join('; ')}\n${await swarm.taskHistory('nginx')}`);
    if (failures.some((failure) => failure.what.startsWith('status')))
      t.diagnostic(`nginx's log of the answers that were not 2xx or 3xx:\n${(await swarm.failedInNginxLog(loadStartedAt)).join('\n')}`);
    // The figures first, so that a failed assertion below still reports them.
    const [newNginx] = await swarm.waitConverged('nginx', 1, 60_000);
    const served = await servedCertificate();
    const expected = certificateOf(next);

    // The longest time with no right answer, from the update command on: the node without nginx.
    let longestGapMs = 0;
    let previous = answeredAt.filter((at) => at <= commandAt).at(-1) ?? commandAt;
    for (const at of answeredAt.filter((at) => at > commandAt)) {
      longestGapMs = Math.max(longestGapMs, at - previous);
      previous = at;
    }
    const seconds = (ms: number) => (ms / 1000).toFixed(1);
    // Each kind of failure, how many and when (seconds after the update command).
    const byKind = new Map<string, { count: number; first: number; last: number }>();
    for (const failure of failures) {
      const kind = byKind.get(failure.what) ?? { count: 0, first: failure.at, last: failure.at };
      byKind.set(failure.what, { count: kind.count + 1, first: Math.min(kind.first, failure.at), last: Math.max(kind.last, failure.at) });
    }
    const kinds =
      [...byKind]
        .map(([what, kind]) => `${kind.count} ${what} (${seconds(kind.first - commandAt)}–${seconds(kind.last - commandAt)} s)`)
        .join(', ') || 'none';
    const firstFailure = failures[0];
    const lastFailure = failures.at(-1);

    // Docker's view: the old container's exit to the new one's start.
    const [oldFinished = '', newStarted = ''] = await Promise.all([
      docker(['container', 'inspect', '--format', '{{.State.FinishedAt}}', oldNginx.id], { timeoutMs: 15_000 }).catch(() => ''),
      docker(['container', 'inspect', '--format', '{{.State.StartedAt}}', newNginx?.id ?? ''], { timeoutMs: 15_000 }).catch(() => ''),
    ]);
    const containerGapMs = Date.parse(newStarted.trim()) - Date.parse(oldFinished.trim());

    const durationS = (Date.now() - loadStartedAt) / 1000;
    figures.push(
      [
        `certificate rotation on Swarm (docker service update --secret-rm/--secret-add on nginx, one task, stop-first), ${LOOPS} keep-alive HTTPS clients never resending, ${PAUSE_MS} ms between requests:`,
        `  ${load.requests} requests in ${durationS.toFixed(0)} s (${(load.requests / durationS).toFixed(0)}/s), ${failures.length} failed: ${kinds}`,
        firstFailure === undefined || lastFailure === undefined
          ? '  no failure'
          : `  failures from ${seconds(firstFailure.at - commandAt)} s to ${seconds(lastFailure.at - commandAt)} s after the update command`,
        `  longest time with no request answered: ${seconds(longestGapMs)} s`,
        `  old nginx container exited → new one started: ${Number.isFinite(containerGapMs) ? `${seconds(containerGapMs)} s` : 'unknown'}`,
        `  update command → Swarm's "completed" (after its 20 s monitor): ${seconds(completedAt - commandAt)} s`,
        `  served afterwards: serial ${served.serialNumber} (was ${certificateOf(site).serialNumber})`,
      ].join('\n'),
    );
    assert.equal(update.state, 'completed', 'Swarm completed the update of nginx');
    assert.equal(served.fingerprint256, expected.fingerprint256, `the new certificate (serial ${expected.serialNumber}) is served`);
    assert.notEqual(newNginx?.id, oldNginx.id, 'a new nginx task mounts the new secrets');
    const afterUpdate = failures.filter((failure) => failure.at > completedAt);
    assert.deepEqual(afterUpdate, [], 'no failed request once Swarm called the update completed');
    assert.ok(
      answeredAt.some((at) => at > completedAt),
      'requests answered after the update',
    );
  });
});
