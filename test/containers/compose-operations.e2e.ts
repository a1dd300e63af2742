import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { KEY_PATTERN } from '../../app/src/auth/keys.ts';
import { backupPostgres } from '../../app/src/data/postgres-backup.ts';
import { backupSqlite } from '../../app/src/data/sqlite-backup.ts';
import { PostgresStore } from '../../app/src/store/postgres.ts';
import { SqliteStore } from '../../app/src/store/sqlite.ts';
import { httpRequest, type LoadResult, runLoad } from '../../app/test/client.ts';
import { postgresSkip, testDatabaseUrl } from '../../app/test/store/pg-env.ts';
import {
  APPS,
  appProcessPid,
  BASE_URL,
  logsOnFailure,
  nginxTrouble,
  nodeIn,
  PUBLIC_URL,
  project,
  runK6,
  skipWithoutDocker,
  startFresh,
} from './compose-stack.ts';
import { docker, ROOT, waitFor, writableK6Results } from './docker.ts';

// Operating the compose stack while it serves: a rolling restart under k6 load, a crashed app
// process, and `docker compose down` / `up` with the data kept. Each on the project's own
// docker-compose.yml and scripts, brought up from nothing and taken down (volumes too) at the end.

const K6_RESULTS = 'e2e';

async function postJson(path: string, value: unknown): Promise<{ status: number; body: string }> {
  const body = JSON.stringify(value);
  const response = await httpRequest(`${BASE_URL}${path}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
  });
  return { status: response.status, body: response.body };
}

function loadReport(load: LoadResult): string {
  const first = load.failures.length > 0 ? `; first failures:\n${load.failures.slice(0, 10).join('\n')}` : '';
  return `${load.requests} requests, ${load.failures.length} failed, ${load.resends} resent after a reused connection closed${first}`;
}

async function appContainerIds(): Promise<Record<string, string>> {
  return Object.fromEntries(await Promise.all(APPS.map(async (app) => [app, await project.containerId(app)] as const)));
}

describe('operating the compose stack', { skip: await skipWithoutDocker(), timeout: 600_000 }, () => {
  let stop: (() => Promise<void>) | undefined;

  before(async () => {
    stop = await startFresh();
    // What the load below is redirected by: the self-link, the one URI a check may reach here.
    const steady = await postJson('/api/bookmarks', { uri: `${PUBLIC_URL}/?steady`, name: 'steady' });
    assert.equal(steady.status, 201, steady.body);
  });

  afterEach(logsOnFailure);

  after(async () => {
    await stop?.();
  });

  it('loses no GET when the node process in app2 is killed (SIGKILL), and the restart policy brings it back healthy', async (t) => {
    const before = await project.state('app2');
    const nodePid = await appProcessPid('app2');
    const crashed = (async () => {
      await sleep(1000);
      // From the host, at the process: a crash as the engine sees one (`docker kill` would be a
      // deliberate stop to Docker, which a restart policy may treat differently).
      process.kill(nodePid, 'SIGKILL');
      const restarted = await waitFor(
        'app2 to be restarted by its restart policy and healthy again',
        90_000,
        async () => {
          const state = await project.state('app2');
          return state.restartCount > before.restartCount && state.health === 'healthy' ? state : undefined;
        },
        250,
      );
      // Back in nginx's rotation, under load, for a moment.
      await sleep(2000);
      return restarted;
    })();
    const load = await runLoad(6, crashed, async (loop, i, agent, onResend) => {
      const path = i % 2 === 0 ? '/' : '/steady';
      const response = await httpRequest(`${BASE_URL}${path}`, { agent, onResend });
      const expected = path === '/' ? 200 : 303;
      return response.status === expected ? undefined : `loop ${loop} GET ${path}: ${response.status}`;
    });
    t.diagnostic(loadReport(load));
    assert.deepEqual(load.failures, []);
    assert.ok(load.requests > 100, `steady load: ${load.requests} requests`);

    const after = await crashed;
    assert.equal(after.id, before.id, 'the same container, restarted in place (not replaced by the test)');
    assert.equal(after.restartCount, before.restartCount + 1);
    assert.notEqual(await appProcessPid('app2'), nodePid);
  });

  it('replaces every app container in `npm run compose:rolling-restart` under the k6 rolling-restart scenario, failing no request', async (t) => {
    const before = await appContainerIds();
    const results = writableK6Results(K6_RESULTS);
    rmSync(join(results, 'rolling-restart.json'), { force: true });
    // Longer than the restart (three apps, each drained and its replacement healthy: ~45 s here).
    const k6 = runK6('rolling-restart.ts', { RATE: '100', DURATION: '90', RESULTS_DIR: `/results/${K6_RESULTS}` }, 300_000);
    const k6Started = Date.now();
    // The restart starts once k6's traffic is flowing (its container up, setup done).
    await waitFor('the k6 container to run', 60_000, async () => {
      const id = (
        await docker([
          'ps',
          '--quiet',
          '--filter',
          `label=com.docker.compose.project=${project.name}`,
          '--filter',
          'label=com.docker.compose.service=k6',
        ])
      ).trim();
      return id === '' ? undefined : id;
    });
    await sleep(5000);
    const restart = await project.runWith('npm', ['run', '--silent', 'compose:rolling-restart'], { timeoutMs: 240_000 });
    const restartEndedAfterMs = Date.now() - k6Started;
    t.diagnostic(`rolling restart:\n${restart.stdout.trim()}`);
    assert.equal(restart.code, 0, `npm run compose:rolling-restart failed:\n${restart.stdout}\n${restart.stderr}`);

    const run = await k6;
    const k6EndedAfterMs = Date.now() - k6Started;
    assert.ok(
      restartEndedAfterMs < k6EndedAfterMs - 5000,
      `the restart (ended at ${restartEndedAfterMs} ms) must end while k6 still sends (until ${k6EndedAfterMs} ms)`,
    );
    const summary = JSON.parse(readFileSync(join(results, 'rolling-restart.json'), 'utf8')) as {
      result: { requests: number; failedRate: number };
    };
    t.diagnostic(readFileSync(join(results, 'rolling-restart.txt'), 'utf8').split('\n\nmetrics')[0] ?? '');
    assert.ok(summary.result.requests > 1000, `k6 sent ${summary.result.requests} requests`);
    if (summary.result.failedRate !== 0) {
      const k6Warnings = run.stderr
        .split('\n')
        .filter((line) => line.includes('level=warn'))
        .slice(-20)
        .join('\n');
      assert.fail(
        `${Math.round(summary.result.failedRate * summary.result.requests)} of ${summary.result.requests} requests failed.\nk6:\n${k6Warnings}\nnginx: ${await nginxTrouble()}`,
      );
    }
    // Exit 0: every threshold held (the goal is `http_req_failed: rate==0`); 99 would name one.
    assert.ok(run.code === 0 || run.code === 99, `k6 did not run to its end (exit ${run.code}):\n${run.stderr.slice(-3000)}`);
    if (run.code === 99)
      t.diagnostic(
        `k6: a timing threshold was crossed on this shared machine:\n${run.stderr
          .split('\n')
          .filter((line) => line.includes('level='))
          .join('\n')}`,
      );

    const afterIds = await appContainerIds();
    for (const app of APPS) {
      assert.notEqual(afterIds[app], before[app], `${app} was replaced by a new container`);
      assert.equal((await project.state(app)).health, 'healthy', `${app} is healthy`);
    }
  });

  it('answers within its deadlines while PostgreSQL is stopped (creates 503 with Retry-After, not ready), and every app recovers by itself once it starts', async (t) => {
    const readyz = (app: string) =>
      nodeIn(app, "const r = await fetch('http://127.0.0.1:8000/readyz'); console.log(r.status)").then((out) => Number(out.trim()));
    const containersBefore = await appContainerIds();
    await project.compose(['stop', 'postgres'], { timeoutMs: 60_000 });
    try {
      for (const app of APPS) {
        await waitFor(
          `${app}'s /readyz to say 503 without its store`,
          30_000,
          async () => ((await readyz(app)) === 503 ? true : undefined),
          500,
        );
      }
      // Each answer within the connect deadline (DATABASE_CONNECT_TIMEOUT_MS, 2 s) and margin: no hang.
      for (let i = 0; i < 6; i++) {
        const started = Date.now();
        const created = await postJson('/api/bookmarks', { uri: `${PUBLIC_URL}/?outage=${i}`, name: `outage-${i}` });
        const tookMs = Date.now() - started;
        assert.equal(created.status, 503, created.body);
        assert.match(created.body, /STORE_UNAVAILABLE/);
        assert.ok(tookMs < 5000, `a create answered in ${tookMs} ms`);
      }
      const form = await httpRequest(`${BASE_URL}/`, {
        method: 'POST',
        body: 'longuri=http%3A%2F%2Flocalhost%3A8080%2F%3Fform&shortname=outage-form',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(form.status, 503);
      assert.ok(form.headers['retry-after'], "the form's 503 says when to retry");
      assert.match(form.body, /outage-form/, 'the page keeps what was typed');
    } finally {
      await project.compose(['start', 'postgres'], { timeoutMs: 60_000 });
    }
    const outageEnded = Date.now();
    await project.waitHealthy('postgres', 60_000);
    for (const app of APPS) {
      await waitFor(`${app}'s /readyz to say 200 again`, 30_000, async () => ((await readyz(app)) === 200 ? true : undefined), 250);
    }
    const created = await postJson('/api/bookmarks', { uri: `${PUBLIC_URL}/?after-outage`, name: 'after-outage' });
    assert.equal(created.status, 201, created.body);
    t.diagnostic(`every app ready and creating again ${Date.now() - outageEnded} ms after PostgreSQL was started (its own start included)`);
    assert.deepEqual(await appContainerIds(), containersBefore, 'recovered without a restart or a new container');
    assert.equal((await httpRequest(`${BASE_URL}/steady`)).status, 303, 'what was stored before is still there');
  });

  it('keeps every acknowledged bookmark, visits included, across `docker compose down` and `up`', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `keep-${i}`);
    for (const [i, name] of names.entries()) {
      const created = await postJson('/api/bookmarks', { uri: `${PUBLIC_URL}/?keep=${i}`, name });
      assert.equal(created.status, 201, created.body);
    }
    // Visits are counted in memory and written in batches: the last ones only at shutdown.
    for (const [i, name] of names.entries()) {
      for (let visit = 0; visit < i % 4; visit++) assert.equal((await httpRequest(`${BASE_URL}/${name}`)).status, 303);
    }

    await project.down({ volumes: false });
    await project.up();

    for (const [i, name] of names.entries()) {
      const response = await httpRequest(`${BASE_URL}/api/bookmarks/${name}`);
      assert.equal(response.status, 200, `${name} is still there`);
      const bookmark = JSON.parse(response.body) as { uri: string; visits: number };
      assert.equal(bookmark.uri, `${PUBLIC_URL}/?keep=${i}`);
      assert.equal(bookmark.visits, i % 4, `${name}'s visits`);
    }
  });

  it('makes, lists and revokes keys, and blocks a host, with `docker compose exec` and `run --rm` (node app/dist/cli/*.js); nginx answers by them', async () => {
    const keys = (how: readonly string[], ...args: string[]) =>
      project.compose([...how, 'node', 'app/dist/cli/keys.js', ...args], { timeoutMs: 60_000 });
    const key = (await keys(['exec', '--no-TTY', 'app1'], 'create', '--name', 'ops', '--role', 'author')).trim();
    assert.match(key, KEY_PATTERN);
    assert.match(await keys(['run', '--rm', '--no-deps', 'app2'], 'list'), /^ops\tauthor\t/m);

    const body = JSON.stringify({ uri: `${PUBLIC_URL}/?ops`, name: 'ops-link' });
    const created = await httpRequest(`${BASE_URL}/api/bookmarks`, {
      method: 'POST',
      body,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
    });
    assert.equal(created.status, 201, created.body);
    assert.equal((JSON.parse(created.body) as { createdBy: string }).createdBy, 'ops');

    await keys(['exec', '--no-TTY', 'app3'], 'revoke', 'ops');
    // KEY_CACHE_MS is 5 s by default: every app refuses the key within it.
    await waitFor('the revoked key refused through nginx', 10_000, async () => {
      const refused = await httpRequest(`${BASE_URL}/api/bookmarks/ops-link`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${key}` },
      });
      return refused.status === 401 ? true : undefined;
    });
    assert.equal((await httpRequest(`${BASE_URL}/ops-link`)).status, 303, 'the link stays');

    // The blocklist the same way: its links answer 410 through nginx within BLOCKLIST_REFRESH_MS (5 s).
    const cli = (script: string, ...args: string[]) =>
      project.compose(['exec', '--no-TTY', 'app2', 'node', `app/dist/cli/${script}.js`, ...args], { timeoutMs: 60_000 });
    await cli('blocklist', 'add', new URL(PUBLIC_URL).hostname);
    await waitFor('a link to the blocked host answering 410 through nginx', 10_000, async () =>
      (await httpRequest(`${BASE_URL}/ops-link`)).status === 410 ? true : undefined,
    );
    await cli('blocklist', 'remove', new URL(PUBLIC_URL).hostname);
    const audit = await cli('audit', '--limit', '4');
    assert.deepEqual(
      audit
        .trim()
        .split('\n')
        .slice(0, 4)
        .map((line) => line.split('\t').slice(1, 3).join(' ')),
      ['command blocklist.remove', 'command blocklist.add', 'command key.revoke', 'ops bookmark.create'],
    );
    await waitFor('the link redirecting again', 10_000, async () =>
      (await httpRequest(`${BASE_URL}/ops-link`)).status === 303 ? true : undefined,
    );
  });

  it("finds, edits and expires a link through nginx on compose's PostgreSQL: search by trigram, a new target on every app, a visit limit answered 410", async () => {
    const keys = (...args: string[]) =>
      project.compose(['exec', '--no-TTY', 'app1', 'node', 'app/dist/cli/keys.js', ...args], { timeoutMs: 60_000 });
    const key = (await keys('create', '--name', 'editor', '--role', 'author')).trim();
    assert.match(key, KEY_PATTERN);
    const call = async (method: string, path: string, value?: unknown) => {
      const body = value === undefined ? undefined : JSON.stringify(value);
      const headers: Record<string, string> = { authorization: `Bearer ${key}` };
      if (body !== undefined)
        Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
      return httpRequest(`${BASE_URL}${path}`, { method, headers, ...(body !== undefined && { body }) });
    };
    const created = await call('POST', '/api/bookmarks', { uri: `${PUBLIC_URL}/?zebra-before`, name: 'zebra-crossing' });
    assert.equal(created.status, 201, created.body);

    // The trigram index is built after start-up (docs/links.md#search): 503 SEARCH_INDEXING until then.
    await waitFor('the search finding the link by part of its name', 60_000, async () => {
      const found = await httpRequest(`${BASE_URL}/api/bookmarks?q=ebra-cross`);
      if (found.status !== 200) return undefined;
      const names = (JSON.parse(found.body) as { items: { name: string }[] }).items.map((item) => item.name);
      return names.includes('zebra-crossing') ? true : undefined;
    });

    const edited = await call('PATCH', '/api/bookmarks/zebra-crossing', { uri: `${PUBLIC_URL}/?zebra-after`, maxVisits: 3 });
    assert.equal(edited.status, 200, edited.body);
    // Every app follows within REDIRECT_CACHE_MS (a limited link is read from the store each time),
    // and within BLOCKLIST_REFRESH_MS of the test before unblocking this host: asked until then.
    for (const app of APPS) {
      const location = await waitFor(`${app} redirecting to the new target`, 15_000, async () => {
        const answer = await nodeIn(
          app,
          `const response = await fetch('http://127.0.0.1:8000/zebra-crossing', { method: 'HEAD', redirect: 'manual' });
           console.log(response.headers.get('location'));`,
        );
        return answer.trim() === `${PUBLIC_URL}/?zebra-after` ? answer.trim() : undefined;
      });
      assert.equal(location, `${PUBLIC_URL}/?zebra-after`);
    }
    // Visits are counted in batches: the limit is reached within the bound of failure-behaviour.md.
    let redirected = 0;
    await waitFor('the visit limit answered 410 Gone', 30_000, async () => {
      const answer = await httpRequest(`${BASE_URL}/zebra-crossing`, {
        headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0' },
      });
      if (answer.status === 303) redirected++;
      else if (answer.status === 410) return true;
      else assert.fail(`unexpected ${answer.status}: ${answer.body}`);
      await sleep(200);
      return undefined;
    });
    assert.ok(redirected >= 3, `${redirected} redirects before 410`);
    const renewed = await call('PATCH', '/api/bookmarks/zebra-crossing', { maxVisits: null });
    assert.equal(renewed.status, 200, renewed.body);
    assert.equal((await httpRequest(`${BASE_URL}/zebra-crossing`)).status, 303, 'renewed by editing');
  });

  it('backs up with `npm run compose:backup` while serving, restores with `compose:restore` only into an empty store, and moves a native SQLite store in with `docker compose run … move.js`', async (t) => {
    const folder = mkdtempSync(join(tmpdir(), 'linkyard-compose-backup-'));
    t.after(() => rmSync(folder, { recursive: true, force: true }));
    // Bookmarks with visits, flushed (VISITS_FLUSH_MS, 1 s) before the backup.
    const names = Array.from({ length: 8 }, (_, i) => `backup-${i}`);
    for (const [i, name] of names.entries()) {
      assert.equal((await postJson('/api/bookmarks', { uri: `${PUBLIC_URL}/?backup=${i}`, name })).status, 201);
      for (let visit = 0; visit < i % 3; visit++) assert.equal((await httpRequest(`${BASE_URL}/${name}`)).status, 303);
    }
    const visitsOf = async (name: string) =>
      (JSON.parse((await httpRequest(`${BASE_URL}/api/bookmarks/${name}`)).body) as { visits: number }).visits;
    // Every name's: each app flushes its own counts on its own clock, so one name's proves nothing of the others'.
    await waitFor('the visits flushed', 15_000, async () => {
      for (const [i, name] of names.entries()) if ((await visitsOf(name)) !== i % 3) return undefined;
      return true;
    });

    const backup = await project.runWith('bash', ['proxy/compose/backup.sh', folder], { timeoutMs: 120_000, cwd: ROOT });
    assert.equal(backup.code, 0, backup.stderr);
    const archive = readdirSync(folder).find((file) => file.endsWith('.pgdump'));
    assert.ok(archive !== undefined, `no archive in ${readdirSync(folder).join(', ')}`);
    const refused = await project.runWith('bash', ['proxy/compose/restore.sh', join(folder, archive)], { timeoutMs: 120_000, cwd: ROOT });
    assert.equal(refused.code, 1, 'a store holding links is refused');
    assert.match(refused.stderr, /restore only into an empty store/);

    // A new, empty store: the apps start on it and migrate it; then the restore.
    await project.down({ volumes: true });
    await project.up();
    const restored = await project.runWith('bash', ['proxy/compose/restore.sh', join(folder, archive)], { timeoutMs: 300_000, cwd: ROOT });
    assert.equal(restored.code, 0, restored.stderr + restored.stdout);
    t.diagnostic(
      restored.stdout
        .trim()
        .split('\n')
        .filter((line) => line.startsWith('Restored'))
        .join(''),
    );
    for (const [i, name] of names.entries()) assert.equal(await visitsOf(name), i % 3, `${name}'s visits after the restore`);
    assert.equal((await httpRequest(`${BASE_URL}/steady`)).status, 303);

    // From `npm start` to compose: a native SQLite store, backed up, moved into an empty PostgreSQL.
    const native = join(folder, 'native');
    mkdirSync(native, { recursive: true });
    const store = new SqliteStore({ file: join(native, 'linkyard.sqlite') });
    await store.migrate();
    await store.create({ name: 'from-sqlite', uri: `${PUBLIC_URL}/?from-sqlite`, title: 'Moved', checkStatus: 200 });
    await store.addVisits(new Map([['from-sqlite', 42]]), 'native-batch');
    await store.close();
    const move = join(folder, 'move');
    mkdirSync(move);
    await backupSqlite(join(native, 'linkyard.sqlite'), join(move, 'linkyard.sqlite'), () => {});
    // The app image runs as uid 1000: the folder and file must be readable by it.
    chmodSync(folder, 0o755);
    chmodSync(move, 0o755);
    chmodSync(join(move, 'linkyard.sqlite'), 0o644);
    await project.down({ volumes: true });
    await project.up(['postgres']);
    const moved = await project.composeResult(
      [
        'run',
        '--rm',
        '--no-deps',
        '--volume',
        `${move}:/move:ro`,
        'app1',
        'node',
        'app/dist/cli/move.js',
        '--from',
        '/move/linkyard.sqlite',
      ],
      { timeoutMs: 180_000 },
    );
    assert.equal(moved.code, 0, moved.stderr + moved.stdout);
    assert.match(moved.stdout, /Done in .* every table verified/);
    await project.up();
    assert.equal(await visitsOf('from-sqlite'), 42);
    assert.equal((await httpRequest(`${BASE_URL}/from-sqlite`)).status, 303);

    // An archive of `npm run backup` on the host's PostgreSQL (another major version) restores by compose:restore.
    if (postgresSkip !== false) {
      t.diagnostic(`not restoring a host archive: ${postgresSkip}`);
      return;
    }
    const admin = new Client({ connectionString: testDatabaseUrl });
    await admin.connect();
    const database = `linkyard_compose_${process.pid}`;
    t.after(async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    });
    await admin.query(`CREATE DATABASE ${database}`);
    const hostUrl = new URL(testDatabaseUrl);
    hostUrl.pathname = `/${database}`;
    const host = new PostgresStore({ connectionString: hostUrl.href });
    await host.migrate();
    await host.create({ name: 'from-host', uri: `${PUBLIC_URL}/?from-host`, title: null, checkStatus: 200 });
    await host.addVisits(new Map([['from-host', 7]]), 'host-batch');
    await host.close();
    const hostArchive = join(folder, 'host.pgdump');
    await backupPostgres(hostUrl.href, hostArchive, undefined, () => {});
    await project.down({ volumes: true });
    await project.up();
    const fromHost = await project.runWith('bash', ['proxy/compose/restore.sh', hostArchive], { timeoutMs: 300_000, cwd: ROOT });
    assert.equal(fromHost.code, 0, fromHost.stderr + fromHost.stdout);
    assert.equal(await visitsOf('from-host'), 7);
  });
});
