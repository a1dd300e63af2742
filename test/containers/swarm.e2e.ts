/**
 * The stack on Docker Swarm (docker-stack.yml), on a single-node swarm this suite makes and
 * leaves: deployed, scaled, rolled to a new image, rolled back from an image whose healthcheck
 * fails, and a task killed, each under steady k6 load through nginx's published port on
 * 127.0.0.1, counting every failed request. Nobody reloads nginx here: it learns of tasks from
 * Docker's DNS (`tasks.app`, re-resolved) and its passive checks, and a task that is stopped
 * gets SIGTERM and drains.
 *
 *   npm run test:swarm          (needs a Docker engine: ../shared/tools/docker-offline/setup)
 *
 * Run it after the compose suite, not beside it: leaving a swarm breaks Docker's DNS for running
 * compose containers (moby/moby#45144), so the suite keeps the swarm it made while any
 * standalone container runs, and says so.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpRequest } from '../../app/test/client.ts';
import { freePort } from '../support/index.ts';
import { docker, dockerUnavailable, ROOT, runCommand, waitFor } from './docker.ts';
import {
  joinSwarm,
  type K6Run,
  leaveSwarm,
  type ReadsAndWritesResult,
  type SwarmMembership,
  SwarmStack,
  startReadsAndWrites,
} from './swarm.ts';

const unavailable = await dockerUnavailable();
const skip =
  unavailable !== undefined && process.env.CI !== 'true' ? `NOTICE: ${unavailable}: the swarm suite needs a Docker engine` : false;

// This suite's own tags and names: the engine is shared with the compose suite and with whatever
// else runs on it, and nothing here touches what it did not make.
const APP_IMAGE = 'linkyard-app:swarm-e2e';
const APP_IMAGE_NEXT = 'linkyard-app:swarm-e2e-next';
const APP_IMAGE_UNHEALTHY = 'linkyard-app:swarm-e2e-unhealthy';
const PROXY_IMAGE = 'linkyard-proxy:swarm-e2e';
const STACK = 'lyswarme2e';
/** Not compose's 172.28.89.0/24, which may be in use on the same engine. */
const SUBNET = '10.89.91.0/24';

/**
 * docs/data.md's Swarm backup and restore, as written there: the shell blocks of its "On Swarm"
 * section and the scale command its prose names, with the stack's name for `linkyard` (a stack
 * deployed as `linkyard` has services `linkyard_app`, `linkyard_postgres`).
 */
function swarmBackupDocs(stackName: string): { backup: string; restore: string; scaleDown: string; scaleUp: string } {
  const page = readFileSync(join(ROOT, 'docs/data.md'), 'utf8');
  const section = /^### On Swarm\n([\s\S]*?)(?=^## )/m.exec(page)?.[1];
  if (section === undefined) throw new Error('docs/data.md has no "### On Swarm" section');
  const ours = (text: string) =>
    text.replaceAll('linkyard_postgres', `${stackName}_postgres`).replaceAll('linkyard_app', `${stackName}_app`);
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => ours(match[1] ?? ''));
  const [backup, restore] = blocks;
  const scale = [...section.matchAll(/`(docker service scale linkyard_app=\d+)`/g)].map((match) => ours(match[1] ?? ''));
  const [scaleDown] = scale;
  const up = /back to (\d+) after/.exec(section)?.[1];
  if (backup === undefined || restore === undefined || scaleDown === undefined || up === undefined)
    throw new Error(`docs/data.md's "On Swarm": expected two sh blocks and the scale commands, found ${blocks.length} and ${scale.length}`);
  return { backup, restore, scaleDown, scaleUp: scaleDown.replace(/=\d+$/, `=${up}`) };
}

/** k6 load: GETs (short links, the page) and POSTs (new bookmarks) a second. */
const READ_RATE = 50;
const WRITE_RATE = 5;

describe('linkyard on a single-node Docker Swarm', { skip, timeout: 1_200_000 }, () => {
  let stack: SwarmStack;
  let membership: SwarmMembership | undefined;
  let baseUrl = '';
  let apiToken = '';
  let scratch = '';
  let resultsRoot = '';
  const running = new Set<K6Run>();
  const figures: string[] = [];
  let stopWatchingExit = (): void => {};

  function cleanUp(): string {
    for (const run of running) run.process.kill('SIGKILL');
    stack?.removeNow();
    const left = membership === undefined ? '' : leaveSwarm(membership);
    membership = undefined;
    return left;
  }

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'linkyard-swarm-'));
    const secretsDir = join(scratch, 'secrets');
    resultsRoot = join(scratch, 'k6');
    mkdirSync(secretsDir);
    // Fresh random secrets: the stack must work with what it is given, not the development ones.
    apiToken = randomBytes(18).toString('base64url');
    writeFileSync(join(secretsDir, 'postgres_password'), `${randomBytes(18).toString('base64url')}\n`);
    writeFileSync(join(secretsDir, 'api_token'), `${apiToken}\n`);
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;

    await docker(['build', '--network', 'host', '--tag', APP_IMAGE, '.'], { timeoutMs: 600_000 });
    await docker(['build', '--network', 'host', '--file', 'proxy/Dockerfile', '--tag', PROXY_IMAGE, '.'], { timeoutMs: 300_000 });
    // The same image under a new tag: an update Swarm must roll out task by task.
    await docker(['tag', APP_IMAGE, APP_IMAGE_NEXT], { timeoutMs: 30_000 });
    // The app as it is, with a healthcheck that always fails: an update Swarm must roll back.
    await docker(['build', '--tag', APP_IMAGE_UNHEALTHY, '-'], {
      input: `FROM ${APP_IMAGE}\nHEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD ["node", "-e", "process.exit(1)"]\n`,
      timeoutMs: 120_000,
    });

    stack = new SwarmStack({
      name: STACK,
      env: {
        LINKYARD_IMAGE: APP_IMAGE,
        LINKYARD_PROXY_IMAGE: PROXY_IMAGE,
        LINKYARD_PORT: String(port),
        LINKYARD_SUBNET: SUBNET,
        PUBLIC_URL: baseUrl,
        // k6 is one client: nginx's per-client limit would answer its POSTs 429.
        LINKYARD_RATE_LIMIT: '100000r/s',
        LINKYARD_READ_RATE_LIMIT: '100000r/s',
        LINKYARD_POSTGRES_PASSWORD_FILE: join(secretsDir, 'postgres_password'),
        LINKYARD_API_TOKEN_FILE: join(secretsDir, 'api_token'),
      },
    });
    // A leftover of an interrupted run under this suite's name goes first.
    stack.removeNow();
    membership = await joinSwarm();
    // The runner may be interrupted where `after` never runs.
    process.once('exit', cleanUp);
    stopWatchingExit = () => process.off('exit', cleanUp);

    const began = Date.now();
    await stack.deploy();
    // The apps restart until PostgreSQL has initialised its database (Swarm has no depends_on).
    await stack.waitConverged('app', 3, 240_000, APP_IMAGE);
    await waitFor('nginx to answer through its published port', 60_000, async () => {
      const response = await httpRequest(`${baseUrl}/readyz`);
      return response.status === 200 ? response : undefined;
    });
    figures.push(`deploy: 3 healthy app tasks behind nginx in ${((Date.now() - began) / 1000).toFixed(0)} s`);
  });

  after(async (t) => {
    if (figures.length > 0) t.diagnostic(figures.join('\n'));
    t.diagnostic(cleanUp());
    stopWatchingExit();
    await docker(['image', 'rm', APP_IMAGE_UNHEALTHY, APP_IMAGE_NEXT, APP_IMAGE, PROXY_IMAGE], { timeoutMs: 60_000 }).catch(
      () => undefined,
    );
    if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
  });

  /** Starts k6 with this suite's load for `seconds`; stopped in cleanUp if the test fails first. */
  function load(label: string, seconds: number, env: Record<string, string> = {}): K6Run & { label: string } {
    const resultsDir = join(resultsRoot, label);
    mkdirSync(resultsDir, { recursive: true });
    const run = startReadsAndWrites({
      baseUrl,
      resultsDir,
      env: { RATE: String(READ_RATE), WRITE_RATE: String(WRITE_RATE), DURATION: String(seconds), PREFIX: label, ...env },
    });
    running.add(run);
    void run.done.finally(() => running.delete(run)).catch(() => undefined);
    return { ...run, label };
  }

  /** Waits for k6, asserts the operation ended while it still ran, and reports its figures. */
  async function loadResult(
    t: TestContext,
    run: K6Run & { label: string },
    operationsEndedAt: number,
    startedAt: number,
  ): Promise<ReadsAndWritesResult> {
    const { result, output } = await run.done;
    const endedAt = Date.now();
    t.diagnostic(output.trim());
    if (result.failed > 0)
      t.diagnostic(
        `nginx's log of the failures:\n${(await stack.failedInNginxLog(startedAt)).join('\n')}\n${await stack.problemLogs(startedAt)}`,
      );
    assert.ok(operationsEndedAt < endedAt, 'the load lasted past the operation');
    figures.push(
      `${run.label}: ${result.requests} requests in ${((endedAt - startedAt) / 1000).toFixed(0)} s, ${result.failed} failed, ${result.created} bookmarks created; p99 reads ${result.readP99Ms.toFixed(0)} ms, writes ${Number.isFinite(result.writeP99Ms) ? result.writeP99Ms.toFixed(0) : '-'} ms; ${result.droppedIterations} arrivals not sent`,
    );
    return result;
  }

  /** Every POST answered 201 is in the store, once. */
  async function assertNoWriteLost(result: ReadsAndWritesResult): Promise<void> {
    const stored = Number(await stack.sql(`SELECT count(*) FROM bookmarks WHERE name LIKE '${result.prefix}-%'`));
    assert.equal(stored, result.created, `${result.created} POSTs answered 201, ${stored} bookmarks named ${result.prefix}-* stored`);
  }

  it('builds a proxy image whose nginx configuration (shared snippets, swarm upstream) passes nginx -t', async () => {
    // The image's entrypoint renders env/ from the templates first, as it does at every start.
    const result = await runCommand(
      'docker',
      [
        'run',
        '--rm',
        '--network',
        'none',
        '--env',
        'LINKYARD_RATE_LIMIT=7r/s',
        PROXY_IMAGE,
        'sh',
        '-c',
        '/docker-entrypoint.sh nginx -t && cat /etc/nginx/env/upstream.conf /etc/nginx/env/http.conf /etc/nginx/env/server.conf',
      ],
      { timeoutMs: 60_000 },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /test is successful/);
    assert.match(result.stdout, /^server tasks\.app:8000 resolve /m);
    assert.match(result.stdout, /rate=7r\/s;/);
    assert.match(result.stdout, /^proxy_connect_timeout 500ms;/m);
  });

  it('deploys three healthy app tasks; browse, create and redirect through nginx; secrets from files', async () => {
    const page = await httpRequest(`${baseUrl}/`);
    assert.equal(page.status, 200);
    assert.match(page.body, /<form/);

    const uri = `${baseUrl}/healthz?first`;
    const created = await httpRequest(`${baseUrl}/api/bookmarks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uri, name: 'swarm-first' }),
    });
    assert.equal(created.status, 201, created.body);
    const redirect = await httpRequest(`${baseUrl}/swarm-first`);
    assert.equal(redirect.status, 303);
    assert.equal(redirect.headers.location, uri);
    assert.match((await httpRequest(`${baseUrl}/`)).body, /swarm-first/);

    // API_TOKEN_FILE: the token is the secret's content, and only that.
    const wrongToken = await httpRequest(`${baseUrl}/api/bookmarks/swarm-first`, {
      method: 'DELETE',
      headers: { authorization: 'Bearer not-the-token' },
    });
    assert.equal(wrongToken.status, 401);
    const deleted = await httpRequest(`${baseUrl}/api/bookmarks/swarm-first`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${apiToken}` },
    });
    assert.equal(deleted.status, 204);

    // The app reached PostgreSQL with the random password above (POSTGRES_PASSWORD_FILE,
    // DATABASE_PASSWORD_FILE), which shows nowhere in the services' definitions.
    for (const service of ['app', 'postgres']) {
      const spec = await docker(['service', 'inspect', stack.service(service)], { timeoutMs: 15_000 });
      assert.ok(!spec.includes(apiToken), `${service}: the API token is not in the service's spec`);
      assert.match(spec, /\/run\/secrets\//);
    }
  });

  it('scales to five tasks, all of which get traffic, and back to three, with no failed request', async (t) => {
    const startedAt = Date.now();
    const run = load('scale', 75);
    await sleep(5000);

    let began = Date.now();
    await docker(['service', 'scale', '--detach=true', `${stack.service('app')}=5`], { timeoutMs: 60_000 });
    const five = await stack.waitConverged('app', 5, 120_000);
    figures.push(`scale 3 → 5: ${((Date.now() - began) / 1000).toFixed(0)} s until 5 healthy tasks in tasks.app`);
    // nginx re-resolves tasks.app every second (valid=1s); then every task gets its share.
    await sleep(3000);
    const before = await Promise.all(five.map((container) => stack.servedRequests(container.id)));
    await sleep(5000);
    const afterCounts = await Promise.all(five.map((container) => stack.servedRequests(container.id)));
    const served = afterCounts.map((count, i) => count - (before[i] ?? 0));
    t.diagnostic(`requests each of the five tasks answered in 5 s: ${served.join(', ')}`);
    for (const [i, count] of served.entries())
      assert.ok(count > 0, `task ${five[i]?.taskId} answered no request in 5 s: ${served.join(', ')}`);

    began = Date.now();
    await docker(['service', 'scale', '--detach=true', `${stack.service('app')}=3`], { timeoutMs: 60_000 });
    await stack.waitConverged('app', 3, 120_000);
    figures.push(`scale 5 → 3: ${((Date.now() - began) / 1000).toFixed(0)} s until 3 tasks in tasks.app`);
    const operationsEndedAt = Date.now();

    const result = await loadResult(t, run, operationsEndedAt, startedAt);
    assert.equal(result.failed, 0, 'no failed request while scaling up and down');
    assert.ok(result.created > 0);
    await assertNoWriteLost(result);
  });

  it('rolls out a new image one task at a time under load: every task replaced, no failed request, no POST lost', async (t) => {
    const oldTasks = new Set((await stack.tasks('app')).map((task) => task.id));
    const startedAt = Date.now();
    const run = load('update', 150);
    await sleep(5000);

    const began = Date.now();
    await docker(['service', 'update', '--detach=true', '--no-resolve-image', '--image', APP_IMAGE_NEXT, stack.service('app')], {
      timeoutMs: 60_000,
    });
    const update = await stack.waitUpdate('app', ['completed', 'paused', 'rollback_completed', 'rollback_paused'], 420_000);
    t.diagnostic(`update: ${update.seen.join('; ')}\n${await stack.taskHistory('app')}`);
    assert.equal(update.state, 'completed', 'Swarm completed the update');
    figures.push(
      `rolling update (3 tasks, start-first, then the monitor period): ${((Date.now() - began) / 1000).toFixed(0)} s until Swarm called it completed`,
    );
    const containers = await stack.waitConverged('app', 3, 60_000, APP_IMAGE_NEXT);
    const operationsEndedAt = Date.now();
    for (const container of containers) assert.ok(!oldTasks.has(container.taskId), `task ${container.taskId} was not replaced`);

    const result = await loadResult(t, run, operationsEndedAt, startedAt);
    assert.equal(result.failed, 0, 'no failed request during the rolling update');
    assert.ok(result.created > 0);
    await assertNoWriteLost(result);
  });

  it('rolls back by itself from an image whose healthcheck fails, and traffic never fails', async (t) => {
    const current = (await stack.containers('app'))[0]?.image;
    assert.ok(current !== undefined);
    const startedAt = Date.now();
    const run = load('rollback', 120);
    await sleep(5000);

    const began = Date.now();
    await docker(['service', 'update', '--detach=true', '--no-resolve-image', '--image', APP_IMAGE_UNHEALTHY, stack.service('app')], {
      timeoutMs: 60_000,
    });
    const update = await stack.waitUpdate('app', ['rollback_completed', 'rollback_paused', 'paused', 'completed'], 420_000);
    t.diagnostic(`update: ${update.seen.join('; ')}\n${await stack.taskHistory('app')}`);
    assert.equal(update.state, 'rollback_completed', 'Swarm rolled the update back');
    figures.push(`update to an unhealthy image → rolled back by Swarm: ${((Date.now() - began) / 1000).toFixed(0)} s`);
    await stack.waitConverged('app', 3, 60_000, current);
    const operationsEndedAt = Date.now();

    const result = await loadResult(t, run, operationsEndedAt, startedAt);
    assert.equal(result.failed, 0, 'no failed request while the bad image was tried and rolled back');
    await assertNoWriteLost(result);
  });

  it('replaces a task killed under load with no failed GET', async (t) => {
    const [victim] = await stack.containers('app');
    assert.ok(victim !== undefined);
    const startedAt = Date.now();
    // Reads only: a POST in flight on the killed task is lost with it, and nginx must not resend it.
    const run = load('kill', 45, { WRITE_RATE: '0' });
    await sleep(5000);

    const began = Date.now();
    await docker(['kill', victim.id], { timeoutMs: 30_000 });
    const containers = await waitFor('a new task in place of the killed one', 120_000, async () => {
      const now = await stack.waitConverged('app', 3, 5000);
      return now.some((container) => container.id === victim.id) ? undefined : now;
    });
    figures.push(`docker kill of a task → a new healthy task in tasks.app: ${((Date.now() - began) / 1000).toFixed(0)} s`);
    assert.equal(containers.length, 3);
    const operationsEndedAt = Date.now();

    const result = await loadResult(t, run, operationsEndedAt, startedAt);
    assert.equal(result.failed, 0, 'no failed GET while a task was killed and replaced');
  });

  it("backs up and restores as docs/data.md's Swarm commands say: pg_dump in the postgres task, pg_restore into an empty store", async (t) => {
    const docs = swarmBackupDocs(STACK);
    const names = ['backup-a', 'backup-b', 'backup-c'];
    for (const name of names) {
      const created = await httpRequest(`${baseUrl}/api/bookmarks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ uri: `${baseUrl}/healthz?${name}`, name }),
      });
      assert.equal(created.status, 201, created.body);
    }
    const links = Number(await stack.sql('SELECT count(*) FROM bookmarks'));

    // The backup block, its folder ours: the node the task runs on (printed first), then the dump.
    const backups = join(scratch, 'backups');
    mkdirSync(backups);
    const began = Date.now();
    const backup = await runCommand('sh', ['-e', '-c', docs.backup.replaceAll('/srv/backups/linkyard', backups)], { timeoutMs: 120_000 });
    assert.equal(backup.code, 0, backup.stderr);
    const node = (await docker(['info', '--format', '{{.Name}}'], { timeoutMs: 15_000 })).trim();
    assert.equal(backup.stdout.trim(), node, 'the first line names the node the postgres task runs on');
    const dumps = readdirSync(backups);
    assert.equal(dumps.length, 1, dumps.join(', '));
    const [dumpName = ''] = dumps;
    assert.match(dumpName, /^linkyard-\d{8}T\d{6}Z\.pgdump$/);
    const dump = join(backups, dumpName);
    figures.push(
      `backup (docs/data.md, pg_dump in the postgres task): ${links} links, ${statSync(dump).size} bytes in ${((Date.now() - began) / 1000).toFixed(1)} s`,
    );

    // An empty store, as a new deployment's apps leave it: a new database, migrated, no rows.
    await runCommand('sh', ['-e', '-c', docs.scaleDown], { timeoutMs: 180_000 }).then((result) =>
      assert.equal(result.code, 0, result.stderr),
    );
    const [postgres] = await stack.containers('postgres');
    assert.ok(postgres !== undefined);
    await docker(
      [
        'exec',
        postgres.id,
        'psql',
        '-U',
        'linkyard',
        '-d',
        'postgres',
        '-c',
        'DROP DATABASE linkyard WITH (FORCE)',
        '-c',
        'CREATE DATABASE linkyard OWNER linkyard',
      ],
      {
        timeoutMs: 60_000,
      },
    );
    await docker(['service', 'scale', '--detach=false', `${stack.service('app')}=1`], { timeoutMs: 180_000 });
    await stack.waitConverged('app', 1, 120_000);
    assert.equal(Number(await stack.sql('SELECT count(*) FROM bookmarks')), 0, 'the store is empty');
    assert.equal((await httpRequest(`${baseUrl}/backup-a`)).status, 404);

    // The restore, as written: the apps scaled to 0, the block (its count line must print 0), back to 3.
    const restoreBegan = Date.now();
    for (const command of [docs.scaleDown, docs.restore.replaceAll('FILE.pgdump', dump), docs.scaleUp]) {
      const result = await runCommand('sh', ['-e', '-c', command], { timeoutMs: 240_000 });
      t.diagnostic(`${command.trim().split('\n')[0]}…: exit ${result.code}; ${result.stdout.trim().split('\n').slice(0, 3).join(' | ')}`);
      assert.equal(result.code, 0, `${command}\n${result.stderr}`);
      if (command.includes('pg_restore')) assert.match(result.stdout, /^0$/m, 'the count line printed 0: the store was empty');
    }
    await stack.waitConverged('app', 3, 240_000);
    figures.push(
      `restore (docs/data.md, pg_restore in the postgres task, apps scaled to 0 and back): ${((Date.now() - restoreBegan) / 1000).toFixed(0)} s`,
    );

    assert.equal(Number(await stack.sql('SELECT count(*) FROM bookmarks')), links, 'every link restored');
    for (const name of names) {
      const redirect = await waitFor(`/${name} to redirect after the restore`, 60_000, async () => {
        const response = await httpRequest(`${baseUrl}/${name}`);
        return response.status === 303 ? response : undefined;
      });
      assert.equal(redirect.headers.location, `${baseUrl}/healthz?${name}`);
    }
  });
});
