import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { htmlPage } from '../../app/test/helpers.ts';
import { startTarget, tempDir } from '../../test/support/index.ts';
import { compileApp } from '../src/build.ts';
import { freePorts } from '../src/ports.ts';
import { probeStatus, waitFor } from '../src/wait.ts';
import { autogroup, groupAndSession } from './helpers.ts';

const LAUNCHER = new URL('../src/launcher.ts', import.meta.url).pathname;
const ROLLING_RESTART = new URL('../src/rolling-restart.ts', import.meta.url).pathname;

/** Runs a CLI to its end; its whole output. */
function collect(child: ChildProcess): { stdout: () => string; stderr: () => string } {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk));
  return { stdout: () => stdout, stderr: () => stderr };
}

describe('npm start (the launcher)', { timeout: 90_000 }, () => {
  // The apps it starts run app/dist, which `npm start` builds before it launches.
  before(() => compileApp());

  it('refuses a bad setting before starting anything, naming the variable, as the app does', async (t) => {
    const dir = tempDir(t);
    // Were the setting taken, the launcher would stop at the missing nginx, inside this folder.
    const safe = { NGINX_BIN: join(dir, 'no-nginx-here'), STACK_DIR: join(dir, 'state'), DATA_DIR: join(dir, 'data') };
    for (const [variable, value, problem] of [
      ['APP_INSTANCES', 'three', "expected a whole number, got 'three'"],
      ['APP_INSTANCES', '0', 'expected 1–1000, got 0'],
      ['PORT', '70000', 'expected 0–65535, got 70000'],
    ] as const) {
      const child = spawn(process.execPath, [LAUNCHER], {
        env: { ...process.env, ...safe, [variable]: value },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const output = collect(child);
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 78, `${variable}=${value}: EX_CONFIG`);
      assert.equal(output.stderr(), `linkyard: bad configuration: ${variable}: ${problem}\n`);
      assert.equal(output.stdout(), '', 'nothing started');
    }
  });

  it('says how to install nginx when there is none, and fails', async (t) => {
    const dir = tempDir(t);
    const child = spawn(process.execPath, [LAUNCHER], {
      env: { ...process.env, NGINX_BIN: join(dir, 'no-nginx-here'), STACK_DIR: join(dir, 'state'), DATA_DIR: join(dir, 'data') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = collect(child);
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 1);
    assert.match(output.stderr(), /^linkyard: nginx is missing [^\n]*apt-get install nginx-light[^\n]*\n$/, 'one line');
  });

  it("gives nginx's workers the hard limit it inherits when that is below 24 576, and says what to raise", async (t) => {
    const dir = tempDir(t);
    const [port] = await freePorts(1);
    assert.ok(port);
    const env = { ...process.env, PORT: String(port), APP_INSTANCES: '1', STACK_DIR: join(dir, 'state'), DATA_DIR: join(dir, 'data') };
    // Soft and hard (`ulimit -n`): a hard limit below 24 576, which no worker can raise.
    const hard = 16_000;
    const launcher = spawn('sh', ['-c', `ulimit -n ${hard} && exec "$0" "$@"`, process.execPath, LAUNCHER], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => {
      if (launcher.exitCode === null && launcher.signalCode === null) launcher.kill('SIGTERM');
    });
    const output = collect(launcher);
    await waitFor('the launcher to say it is up', () => output.stdout().includes('linkyard is up at'), { timeoutMs: 30_000 });

    const launcherPid = launcher.pid;
    assert.ok(launcherPid !== undefined);
    const children = (pid: number) =>
      readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
    const master = children(launcherPid).find((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'nginx');
    assert.ok(master !== undefined, 'nginx runs');
    const workers = children(master);
    assert.ok(workers.length > 0);
    for (const worker of workers) {
      assert.match(
        readFileSync(`/proc/${worker}/limits`, 'utf8'),
        new RegExp(`^Max open files +${hard} +${hard} `, 'm'),
        `worker ${worker}`,
      );
    }
    const exited = once(launcher, 'exit');
    launcher.kill('SIGTERM');
    await exited;
    assert.doesNotMatch(output.stdout(), /setrlimit|\[alert\]/, 'nginx did not ask for more than it could get');
    const warnings = output
      .stdout()
      .split('\n')
      .filter((line) => line.includes('open-file hard limit'));
    assert.equal(warnings.length, 1, 'one line');
    assert.match(
      warnings[0] ?? '',
      new RegExp(`^stack +\\| warning: the open-file hard limit \\(ulimit -Hn\\) is ${hard}, .*raise the hard limit to 24576`),
    );
  });

  it('tags every line with its process, restarts on request, and stops cleanly on a Ctrl-C to its process group', async (t) => {
    const dir = tempDir(t);
    const [port] = await freePorts(1);
    assert.ok(port);
    const url = `http://127.0.0.1:${port}`;
    const env = {
      ...process.env,
      PORT: String(port),
      APP_INSTANCES: '2',
      STACK_DIR: join(dir, 'state'),
      DATA_DIR: join(dir, 'data'),
      LOG_LEVEL: 'info',
      // The operator's public URL reaches the apps (short URLs are built on it).
      PUBLIC_URL: 'https://links.example.test/',
      CHECK_ALLOW_PRIVATE: 'true',
    };
    // A group of its own, as a shell gives a job it runs in the foreground: a Ctrl-C is sent to the group.
    const launcher = spawn(process.execPath, [LAUNCHER], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    // A test that fails midway leaves the launcher running: SIGTERM lets it stop nginx and the apps
    // (a SIGKILL would leave them, in groups of their own, running); SIGKILL only if it hangs.
    t.after(async () => {
      if (launcher.exitCode !== null || launcher.signalCode !== null) return;
      const exited = once(launcher, 'exit');
      launcher.kill('SIGTERM');
      const timer = setTimeout(() => launcher.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    });
    const output = collect(launcher);

    await waitFor('the launcher to say it is up', () => output.stdout().includes('linkyard is up at'), { timeoutMs: 30_000 });
    assert.equal(await probeStatus(`${url}/`), 200);
    const target = await startTarget(t, htmlPage('launcher target'));
    const created = await fetch(`${url}/api/bookmarks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uri: target.url, name: 'public' }),
    });
    assert.equal(created.status, 201);
    assert.equal(((await created.json()) as { shortUrl: string }).shortUrl, 'https://links.example.test/public');

    const restart = spawn(process.execPath, [ROLLING_RESTART], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const restartOutput = collect(restart);
    const [restartCode] = (await once(restart, 'exit')) as [number | null];
    assert.equal(restartCode, 0, restartOutput.stderr());
    assert.match(restartOutput.stdout(), /app1: restarted as pid \d+/);
    assert.match(restartOutput.stdout(), /app2: restarted as pid \d+/);
    assert.match(restartOutput.stdout(), /rolling restart done/);

    // SIGHUP does the same, reporting in the launcher's own output.
    launcher.kill('SIGHUP');
    await waitFor('the SIGHUP rolling restart', () => output.stdout().split('rolling restart done').length === 3, { timeoutMs: 30_000 });

    // A second stack on the same state folder would overwrite the first one's nginx files.
    const second = spawn(process.execPath, [LAUNCHER], { env: { ...env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const secondOutput = collect(second);
    const [secondCode] = (await once(second, 'exit')) as [number | null];
    assert.equal(secondCode, 1);
    assert.match(secondOutput.stderr(), /a stack already runs with its files in/);
    assert.equal(await probeStatus(`${url}/`), 200, 'the first one is untouched');

    // nginx and the apps lead groups of their own in the launcher's session (process-group.ts).
    const launcherPid = launcher.pid;
    assert.ok(launcherPid !== undefined, 'the launcher was started');
    const children = readFileSync(`/proc/${launcherPid}/task/${launcherPid}/children`, 'utf8').trim().split(' ').map(Number);
    assert.equal(children.length, 3, 'nginx and two apps');
    const { session } = groupAndSession(launcherPid);
    for (const pid of children) {
      assert.deepEqual(groupAndSession(pid), { group: pid, session }, `pid ${pid}: its own group, the launcher's session`);
      assert.equal(autogroup(pid), autogroup(launcherPid), `pid ${pid}: the launcher's CPU group`);
    }

    // What a terminal does on Ctrl-C: SIGINT to the foreground process group, the launcher's only.
    process.kill(-launcherPid, 'SIGINT');
    const [code] = (await once(launcher, 'exit')) as [number | null];
    assert.equal(code, 0, output.stderr());

    const lines = output.stdout().trimEnd().split('\n');
    const untagged = lines.filter((line) => !/^(app[12]|nginx|stack) *\| /.test(line));
    assert.deepEqual(untagged, []);
    assert.ok(
      lines.some((line) => /^app1 +\| \{"level":30/.test(line)),
      'app log lines are tagged',
    );
    // Each request is logged once, in nginx's access log file, not copied into the output too.
    assert.ok(!lines.some((line) => /^nginx +\| \{"time":/.test(line)), 'no access log line in the output');
    assert.match(readFileSync(join(dir, 'state', 'nginx', 'access.log'), 'utf8'), /^\{"time":.*"status":200/m);
    assert.match(lines.at(-1) ?? '', /^stack +\| stopped$/);
    assert.equal(await probeStatus(`${url}/`), undefined, 'nginx is gone');

    // With nothing running, the rolling restart says so.
    const orphan = spawn(process.execPath, [ROLLING_RESTART], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const orphanOutput = collect(orphan);
    const [orphanCode] = (await once(orphan, 'exit')) as [number | null];
    assert.equal(orphanCode, 1);
    assert.match(orphanOutput.stderr(), /No running stack/);
  });
});
