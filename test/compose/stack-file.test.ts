/**
 * docker-stack.yml, checked without a swarm: what `docker stack deploy` would read (through
 * `docker stack config`, when the docker CLI is here) and what it must share with
 * docker-compose.yml. The stack running for real is test/containers/swarm.e2e.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../app/src/config.ts';
import { compileAddressMatcher } from '../../app/src/trusted-proxies.ts';
import {
  APP_SERVICES,
  assertBoundedLogs,
  durationMs,
  environment,
  isMap,
  list,
  map,
  ROOT,
  readCompose,
  run,
  secretsOnHost,
  service,
  services,
  text,
  type YamlMap,
} from './compose-files.ts';

const STACK_FILE = join(ROOT, 'docker-stack.yml');
const stack = readCompose(STACK_FILE);
const compose = readCompose();

/**
 * Peak RSS of one app process under `npm run bench`'s burst of creations, as measured on
 * 2026-11-27 before the memory work; lower since (docs/decisions/0007-uri-checks-in-a-worker-pool.md,
 * loadtest/results/bench.md), so the limit checked against it keeps a wide margin.
 */
const BENCH_PEAK_RSS_MIB = 235;

function bytes(size: string): number {
  const match = /^(\d+(?:\.\d+)?)([kmg]?)b?$/i.exec(size);
  assert.ok(match !== null, `'${size}' is not a size`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(match[2] ?? '').toLowerCase()] ?? Number.NaN;
  return Number(match[1]) * unit;
}

function deploy(name: string): YamlMap {
  return map(service(stack, name).deploy, `${name} deploy`);
}

/** The image's HEALTHCHECK (Dockerfile), with the stack's overrides on top. */
function appHealthcheck(): { intervalMs: number; timeoutMs: number; retries: number } {
  const line = /^HEALTHCHECK (.*?) *\\?$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1] ?? '';
  const option = (name: string) => new RegExp(`--${name}=(\\S+)`).exec(line)?.[1];
  const override = isMap(service(stack, 'app').healthcheck) ? map(service(stack, 'app').healthcheck, 'app healthcheck') : {};
  const pick = (name: string, key: string) => text(override[key] ?? option(name), `healthcheck ${name}`);
  return {
    intervalMs: durationMs(pick('interval', 'interval')),
    timeoutMs: durationMs(pick('timeout', 'timeout')),
    retries: Number(pick('retries', 'retries')),
  };
}

describe('docker-stack.yml', () => {
  it('is accepted by `docker stack config`, which reads it as docker stack deploy does', async (t) => {
    const result = await run('docker', ['stack', 'config', '--compose-file', 'docker-stack.yml'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      timeoutMs: 30_000,
    });
    if (result === undefined) {
      t.skip('NOTICE: the docker CLI is not installed: `docker stack config` not checked');
      return;
    }
    assert.equal(result.code, 0, `docker stack config failed:\n${result.stderr}`);
    const normalized = map(parse(result.stdout), 'docker stack config output');
    assert.deepEqual(Object.keys(map(normalized.services, 'services')).sort(), ['app', 'nginx', 'postgres']);
  });

  it('with docker-stack.tls.yml on top: the published plain port moves to the redirect server, HTTPS is added, 8080 stays unpublished', async (t) => {
    const result = await run(
      'docker',
      ['stack', 'config', '--compose-file', 'docker-stack.yml', '--compose-file', 'docker-stack.tls.yml'],
      {
        // The secrets' default files: the certificate need not exist to merge the files.
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
        timeoutMs: 30_000,
      },
    );
    if (result === undefined) {
      t.skip('NOTICE: the docker CLI is not installed: `docker stack config` not checked');
      return;
    }
    assert.equal(result.code, 0, `docker stack config failed:\n${result.stderr}`);
    const nginx = service(map(parse(result.stdout), 'docker stack config output'), 'nginx');
    const ports = list(nginx.ports, 'nginx ports').map((port) => map(port, 'port'));
    assert.deepEqual(
      ports.map(({ target, published }) => `${published}->${target}`),
      ['8080->8081', '8443->8443'],
      'docker-stack.yml’s 8080->8080 replaced (entries merge by published port), not kept beside',
    );
    const configs = list(nginx.configs, 'nginx configs').map((config) => text(map(config, 'config').target, 'config target'));
    assert.deepEqual(configs.sort(), [
      '/etc/nginx/templates/https/redirect.conf.template',
      '/etc/nginx/templates/https/server.conf.template',
    ]);
  });

  it('runs the image, variables and secrets docker-compose.yml runs', () => {
    const [composeApp] = APP_SERVICES;
    const fromCompose = service(compose, composeApp);
    const app = service(stack, 'app');
    assert.equal(app.image, fromCompose.image, 'the same app image (LINKYARD_IMAGE overrides it)');
    assert.equal(service(stack, 'postgres').image, service(compose, 'postgres').image);
    const stackEnv = environment(app, 'app');
    const composeEnv = environment(fromCompose, composeApp);
    assert.deepEqual(Object.keys(stackEnv).sort(), Object.keys(composeEnv).sort(), 'the same variables');
    for (const [name, value] of Object.entries(composeEnv)) {
      if (name !== 'TRUSTED_PROXIES') assert.equal(stackEnv[name], value, `${name} as in compose`);
    }
    assert.deepEqual(stack.secrets, compose.secrets, 'the same secrets, from the same files');
    assert.deepEqual(list(app.secrets, 'app secrets'), list(fromCompose.secrets, 'compose app secrets'));
    assert.equal(environment(service(stack, 'postgres'), 'postgres').POSTGRES_PASSWORD_FILE, '/run/secrets/postgres_password');
    // The app starts with them: the files are there and its configuration is valid.
    const config = loadConfig(secretsOnHost(stack, stackEnv));
    assert.equal(new URL(config.databaseUrl ?? '').password, readFileSync(join(ROOT, 'secrets/dev/postgres_password'), 'utf8').trim());
  });

  it('believes X-Forwarded-* only from its overlay network, where nginx is', () => {
    const subnet = text(
      map(list(map(map(map(stack.networks, 'networks').linkyard, 'linkyard network').ipam, 'ipam').config, 'ipam config')[0], 'subnet')
        .subnet,
      'subnet',
    );
    assert.notEqual(
      subnet,
      text(
        map(list(map(map(map(compose.networks, 'networks').default, 'default').ipam, 'ipam').config, 'ipam config')[0], 'subnet').subnet,
        'subnet',
      ),
      "not compose's subnet: both may run on one engine",
    );
    const trusted = loadConfig(secretsOnHost(stack, environment(service(stack, 'app'), 'app'))).trustedProxies;
    assert.ok(compileAddressMatcher(trusted)(subnet.replace(/0\/\d+$/, '10')), `TRUSTED_PROXIES ${trusted.join(',')} covers ${subnet}`);
    for (const name of ['app', 'nginx', 'postgres'])
      assert.deepEqual(service(stack, name).networks, ['linkyard'], `${name} on the overlay network`);
  });

  it('runs three app replicas, updated one at a time, new first, rolled back when a new task fails its healthchecks', () => {
    const app = deploy('app');
    assert.equal(app.replicas, 3);
    const update = map(app.update_config, 'app update_config');
    assert.equal(update.parallelism, 1);
    assert.equal(update.order, 'start-first', 'the new task is healthy before the old one stops');
    assert.equal(update.failure_action, 'rollback');
    const health = appHealthcheck();
    const unhealthyAfterMs = health.retries * (health.intervalMs + health.timeoutMs);
    assert.ok(
      durationMs(text(update.monitor, 'monitor')) >= unhealthyAfterMs,
      `monitor must outlast ${health.retries} failed checks (${unhealthyAfterMs} ms)`,
    );
    const rollback = map(app.rollback_config, 'app rollback_config');
    assert.equal(rollback.order, 'start-first');
    assert.equal(rollback.parallelism, 1);
    assert.equal(map(app.restart_policy, 'app restart_policy').condition, 'any');
    // nginx balances over the tasks' own addresses (tasks.app), not a virtual IP.
    assert.equal(app.endpoint_mode, 'dnsrr');
  });

  it("limits each app task's memory above what the benchmark measured, and lets its drain finish before SIGKILL", () => {
    const resources = map(deploy('app').resources, 'app resources');
    const limit = bytes(text(map(resources.limits, 'limits').memory, 'memory limit'));
    const reserved = bytes(text(map(resources.reservations, 'reservations').memory, 'memory reservation'));
    assert.ok(
      limit > BENCH_PEAK_RSS_MIB * 1024 ** 2 * 1.25,
      `limit ${limit} B leaves room over the measured peak of ${BENCH_PEAK_RSS_MIB} MiB`,
    );
    assert.ok(reserved <= limit);
    const app = service(stack, 'app');
    const drainMs = loadConfig(secretsOnHost(stack, environment(app, 'app'))).shutdownTimeoutMs;
    assert.ok(durationMs(text(app.stop_grace_period, 'stop_grace_period')) > drainMs);
    assert.equal(app.init, true);
    assert.equal(app.read_only, true);
  });

  it('publishes nginx in host mode on LINKYARD_PORT, following tasks.app by DNS', () => {
    const nginx = service(stack, 'nginx');
    const [port] = list(nginx.ports, 'nginx ports');
    const published = map(port, 'nginx port');
    assert.equal(published.mode, 'host');
    assert.equal(published.published, '8080', 'LINKYARD_PORT defaults to 8080');
    const server = readFileSync(join(ROOT, 'proxy/swarm/env/server.conf.template'), 'utf8');
    const listen = /^listen (\d+)/m.exec(server)?.[1];
    assert.equal(String(published.target), listen, 'the port nginx listens on inside');
    const upstream = readFileSync(join(ROOT, 'proxy/swarm/env/upstream.conf.template'), 'utf8');
    assert.match(upstream, /^server tasks\.app:8000 resolve max_fails=\d+ fail_timeout=\d+s;$/m);
    assert.match(upstream, /^resolver 127\.0\.0\.11 valid=1s ipv6=off;$/m);
    assert.match(upstream, /^zone \S+ \d+k;$/m);
    // The server block is compose's (same root for static/), with a connect timeout short enough
    // that a connect to a vanished task rarely outlives nginx's next look at tasks.app (1 s).
    const composeServer = readFileSync(join(ROOT, 'proxy/compose/env/server.conf.template'), 'utf8');
    for (const directive of ['listen', 'root']) {
      assert.equal(
        new RegExp(`^${directive} .*$`, 'm').exec(server)?.[0],
        new RegExp(`^${directive} .*$`, 'm').exec(composeServer)?.[0],
        `${directive} as in compose`,
      );
    }
    assert.ok(durationMs(/^proxy_connect_timeout (\S+);$/m.exec(server)?.[1] ?? '') < 1000);
    // nginx's own 502 sends a GET or HEAD through the upstream once more, never a POST.
    const retry = /^error_page 502 = (@\w+);$/m.exec(server)?.[1];
    assert.ok(retry !== undefined, "a second try for nginx's own 502");
    const retryBlock = new RegExp(`^location ${retry} \\{([\\s\\S]*?)^\\}`, 'm').exec(server)?.[1] ?? '';
    assert.match(retryBlock, /if \(\$request_method !~ \^\(GET\|HEAD\)\$\) \{\s*return 502;\s*\}/);
    assert.match(retryBlock, /^\s*proxy_pass http:\/\/linkyard_app;$/m);
    assert.equal(
      map(deploy('nginx').update_config, 'nginx update_config').order,
      'stop-first',
      'a host port is held by one container at a time',
    );
  });

  it('runs PostgreSQL once, on the labelled node that holds its volume, never two at a time', () => {
    const postgres = deploy('postgres');
    assert.equal(postgres.replicas, 1);
    assert.deepEqual(map(postgres.placement, 'placement').constraints, ['node.labels.linkyard.postgres == true']);
    assert.equal(map(postgres.update_config, 'postgres update_config').order, 'stop-first');
    const [volume] = list(service(stack, 'postgres').volumes, 'postgres volumes');
    assert.equal(text(volume, 'postgres volume'), 'postgres-data:/var/lib/postgresql/data');
    assert.ok('postgres-data' in map(stack.volumes, 'volumes'));
    // The healthcheck over TCP, as in compose.
    assert.deepEqual(service(stack, 'postgres').healthcheck, service(compose, 'postgres').healthcheck);
  });

  it("bounds every task's log on its node as docker-compose.yml does", () => {
    assertBoundedLogs(stack);
  });

  it("keeps every service under docker-compose.yml's names", () => {
    for (const name of Object.keys(services(stack)))
      assert.ok(name === 'app' || name in services(compose), `${name} is a compose service too`);
  });
});
