import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../app/src/config.ts';
import { compileAddressMatcher } from '../../app/src/trusted-proxies.ts';
import { tempDir } from '../support/index.ts';
import {
  APP_SERVICES,
  assertBoundedLogs,
  dockerCompose,
  durationMs,
  environment,
  isMap,
  list,
  map,
  mounts,
  ROOT,
  readCompose,
  readDockerfileStages,
  run,
  secretsOnHost,
  service,
  services,
  text,
  type YamlMap,
} from './compose-files.ts';

const compose = readCompose();

/** Services that run once and exit: a healthcheck means nothing for them. */
const ONE_SHOT_JOBS: Readonly<Record<string, string>> = {
  k6: 'a load test: it runs, prints its summary and exits',
};

function dockerfileHasHealthcheck(): boolean {
  return (
    readDockerfileStages()
      .at(-1)
      ?.instructions.some(([keyword, args]) => keyword === 'HEALTHCHECK' && args !== 'NONE') ?? false
  );
}

/** A healthcheck of its own, or the one in the Dockerfile it is built from. */
function hasHealthcheck(svc: YamlMap): boolean {
  if (isMap(svc.healthcheck)) {
    if (svc.healthcheck.disable === true) return false;
    if (svc.healthcheck.test !== undefined) return !(Array.isArray(svc.healthcheck.test) && svc.healthcheck.test[0] === 'NONE');
  }
  return svc.build !== undefined && dockerfileHasHealthcheck();
}

/** Environment a child process gets for docker-compose: none of the file's variables set. */
function cleanEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8' };
}

describe('docker-compose.yml', () => {
  it('is accepted by docker-compose, which reads it as these tests do', async (t) => {
    // An empty env file: a developer's .env must not change what is checked.
    const noEnvFile = join(tempDir(t, 'linkyard-compose-'), 'empty.env');
    writeFileSync(noEnvFile, '');
    const result = await run('docker-compose', ['--env-file', noEnvFile, '-f', 'docker-compose.yml', 'config'], { env: cleanEnv() });
    if (result === undefined) {
      // CI installs docker-compose (.ci/run); a developer machine may not have it.
      t.skip('NOTICE: docker-compose is not installed: `docker-compose config` not checked (apt-get install docker-compose)');
      return;
    }
    assert.equal(result.code, 0, `docker-compose config failed:\n${result.stderr}`);
    // Debian's docker-compose 1.29 knows the compose spec's profiles, depends_on conditions, init
    // and anchors (it rejects the top-level `name:`, so the file has none); `docker compose up
    // --wait` is v2's and lives in the rolling-restart script, not in this file.
    const normalized = map(parse(result.stdout), 'docker-compose config output');
    const normalizedServices = map(normalized.services, 'services');
    assert.deepEqual(Object.keys(normalizedServices).sort(), Object.keys(services(compose)).sort());
    for (const name of Object.keys(normalizedServices)) {
      const fromCompose = map(normalizedServices[name], name);
      assert.deepEqual(
        environment(fromCompose, name),
        environment(service(compose, name), name),
        `${name}: variables interpolate as these tests assume`,
      );
      assert.equal(fromCompose.image, service(compose, name).image);
    }
  });

  it("bounds every service's log: json-file, three files of 10 MB at most", () => {
    assertBoundedLogs(compose);
  });

  it('has the nginx, three app, postgres and k6 services', () => {
    assert.deepEqual(Object.keys(services(compose)).sort(), ['app1', 'app2', 'app3', 'k6', 'nginx', 'postgres']);
  });

  it('gives every long-running service a healthcheck; only one-shot jobs have none', () => {
    for (const [name, value] of Object.entries(services(compose))) {
      const svc = map(value, name);
      if (name in ONE_SHOT_JOBS) {
        assert.ok(
          Array.isArray(svc.profiles) && svc.profiles.length > 0,
          `${name} (${ONE_SHOT_JOBS[name]}) must not start with a plain \`docker compose up\``,
        );
        assert.equal(svc.restart ?? 'no', 'no', `${name} runs once: no restart policy`);
        continue;
      }
      assert.ok(hasHealthcheck(svc), `${name} has no healthcheck`);
    }
  });

  it('pins every pulled image to a version (no latest, no bare name)', () => {
    for (const [name, value] of Object.entries(services(compose))) {
      const svc = map(value, name);
      const image = text(svc.image, `${name} image`);
      if (svc.build !== undefined) continue; // built here from the Dockerfile, never pulled
      const tag = /^[^@]+:([^/:@]+)(@sha256:[0-9a-f]{64})?$/.exec(image)?.[1];
      assert.ok(tag !== undefined, `${name}: ${image} has no tag`);
      assert.match(tag, /^\d+(\.\d+)*(-[a-z0-9.]+)?$/, `${name}: ${image} is not pinned to a version`);
    }
  });

  it('builds app1, app2 and app3 from one Dockerfile into one image, with the same settings', () => {
    const [first, ...others] = APP_SERVICES.map((name) => service(compose, name));
    assert.ok(first !== undefined);
    assert.ok(first.build !== undefined, 'app services are built from the Dockerfile');
    const context = typeof first.build === 'string' ? first.build : text(map(first.build, 'build').context, 'build context');
    assert.ok(existsSync(join(ROOT, context, 'Dockerfile')));
    for (const other of others) assert.deepEqual(other, first);
  });

  it('runs the app services under an init, with a stop grace period longer than their drain', () => {
    for (const name of APP_SERVICES) {
      const svc = service(compose, name);
      assert.equal(svc.init, true, `${name}: init: true, so node is not PID 1`);
      const drainMs = loadConfig(secretsOnHost(compose, environment(svc, name))).shutdownTimeoutMs;
      const graceMs = durationMs(text(svc.stop_grace_period, `${name} stop_grace_period`));
      assert.ok(
        graceMs > drainMs,
        `${name}: stop_grace_period ${graceMs} ms must exceed SHUTDOWN_TIMEOUT_MS ${drainMs} ms, or SIGKILL cuts the drain short`,
      );
    }
  });

  it('configures the apps for PostgreSQL, nginx in front and the compose network', () => {
    const postgres = service(compose, 'postgres');
    assert.match(text(postgres.image, 'postgres image'), /^postgres:/);
    const pgEnv = environment(postgres, 'postgres');
    const subnet = text(
      map(list(map(map(map(compose.networks, 'networks').default, 'default network').ipam, 'ipam').config, 'ipam config')[0], 'subnet')
        .subnet,
      'subnet',
    );
    const [networkAddress = ''] = subnet.split('/');
    const nginxLikeAddress = networkAddress.replace(/\.0$/, '.10');

    for (const name of APP_SERVICES) {
      const config = loadConfig(secretsOnHost(compose, environment(service(compose, name), name)));
      assert.ok(config.databaseUrl !== undefined, `${name}: DATABASE_URL selects PostgreSQL`);
      const url = new URL(config.databaseUrl);
      assert.equal(url.hostname, 'postgres', `${name}: DATABASE_URL points at the postgres service`);
      assert.equal(url.port || '5432', '5432');
      assert.equal(decodeURIComponent(url.username), pgEnv.POSTGRES_USER);
      assert.equal(
        decodeURIComponent(url.password),
        readFileSync(text(secretsOnHost(compose, pgEnv).POSTGRES_PASSWORD_FILE, 'postgres password file'), 'utf8').trim(),
        `${name}: the password PostgreSQL was given`,
      );
      assert.equal(url.pathname, `/${pgEnv.POSTGRES_DB}`);
      assert.equal(config.serveStatic, false, `${name}: nginx serves /static`);
      assert.equal(config.port, 8000);
      assert.ok(
        compileAddressMatcher(config.trustedProxies)(nginxLikeAddress),
        `${name}: TRUSTED_PROXIES must include the compose network ${subnet}, where nginx is`,
      );
    }
  });

  it('gives the database password and the API token as secret files, in no environment', () => {
    for (const [name, svc] of Object.entries(services(compose))) {
      const env = environment(map(svc, name), name);
      for (const variable of ['POSTGRES_PASSWORD', 'API_TOKEN'])
        assert.equal(env[variable], undefined, `${name}: ${variable} would show in docker inspect; use ${variable}_FILE`);
      if (env.DATABASE_URL !== undefined) assert.equal(new URL(env.DATABASE_URL).password, '', `${name}: no password in DATABASE_URL`);
      const mounted = list(map(svc, name).secrets ?? [], `${name} secrets`).map((entry) => text(entry, `${name} secret`));
      for (const [variable, value] of Object.entries(env)) {
        const secretName = /^\/run\/secrets\/(.+)$/.exec(value)?.[1];
        if (secretName !== undefined)
          assert.ok(mounted.includes(secretName), `${name}: ${variable} reads secret ${secretName}, which the service must list`);
      }
    }
    for (const name of APP_SERVICES)
      assert.equal(
        loadConfig(secretsOnHost(compose, environment(service(compose, name), name))).apiToken,
        undefined,
        'the development token file is empty: DELETE stays disabled',
      );
  });

  it('keeps PostgreSQL data in a named volume and checks it with pg_isready', () => {
    const postgres = service(compose, 'postgres');
    const volumes = map(compose.volumes, 'top-level volumes');
    const dataMount = mounts(postgres, 'postgres').find((mount) => mount.target === '/var/lib/postgresql/data');
    assert.ok(dataMount !== undefined && dataMount.source in volumes, 'the data directory is a named volume');
    assert.ok(list(map(postgres.healthcheck, 'postgres healthcheck').test, 'test').includes('pg_isready'));
  });

  it('starts a service only once what it depends on is healthy', () => {
    const expected: Readonly<Record<string, readonly string[]>> = {
      nginx: APP_SERVICES,
      app1: ['postgres'],
      app2: ['postgres'],
      app3: ['postgres'],
      k6: ['nginx'],
    };
    for (const [name, value] of Object.entries(services(compose))) {
      const dependsOn = map(value, name).depends_on;
      if (dependsOn === undefined) {
        assert.equal(expected[name], undefined, `${name} should depend on ${expected[name]?.join(', ')}`);
        continue;
      }
      const conditions = map(dependsOn, `${name} depends_on (the long form, with a condition)`);
      assert.deepEqual(Object.keys(conditions).sort(), [...(expected[name] ?? [])].sort(), `${name} depends_on`);
      for (const [dependency, condition] of Object.entries(conditions)) {
        assert.equal(map(condition, `${name} → ${dependency}`).condition, 'service_healthy', `${name} → ${dependency}`);
        assert.ok(hasHealthcheck(service(compose, dependency)), `${dependency} needs a healthcheck for service_healthy`);
      }
    }
  });

  it('publishes nginx on port 8080, where its server listens', () => {
    const nginx = service(compose, 'nginx');
    const published = list(nginx.ports, 'nginx ports').map((port) => text(String(port), 'port').split(':'));
    assert.ok(
      published.some((parts) => parts.at(-1) === '8080' && parts.at(-2) === '8080'),
      'nginx publishes 8080:8080',
    );
    const serverConf = readFileSync(join(ROOT, 'proxy/compose/env/server.conf.template'), 'utf8');
    assert.match(serverConf, /^listen 8080\b/m);
  });

  it('mounts the shared proxy config, the compose env files and the static files read-only', () => {
    const nginx = service(compose, 'nginx');
    const nginxMounts = mounts(nginx, 'nginx');
    for (const source of ['./proxy/nginx.conf', './proxy/mime.types', './proxy/snippets', './proxy/compose/env', './app/static']) {
      const mount = nginxMounts.find((candidate) => candidate.source === source);
      assert.ok(mount !== undefined, `nginx mounts ${source}`);
      assert.ok(mount.readOnly, `${source} is mounted read-only`);
      assert.ok(existsSync(join(ROOT, source)), `${source} exists`);
    }
    // server.conf's root is the folder that holds static/.
    const root = /^root (\S+);/m.exec(readFileSync(join(ROOT, 'proxy/compose/env/server.conf.template'), 'utf8'))?.[1];
    assert.equal(nginxMounts.find((mount) => mount.source === './app/static')?.target, `${root}/static`);
  });

  it('lists the app services, at their port, as nginx upstream servers', () => {
    const upstream = readFileSync(join(ROOT, 'proxy/compose/env/upstream.conf.template'), 'utf8');
    const servers = [...upstream.matchAll(/^server ([\w-]+):(\d+) /gm)].map((match) => `${match[1]}:${match[2]}`);
    assert.deepEqual(
      servers,
      APP_SERVICES.map((name) => `${name}:${loadConfig(secretsOnHost(compose, environment(service(compose, name), name))).port}`),
    );
    // Resolved at run time through Docker's DNS: a recreated container has a new address.
    assert.match(upstream, /^resolver 127\.0\.0\.11 valid=5s ipv6=off;/m);
    assert.match(upstream, /^zone \S+ \d+k;/m);
    for (const line of upstream.match(/^server .*$/gm) ?? []) assert.match(line, / resolve /);
  });

  it('runs k6 only with the loadtest profile, against nginx, with each app metrics endpoint', () => {
    const k6 = service(compose, 'k6');
    assert.match(text(k6.image, 'k6 image'), /^grafana\/k6:/);
    assert.deepEqual(k6.profiles, ['loadtest']);
    assert.deepEqual(
      mounts(k6, 'k6').find((mount) => mount.target === '/scripts'),
      { source: './k6', target: '/scripts', readOnly: true },
    );
    const script = list(k6.command, 'k6 command')
      .map((part) => text(part, 'k6 command part'))
      .find((part) => part.startsWith('/scripts/'));
    assert.ok(
      script !== undefined && existsSync(join(ROOT, 'k6', script.slice('/scripts/'.length))),
      `k6 runs a scenario that exists: ${script}`,
    );
    const env = environment(k6, 'k6');
    assert.equal(env.BASE_URL, 'http://nginx:8080');
    assert.equal(env.METRICS_URLS, APP_SERVICES.map((name) => `http://${name}:8000/metrics`).join(','));
  });
});

describe('docker-compose.tls.yml on top of docker-compose.yml', () => {
  it('publishes HTTPS and the redirecting port only (8080 stays inside), and starts nginx once tls-check passed', async (t) => {
    const noEnvFile = join(tempDir(t, 'linkyard-compose-'), 'empty.env');
    writeFileSync(noEnvFile, '');
    // Compose v2: `ports: !override` is its (2.24.4+); Debian's docker-compose 1.29 has no such tag.
    const args = ['--env-file', noEnvFile, '-f', 'docker-compose.yml', '-f', 'docker-compose.tls.yml', 'config'];
    const result = await dockerCompose(args, { env: cleanEnv() });
    if (result === undefined) {
      t.skip('NOTICE: Docker Compose v2 is not installed: the HTTPS overlay is not checked');
      return;
    }
    assert.equal(result.code, 0, `docker compose config failed:\n${result.stderr}`);
    const merged = map(parse(result.stdout), 'docker compose config output');
    const nginx = service(merged, 'nginx');
    const ports = list(nginx.ports, 'nginx ports').map((port) => map(port, 'port'));
    assert.deepEqual(ports.map(({ host_ip, published, target }) => `${host_ip}:${published}->${target}`).sort(), [
      '127.0.0.1:8080->8081',
      '127.0.0.1:8443->8443',
    ]);
    assert.equal(map(map(nginx.depends_on, 'nginx depends_on')['tls-check'], 'tls-check').condition, 'service_completed_successfully');
    // Unchanged inside: the apps still check themselves, and k6 still sends, over nginx's plain 8080.
    assert.equal(environment(service(merged, 'app1'), 'app1').SELF_URL, 'http://nginx:8080');
    assert.equal(environment(service(merged, 'app1'), 'app1').PUBLIC_URL, 'https://localhost:8443');
    assert.equal(environment(service(compose, 'k6'), 'k6').BASE_URL, 'http://nginx:8080');
  });
});
