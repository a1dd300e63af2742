import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startApp } from '../../app/test/helpers.ts';
import { APP_MALLOC_ENV, APP_NODE_FLAGS, APP_SCHEDULING } from '../../stack/src/app-process.ts';
import { type DockerfileStage, ROOT, readDockerfileStages } from './compose-files.ts';

const stages = readDockerfileStages();
const runtime = stages.at(-1);

function argsOf(stage: DockerfileStage | undefined, keyword: string): string[] {
  return stage?.instructions.filter(([candidate]) => candidate === keyword).map(([, args]) => args) ?? [];
}

/** The HEALTHCHECK's command, exec form, as Docker runs it. */
function healthcheckCommand(): string[] {
  const [healthcheck] = argsOf(runtime, 'HEALTHCHECK');
  assert.ok(healthcheck !== undefined, 'the runtime stage has a HEALTHCHECK');
  const exec = /\bCMD\s+(\[.*\])\s*$/.exec(healthcheck)?.[1];
  assert.ok(exec !== undefined, 'HEALTHCHECK CMD in exec form (slim images have no shell tools to rely on)');
  const command: unknown = JSON.parse(exec);
  assert.ok(Array.isArray(command) && command.every((part) => typeof part === 'string'));
  return command;
}

function runHealthcheck(port: number): Promise<number> {
  const [program, ...args] = healthcheckCommand();
  assert.equal(program, 'node', 'the healthcheck uses node (no curl in node:*-slim)');
  return new Promise((resolve) => {
    execFile(process.execPath, args, { env: { ...process.env, PORT: String(port) }, timeout: 8000 }, (error) => {
      resolve(error === null ? 0 : typeof error.code === 'number' ? error.code : -1);
    });
  });
}

describe('Dockerfile', () => {
  it("names no BuildKit frontend (`# syntax=`): the build needs no registry but the base image's", () => {
    // Parser directives are `# key=value` lines before anything else; the first other line ends them.
    const directives: string[] = [];
    for (const line of readFileSync(join(ROOT, 'Dockerfile'), 'utf8').split('\n')) {
      const directive = /^#\s*([a-z]+)\s*=/i.exec(line)?.[1];
      if (directive === undefined) break;
      directives.push(directive.toLowerCase());
    }
    assert.ok(!directives.includes('syntax'), 'a syntax directive makes BuildKit pull a frontend image before building');
  });

  it('is multi-stage: production dependencies in one stage, copied into the runtime stage', () => {
    assert.ok(stages.length >= 2, 'at least two stages');
    const deps = stages[0];
    assert.ok(deps?.name !== undefined, 'the first stage is named');
    assert.ok(
      argsOf(deps, 'RUN').some((args) => /\bnpm ci\b.*--omit=dev/.test(args)),
      'npm ci --omit=dev',
    );
    assert.ok(argsOf(runtime, 'COPY').some((args) => args.includes(`--from=${deps.name}`) && args.includes('node_modules')));
  });

  it('runs on Node 24 LTS, in production mode', () => {
    for (const stage of stages) assert.match(stage.from, /^node:24(\.\d+)*(-[a-z0-9.]+)?(@sha256:[0-9a-f]{64})?$/, `FROM ${stage.from}`);
    assert.ok(argsOf(runtime, 'ENV').some((args) => /^NODE_ENV[= ]production$/.test(args)));
  });

  it('starts the app with APP_MALLOC_ENV, as the launcher does', () => {
    for (const [name, value] of Object.entries(APP_MALLOC_ENV)) {
      assert.ok(
        argsOf(runtime, 'ENV').some((args) => args.split(/\s+/).includes(`${name}=${value}`)),
        `ENV ${name}=${value}`,
      );
    }
  });

  it('runs the app as the unprivileged node user, on port 8000, with node under APP_SCHEDULING as the command', () => {
    const users = argsOf(runtime, 'USER');
    assert.equal(users.at(-1), 'node');
    assert.deepEqual(argsOf(runtime, 'EXPOSE'), ['8000']);
    assert.deepEqual(
      argsOf(runtime, 'CMD').map((args) => JSON.parse(args) as unknown),
      [[...APP_SCHEDULING, 'node', ...APP_NODE_FLAGS, 'app/dist/server.js']],
    );
  });

  it('copies only what the app needs, none of which .dockerignore leaves out', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    // Local state, and everything that is not the app: the launcher, the tests, the load tests, the docs.
    const notTheApp = ['stack', 'test', 'app/test', 'proxy/test', 'scripts/test', 'loadtest', 'k6', 'docs'];
    for (const entry of ['node_modules', 'data', '.stack', '.git', 'loadtest/results', 'test-artifacts', ...notTheApp]) {
      assert.ok(ignored.includes(entry) || ignored.some((pattern) => entry.startsWith(`${pattern}/`)), `.dockerignore leaves out ${entry}`);
    }
    // Every stage's sources from the build context (a `--from` copies from another stage).
    const copied = stages.flatMap((stage) =>
      argsOf(stage, 'COPY')
        .filter((args) => !args.startsWith('--from'))
        .flatMap((args) => args.split(/\s+/).slice(0, -1)),
    );
    assert.ok(copied.includes('app/src') && copied.includes('app/static'), copied.join(' '));
    for (const source of copied) {
      const path = source.replace(/\/$/, '');
      assert.ok(
        !ignored.some((pattern) => path === pattern || path.startsWith(`${pattern}/`)),
        `${source} is copied but .dockerignore leaves it out`,
      );
      assert.ok(
        !notTheApp.some((folder) => path === folder || path.startsWith(`${folder}/`)),
        `${source} is not the app's, yet copied into the image`,
      );
    }
  });

  it('has a HEALTHCHECK that passes on a ready app and fails on a draining one', async (t) => {
    const { app, url } = await startApp(t);
    const port = Number(new URL(url).port);
    assert.equal(await runHealthcheck(port), 0, 'healthy while ready');
    app.lifecycle.draining = true;
    assert.equal(await runHealthcheck(port), 1, 'unhealthy while draining (/readyz 503)');
    await app.close();
    assert.equal(await runHealthcheck(port), 1, 'unhealthy when nothing listens');
  });
});
