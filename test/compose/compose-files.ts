/**
 * Reading docker-compose.yml and the Dockerfile the way Docker would, for the compose tests.
 * `npm test` checks the files (it may run where there is no Docker engine); the running stack is
 * tested by the compose e2e suite, test/containers/ (`npm run test:compose`).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
export const DOCKERFILE = join(ROOT, 'Dockerfile');
export const APP_SERVICES = ['app1', 'app2', 'app3'] as const;

export type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml };
export type YamlMap = { [key: string]: Yaml };

export function isMap(value: Yaml | undefined): value is YamlMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function map(value: Yaml | undefined, what: string): YamlMap {
  assert.ok(isMap(value), `${what} should be a mapping`);
  return value;
}

export function list(value: Yaml | undefined, what: string): Yaml[] {
  assert.ok(Array.isArray(value), `${what} should be a list`);
  return value;
}

export function text(value: Yaml | undefined, what: string): string {
  assert.equal(typeof value, 'string', `${what} should be a string`);
  return value as string;
}

/**
 * Compose's variable interpolation as `docker compose up` does it in a shell that sets none of
 * the variables: `${NAME:-default}` and `${NAME-default}` give the default, `${NAME}` and `$NAME`
 * nothing, `$$` a dollar. (docker-compose.test.ts checks this against docker-compose's own.)
 */
export function interpolateDefaults(value: string): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_]\w*)(?::?-([^}]*))?\}|\$([A-Za-z_]\w*)/g,
    (whole, _braced: string | undefined, fallback: string | undefined) => (whole === '$$' ? '$' : (fallback ?? '')),
  );
}

function interpolateAll(value: Yaml): Yaml {
  if (typeof value === 'string') return interpolateDefaults(value);
  if (Array.isArray(value)) return value.map(interpolateAll);
  if (isMap(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolateAll(item)]));
  return value;
}

/** docker-compose.yml (or another compose-format file, e.g. docker-stack.yml) with anchors resolved and every variable at its default. */
export function readCompose(file = COMPOSE_FILE): YamlMap {
  const parsed = parse(readFileSync(file, 'utf8'), { merge: true }) as Yaml;
  return map(interpolateAll(parsed), file);
}

export function services(compose: YamlMap): YamlMap {
  return map(compose.services, 'services');
}

export function service(compose: YamlMap, name: string): YamlMap {
  return map(services(compose)[name], `service ${name}`);
}

/** A service's environment as a plain record, from either of compose's two forms. */
export function environment(svc: YamlMap, what: string): Record<string, string> {
  const env = svc.environment;
  if (env === undefined) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const [key = '', ...rest] = text(entry, `${what} environment entry`).split('=');
        return [key, rest.join('=')];
      }),
    );
  }
  return Object.fromEntries(Object.entries(map(env, `${what} environment`)).map(([key, item]) => [key, item === null ? '' : String(item)]));
}

/**
 * `env` as a process on this machine would read it: each `/run/secrets/<name>` (where compose and
 * Swarm mount a secret) becomes the host file that `secrets.<name>.file` names.
 */
export function secretsOnHost(compose: YamlMap, env: Record<string, string>): Record<string, string> {
  const secrets = map(compose.secrets, 'top-level secrets');
  return Object.fromEntries(
    Object.entries(env).map(([key, value]) => {
      const name = /^\/run\/secrets\/([\w.-]+)$/.exec(value)?.[1];
      if (name === undefined) return [key, value];
      return [key, join(ROOT, text(map(secrets[name], `secret ${name}`).file, `secret ${name} file`))];
    }),
  );
}

/** Compose durations: `15s`, `1m30s`, `500ms`, `1h`. */
export function durationMs(value: string): number {
  const units: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 };
  let total = 0;
  const rest = value.replace(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g, (_whole, amount: string, unit: string) => {
    total += Number(amount) * (units[unit] ?? Number.NaN);
    return '';
  });
  assert.equal(rest, '', `'${value}' is not a compose duration`);
  return total;
}

/** One short-syntax volume: `./host:/container[:ro]`. */
export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

export function mounts(svc: YamlMap, what: string): Mount[] {
  return list(svc.volumes ?? [], `${what} volumes`).map((entry) => {
    const [source = '', target = '', mode = ''] = text(entry, `${what} volume`).split(':');
    return { source, target, readOnly: mode.split(',').includes('ro') };
  });
}

export interface DockerfileStage {
  from: string;
  name: string | undefined;
  /** Instructions after FROM, continuation lines joined: [keyword, arguments]. */
  instructions: Array<[string, string]>;
}

/** The Dockerfile split into stages; comments and the parser directive dropped. */
export function readDockerfileStages(): DockerfileStage[] {
  const joined = readFileSync(DOCKERFILE, 'utf8')
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ');
  const stages: DockerfileStage[] = [];
  for (const line of joined.split('\n')) {
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (match === null) continue;
    const keyword = (match[1] ?? '').toUpperCase();
    const args = (match[2] ?? '').trim();
    if (keyword === 'FROM') {
      const [from = '', as, name] = args.split(/\s+/);
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    assert.ok(stage !== undefined, `${keyword} before the first FROM`);
    stage.instructions.push([keyword, args]);
  }
  return stages;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; resolves with its exit code and output, or undefined when it is not installed. */
export function run(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult | undefined> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd: ROOT, env: options.env ?? process.env, timeout: options.timeoutMs ?? 8000 }, (error, stdout, stderr) => {
      if (error === null) return resolve({ code: 0, stdout, stderr });
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return resolve(undefined);
      if (typeof error.code === 'number') return resolve({ code: error.code, stdout, stderr });
      reject(error);
    });
  });
}

/**
 * `docker compose <args>`, or undefined where there is no Compose v2: no docker at all, or a docker
 * without the plugin, which calls `compose` an unknown command, or (docker 28) its first flag an
 * unknown one of its own.
 */
export async function dockerCompose(args: readonly string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<RunResult | undefined> {
  const result = await run('docker', ['compose', ...args], options);
  if (
    result === undefined ||
    (result.code !== 0 && /is not a docker command|unknown command|unknown flag: --env-file/.test(result.stderr))
  ) {
    return undefined;
  }
  return result;
}

/**
 * Every service's output is kept by Docker's json-file driver within three files of 10 MB: nginx
 * writes its access log there, a line a request, and the driver keeps everything by default.
 */
export function assertBoundedLogs(file: YamlMap): void {
  for (const [name, svc] of Object.entries(services(file))) {
    const logging = map(map(svc, `service ${name}`).logging, `${name}: logging`);
    assert.equal(logging.driver, 'json-file', `${name}: logging driver`);
    const options = map(logging.options, `${name}: logging options`);
    assert.equal(options['max-size'], '10m', `${name}: max-size`);
    assert.equal(options['max-file'], '3', `${name}: max-file`);
  }
}
