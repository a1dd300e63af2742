import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { probeStatus, waitFor } from '../../stack/src/wait.ts';
import { ROOT, run } from '../../test/compose/compose-files.ts';
import { freePort, tempDir } from '../../test/support/index.ts';

// scripts/with-node.sh is what lets `npm start` and `npm test` run on a machine whose node is older
// than 22.19. The "old node" here is a real one: a shell script that reports an old version and
// runs this test's Node for anything else, so npm (started with `#!/usr/bin/env node`) still works.

const WITH_NODE = 'scripts/with-node.sh';
const CHECK_ADDONS = 'scripts/check-addons.sh';
const SCRIPTS = [WITH_NODE, CHECK_ADDONS];

/** A folder holding a `node` that says it is `version` and is this test's Node otherwise. */
function nodeReporting(t: TestContext, version: string): string {
  const bin = join(tempDir(t, 'linkyard-old-node-'), 'bin');
  mkdirSync(bin);
  const node = join(bin, 'node');
  writeFileSync(node, `#!/bin/sh\nif [ "$1" = --version ]; then echo ${version}; exit 0; fi\nexec '${process.execPath}' "$@"\n`);
  chmodSync(node, 0o755);
  return bin;
}

/** LINKYARD_NODE_DIR laid out as the npm registry's `node` package installs it, with this test's Node. */
function cachedNode(t: TestContext): { nodeDir: string; headers: string } {
  const nodeDir = join(tempDir(t, 'linkyard-node-dir-'), 'node24');
  const bin = join(nodeDir, 'node_modules', 'node', 'bin');
  mkdirSync(bin, { recursive: true });
  symlinkSync(process.execPath, join(bin, 'node'));
  const headers = join(nodeDir, 'node_modules', 'node', 'node_modules', `node-${process.platform}-${process.arch}`);
  mkdirSync(join(headers, 'include', 'node'), { recursive: true });
  return { nodeDir, headers };
}

/** The wrapper running `sh -c script`, with `path` as PATH; its exit code and output. */
async function withNode(path: string, script: string, env: NodeJS.ProcessEnv = {}) {
  const result = await run('/bin/sh', [WITH_NODE, 'sh', '-c', script], {
    env: { HOME: process.env.HOME, ...env, PATH: path },
    timeoutMs: 60_000,
  });
  assert.ok(result, '/bin/sh runs');
  return result;
}

const machinePath = process.env.PATH ?? '';
const npmDir = machinePath.split(':').find((dir) => existsSync(join(dir, 'npm')));

describe('scripts/with-node.sh', () => {
  it('passes shellcheck', async (t) => {
    const result = await run('shellcheck', SCRIPTS);
    if (result === undefined) {
      t.skip('NOTICE: shellcheck is not installed: the scripts are not linted (apt-get install shellcheck)');
      return;
    }
    assert.equal(result.code, 0, result.stdout);
  });

  it('runs the command with the node on PATH when it is 22.19 or newer, changing nothing', async (t) => {
    const bin = nodeReporting(t, 'v22.19.0');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, expanded by sh, not a template
    const result = await withNode(`${bin}:/usr/bin:/bin`, 'command -v node; echo "nodedir=${npm_config_nodedir:-}"', {
      LINKYARD_NO_INSTALL: '1',
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${join(bin, 'node')}\nnodedir=\n`);
    assert.equal(result.stderr, '');
  });

  it('puts the Node of LINKYARD_NODE_DIR first on PATH, with its headers for node-gyp, when the one on PATH is older', async (t) => {
    const { nodeDir, headers } = cachedNode(t);
    for (const old of ['v20.20.2', 'v22.18.9', 'v8.17.0']) {
      const bin = nodeReporting(t, old);
      const result = await withNode(`${bin}:/usr/bin:/bin`, 'command -v node; node -p process.version; echo "$npm_config_nodedir"', {
        LINKYARD_NODE_DIR: nodeDir,
        LINKYARD_NO_INSTALL: '1',
      });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `${join(nodeDir, 'node_modules', 'node', 'bin', 'node')}\n${process.version}\n${headers}\n`, old);
    }
  });

  it("passes the arguments through untouched and exits with the command's code", async (t) => {
    const { nodeDir } = cachedNode(t);
    const bin = nodeReporting(t, 'v20.20.2');
    const result = await run(
      '/bin/sh',
      [WITH_NODE, 'node', '-e', 'console.log(JSON.stringify(process.argv.slice(1))); process.exit(7)', 'a b', "'c'", ''],
      {
        env: { HOME: process.env.HOME, PATH: `${bin}:/usr/bin:/bin`, LINKYARD_NODE_DIR: nodeDir },
      },
    );
    assert.equal(result?.code, 7, result?.stderr);
    assert.equal(result?.stdout, `${JSON.stringify(['a b', "'c'", ''])}\n`);
  });

  it('says in one line what is missing and how to get it when it may not fetch a Node (LINKYARD_NO_INSTALL)', async (t) => {
    const nodeDir = join(tempDir(t), 'node24');
    const bin = nodeReporting(t, 'v20.20.2');
    const old = await withNode(`${bin}:/usr/bin:/bin`, 'echo ran', { LINKYARD_NODE_DIR: nodeDir, LINKYARD_NO_INSTALL: '1' });
    assert.equal(old.code, 1);
    assert.equal(old.stdout, '', 'the command did not run');
    assert.match(
      old.stderr,
      /^linkyard: needs Node >= 22\.19 and this machine's Node is v20\.20\.2: install Node 24 \(https:\/\/nodejs\.org\/[^)]*\), or unset LINKYARD_NO_INSTALL[^\n]*\n$/,
    );
    assert.equal(existsSync(nodeDir), false);

    const none = await withNode('/nonexistent', 'echo ran', { LINKYARD_NODE_DIR: nodeDir, LINKYARD_NO_INSTALL: '1' });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^linkyard: needs Node >= 22\.19 and there is no node on PATH: install Node 24[^\n]*\n$/);
  });

  it('refuses a LINKYARD_NODE_DIR that holds something else, without touching it', async (t) => {
    const nodeDir = join(tempDir(t), 'mine');
    mkdirSync(nodeDir);
    writeFileSync(join(nodeDir, 'keep.txt'), 'mine');
    const bin = nodeReporting(t, 'v20.20.2');
    const result = await withNode(`${bin}:/usr/bin:/bin`, 'echo ran', { LINKYARD_NODE_DIR: nodeDir });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^linkyard: [^\n]*holds no Node >= 22\.19: remove it, or point LINKYARD_NODE_DIR at another folder\n$/);
    assert.deepEqual(readdirSync(nodeDir), ['keep.txt']);
  });

  it('says in one line that the npm registry cannot be reached, and leaves no half-installed Node', async (t) => {
    if (npmDir === undefined) {
      t.skip('NOTICE: npm is not on PATH');
      return;
    }
    const parent = tempDir(t);
    const nodeDir = join(parent, 'node24');
    const bin = nodeReporting(t, 'v20.20.2');
    const closedPort = await freePort();
    const result = await withNode(`${bin}:${npmDir}:/usr/bin:/bin`, 'echo ran', {
      LINKYARD_NODE_DIR: nodeDir,
      npm_config_registry: `http://127.0.0.1:${closedPort}/`,
      npm_config_fetch_retries: '0',
      npm_config_cache: join(parent, 'npm-cache'),
    });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 2, result.stderr);
    assert.match(
      lines[0] ?? '',
      /^linkyard: needs Node >= 22\.19 and this machine's Node is v20\.20\.2: fetching Node 24 [^\n]* from the npm registry/,
    );
    assert.match(
      lines[1] ?? '',
      /^linkyard: could not fetch Node 24 from the npm registry \([^)]*ECONNREFUSED[^)]*\): install Node 24 [^\n]*details in \S+node24\.install\.log$/,
    );
    assert.deepEqual(readdirSync(parent).sort(), ['node24.install.log', 'npm-cache']);
  });
});

describe('the npm scripts', () => {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

  it("run every node and tsc through scripts/with-node.sh, exec'd so that signals reach the command", () => {
    for (const [name, command] of Object.entries(scripts)) {
      if (!/\b(node|tsc)\b/.test(command)) continue;
      assert.match(command, /(^|&& )(exec )?sh scripts\/with-node\.sh /, name);
      for (const use of command
        .split('&&')
        .map((part) => part.trim())
        .filter((part) => part.includes('with-node.sh'))) {
        if (name !== 'postinstall') assert.match(use, /^exec sh scripts\/with-node\.sh /, `${name}: ${use}`);
      }
    }
    assert.equal(scripts.postinstall, `sh ${WITH_NODE} sh ${CHECK_ADDONS}`);
  });

  it("postinstall: the SQLite addon loads on the project's Node, or one line says so", async () => {
    const ok = await run('/bin/sh', [WITH_NODE, 'sh', CHECK_ADDONS]);
    assert.equal(ok?.code, 0, ok?.stderr);
    assert.equal(ok?.stderr, '');
    const noAddons = await run('/bin/sh', [WITH_NODE, 'sh', CHECK_ADDONS], { env: { ...process.env, NODE_OPTIONS: '--no-addons' } });
    assert.equal(noAddons?.code, 1);
    assert.match(
      noAddons?.stderr ?? '',
      /^linkyard: better-sqlite3 \(the SQLite store\) does not load on Node v[\d.]+: Error: [^\n]*addons[^\n]*\n$/,
    );
  });

  it('start: a SIGTERM to npm reaches the launcher, which stops the stack and exits', { timeout: 90_000 }, async (t) => {
    const dir = tempDir(t);
    const port = await freePort();
    const env = { ...process.env, PORT: String(port), APP_INSTANCES: '1', STACK_DIR: join(dir, 'state'), DATA_DIR: join(dir, 'data') };
    const npm = spawn('npm', ['run', '--silent', 'start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    npm.stdout.on('data', (chunk: Buffer) => (output += chunk));
    npm.stderr.on('data', (chunk: Buffer) => (output += chunk));
    let launcherPid: number | undefined;
    t.after(async () => {
      npm.kill('SIGKILL');
      // Should the signal not have reached it: the launcher's own stop takes its apps and nginx along.
      const started = launcherPid;
      if (started === undefined || !isRunning(started)) return;
      process.kill(started, 'SIGTERM');
      await waitFor('the launcher to stop', () => !isRunning(started), { timeoutMs: 20_000 }).catch(() => process.kill(started, 'SIGKILL'));
    });
    await waitFor('the stack to be up', () => /linkyard is up at/.test(output) || npm.exitCode !== null, { timeoutMs: 60_000 });
    const pid = Number(/kill -HUP (\d+)/.exec(output)?.[1]);
    launcherPid = pid;
    assert.ok(pid > 0, output);
    assert.equal(await probeStatus(`http://127.0.0.1:${port}/`), 200);

    npm.kill('SIGTERM');
    const [code] = (await once(npm, 'exit')) as [number | null];
    await waitFor('the launcher to exit', () => !isRunning(pid), { timeoutMs: 30_000 });
    assert.equal(code, 0, output);
    assert.match(output, /SIGTERM: stopping/);
    assert.equal(await probeStatus(`http://127.0.0.1:${port}/`), undefined, 'nginx is gone');
  });
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
