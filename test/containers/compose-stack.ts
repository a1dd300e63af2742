/**
 * The project's own docker-compose.yml, brought up from nothing for one e2e file and always
 * taken down again (`down --volumes`), under a project name of its own so that a stack a
 * developer runs from this folder is never touched.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { SuiteContext, TestContext } from 'node:test';
import { APP_IMAGE, buildImage, type CommandResult, ComposeProject, docker, dockerUnavailable, tail } from './docker.ts';

/** Where docker-compose.yml publishes nginx (127.0.0.1:8080:8080). */
export const BASE_URL = 'http://127.0.0.1:8080';
/** The compose file's default PUBLIC_URL: short URLs, and the one self-link the check allows. */
export const PUBLIC_URL = 'http://localhost:8080';
export const APPS = ['app1', 'app2', 'app3'] as const;
export const SERVICES = ['nginx', ...APPS, 'postgres'] as const;

export const project = new ComposeProject({
  name: 'linkyard-e2e',
  // The suites post faster than one person; the per-client limit is the documented knob for it.
  env: { LINKYARD_RATE_LIMIT: '100000r/s', LINKYARD_READ_RATE_LIMIT: '100000r/s' },
});

function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * What a suite's `describe` gets as `skip`: a notice where containers cannot run, else false.
 * Under CI=true that fails instead: CI must run these suites.
 */
export async function skipWithoutDocker(): Promise<string | false> {
  const missing = await dockerUnavailable();
  if (missing === undefined) return false;
  if (process.env.CI === 'true') throw new Error(`CI=true but containers cannot run: ${missing}`);
  return `NOTICE: ${missing}: the compose suite is skipped (../shared/tools/docker-offline/setup . starts one)`;
}

/**
 * Builds the app image from this tree (so that no stale image is tested), then starts `target`
 * (the project's own compose file unless a suite names overlays) from nothing: no containers, no
 * volume. Returns the function that takes it down.
 */
export async function startFresh(target: ComposeProject = project, publishedPort = 8080): Promise<() => Promise<void>> {
  await buildImage(APP_IMAGE);
  const stopWatching = target.downOnExit();
  await target.down({ volumes: true });
  const taken = await portTaken(publishedPort);
  assert.ok(
    !taken,
    `port ${publishedPort} on 127.0.0.1 is taken: the compose files publish nginx there (stop what listens, e.g. another \`docker compose up\` or \`npm start\`)`,
  );
  try {
    await target.up();
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${tail(await target.logs(), 80)}`);
  }
  return async () => {
    await target.down({ volumes: true });
    stopWatching();
  };
}

/** For afterEach: the log tail of every service when a test failed, so it says what the stack saw. */
export async function logsOnFailure(t: TestContext | SuiteContext): Promise<void> {
  // A test's context (afterEach gets one) has both; `passed` is newer than this @types/node.
  if (!('diagnostic' in t) || !('passed' in t) || t.passed === true) return;
  t.diagnostic(tail(await project.logs(), 80));
  t.diagnostic(await serviceNamesResolve());
}

/**
 * Whether Docker's embedded DNS still answers service names. On an engine shared with swarm
 * work, `docker swarm leave` silently breaks it for running containers on bridge networks
 * (moby/moby#45144): every app then loses PostgreSQL, and the failure looks like the app's.
 */
async function serviceNamesResolve(): Promise<string> {
  const program = `import { lookup } from 'node:dns/promises';
    const name = 'postgres';
    lookup(name).then(({ address }) => console.log(name + ' resolves to ' + address), (error) => console.log(name + ': ' + error.code));`;
  try {
    const answer = (await nodeIn('app1', program)).trim();
    return answer.includes('resolves')
      ? `Docker's DNS: ${answer}`
      : `Docker's DNS does not resolve service names (${answer}): was \`docker swarm leave\` run on this engine? (moby/moby#45144)`;
  } catch (error) {
    return `Docker's DNS not checked: ${(error as Error).message.split('\n')[0] ?? ''}`;
  }
}

/**
 * What nginx logged that was not a success: 5xx and 4xx answers from its JSON access log, and its
 * error log's warnings and errors. For the message of a test that counted failed requests.
 */
export async function nginxTrouble(lines = 40): Promise<string> {
  const logs = await project.logs(100_000, ['nginx']);
  const trouble = logs.split('\n').filter((line) => /"status":[45]\d\d|\[(warn|error|crit|alert|emerg)\]/.test(line));
  return trouble.length === 0 ? 'nothing: no 4xx/5xx answer or error in its logs' : tail(trouble.join('\n'), lines);
}

/**
 * Runs a small JavaScript program with the node of a service's container (the app image's),
 * and returns what it printed: a request from inside the compose network, such as one app
 * directly, with nginx out of the way.
 */
export function nodeIn(service: string, program: string): Promise<string> {
  return project.compose(['exec', '--no-TTY', service, 'node', '--input-type=module', '--eval', program], { timeoutMs: 30_000 });
}

/**
 * A k6 scenario in the compose file's k6 service. Its summaries go to k6/results/<subfolder>
 * (made writable for the image's uid by the caller: writableK6Results). Exit 99 means k6 ran and
 * some threshold was crossed; the caller reads the summary to decide what that means.
 */
export function runK6(script: string, env: Readonly<Record<string, string>>, timeoutMs: number): Promise<CommandResult> {
  const vars = Object.entries(env).flatMap(([key, value]) => ['--env', `${key}=${value}`]);
  return project.composeResult(['--profile', 'loadtest', 'run', '--rm', 'k6', 'run', '--no-usage-report', ...vars, `/scripts/${script}`], {
    timeoutMs,
  });
}

/** The host PID of the process a container's init (tini, `init: true`) started: the app's node. */
export async function appProcessPid(service: string): Promise<number> {
  const id = await project.containerId(service);
  const initPid = Number((await docker(['container', 'inspect', '--format', '{{.State.Pid}}', id])).trim());
  assert.ok(initPid > 0, `${service} is not running`);
  const children = readFileSync(`/proc/${initPid}/task/${initPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  assert.equal(children.length, 1, `${service}: the init should have one child (node), has ${children.join(', ') || 'none'}`);
  return children[0] ?? 0;
}
