import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { Agent, get, request, type Server } from 'node:http';
import { delimiter, join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stopAcceptingAndDrain } from '../../app/src/drain.ts';
import { ACCESS_LOG_BUFFERING, renderEnvFiles, WORKER_FILE_LIMIT } from '../../stack/src/nginx-config.ts';
import { waitFor } from '../../stack/src/wait.ts';
import { APP_SERVICES, readCompose, run } from '../../test/compose/compose-files.ts';
import { freePort, startTarget, tempDir } from '../../test/support/index.ts';
import { adaptForDebianNginx, assembleNginxContainer } from './nginx-render.ts';

// The compose nginx is the official nginx:1.29 image; here there is Debian's nginx 1.22 and no
// Docker. So the container's configuration is assembled as the compose file and the image's
// entrypoint would (nginx-render.ts), and only what 1.22 cannot run is stood in for: upstream
// servers by 127.0.0.1 addresses instead of `appN … resolve` (1.27.3+, and the names exist only on
// the compose network), and the image's absolute paths moved into a temp folder. The shared
// nginx.conf and snippets/ are checked exactly as the container reads them.

const compose = readCompose();

function findNginx(): string | undefined {
  // Debian puts it in /usr/sbin, which is not on every user's PATH.
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    try {
      accessSync(join(dir, 'nginx'), constants.X_OK);
      return join(dir, 'nginx');
    } catch {
      // not here
    }
  }
  return undefined;
}

const NGINX = findNginx();
const skipNotice =
  NGINX === undefined ? 'NOTICE: nginx is not installed: the compose nginx config is not checked (apt-get install nginx-light)' : false;

interface Rendered {
  conf: string;
  prefix: string;
  /** The one nginx reads here, with addresses. */
  upstream: string;
  nginxArgs: string[];
}

function render(t: TestContext, addresses: Readonly<Record<string, string>>, listen: string): Rendered {
  const dir = tempDir(t, 'linkyard-compose-nginx-');
  const containerRoot = join(dir, 'container');
  const prefix = join(dir, 'prefix');
  mkdirSync(prefix);
  const conf = assembleNginxContainer(compose, containerRoot);
  const upstream = join(containerRoot, 'etc/nginx/env/upstream.conf');
  adaptForDebianNginx(containerRoot, prefix, listen, addresses);
  return { conf, prefix, upstream, nginxArgs: ['-p', `${prefix}/`, '-c', conf, '-e', join(prefix, 'error.log')] };
}

/** One GET on a fresh connection. */
function whoAnswers(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false, timeout: 3000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .on('timeout', function (this: { destroy(error: Error): void }) {
        this.destroy(new Error(`GET ${url} timed out`));
      });
  });
}

async function answers(url: string, count: number): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < count; i++) {
    const { status, body } = await whoAnswers(url);
    assert.equal(status, 200, `request ${i} through nginx failed: ${status} ${body}`);
    seen.push(body);
  }
  return seen;
}

/** A main- or events-level directive's value in one of the shipped files. */
function directive(conf: string, name: string, file = 'proxy/nginx.conf'): number {
  const match = new RegExp(`^\\s*${name}\\s+(\\d+);`, 'm').exec(conf);
  assert.ok(match?.[1] !== undefined, `${name} is set in ${file}`);
  return Number(match[1]);
}

describe("the shipped nginx.conf's connection limits", () => {
  // Issue 25: 10 000 keep-alive clients through nginx, none failed. The load test is
  // `npm run bench:scale -- --connections`; this holds the configuration to what it needs.
  const conf = readFileSync(new URL('../nginx.conf', import.meta.url), 'utf8');
  const clients = 10_000;

  it('lets one worker hold 10 000 clients and an upstream connection for each', () => {
    assert.ok(directive(conf, 'worker_connections') >= 2 * clients, 'worker_connections counts clients and upstream connections together');
  });

  it('gives each worker more descriptors than connections, for the files it opens, natively and in compose', () => {
    // env/main.conf sets it: the native launcher lowers it to a lower hard limit (stack/test/launcher.test.ts).
    const compose = readFileSync(new URL('../compose/env/main.conf.template', import.meta.url), 'utf8');
    const native = renderEnvFiles({
      prefix: '/p',
      host: '127.0.0.1',
      port: 1,
      upstreams: [{ port: 2 }],
      staticRoot: '/s',
      rateLimit: '1r/s',
      accessLog: false,
    });
    assert.equal(directive(compose, 'worker_rlimit_nofile', 'main.conf.template'), WORKER_FILE_LIMIT);
    assert.equal(directive(native['main.conf'], 'worker_rlimit_nofile', 'the native main.conf'), WORKER_FILE_LIMIT);
    assert.ok(WORKER_FILE_LIMIT > directive(conf, 'worker_connections'));
  });
});

describe('the compose nginx config', { skip: skipNotice }, () => {
  it('renders from docker-compose.yml and passes nginx -t with the shared snippets', async (t) => {
    const addresses = Object.fromEntries(APP_SERVICES.map((name, index) => [name, `127.0.0.1:${8001 + index}`]));
    const rendered = render(t, addresses, '127.0.0.1:8080');

    const envDir = join(rendered.conf, '../env');
    assert.deepEqual(readdirSync(envDir).sort(), ['http.conf', 'main.conf', 'server.conf', 'upstream.conf']);
    const http = readFileSync(join(envDir, 'http.conf'), 'utf8');
    assert.match(http, /rate=10r\/s;/, 'LINKYARD_RATE_LIMIT filled in from the nginx service environment');
    assert.match(http, /zone=linkyard_api_read:10m rate=50r\/s;/, 'LINKYARD_READ_RATE_LIMIT filled in: reads have their own zone');
    assert.match(http, /\$linkyard_api_read_client/, "nginx's own variables left alone");
    assert.ok(
      http.split('\n').some((line) => /^access_log \S+ linkyard_json /.test(line) && line.endsWith(` ${ACCESS_LOG_BUFFERING};`)),
      'the access log buffered as in the native stack',
    );
    for (const name of readdirSync(envDir))
      assert.doesNotMatch(readFileSync(join(envDir, name), 'utf8'), /\$\{/, `${name}: nothing left to fill in`);

    const result = await run(NGINX ?? 'nginx', ['-t', ...rendered.nginxArgs]);
    assert.ok(result !== undefined);
    assert.equal(result.code, 0, `nginx -t failed:\n${result.stderr}`);
    assert.match(result.stderr, /test is successful/);
  });

  it('routes around an app that drains, with no reload: every GET and POST answered, the drain ended by nginx closing its connections', async (t) => {
    // Three apps that answer their name, and drain as app/src/drain.ts does (with app.ts's
    // Connection: close on answers while draining).
    const draining = new Set<string>();
    const servers: Record<string, Server> = {};
    const addresses: Record<string, string> = {};
    for (const name of APP_SERVICES) {
      const target = await startTarget(t, (request, response) => {
        request.resume();
        request.on('end', () => {
          if (draining.has(name)) response.setHeader('connection', 'close');
          response.end(name);
        });
      });
      // As the app's KEEP_ALIVE_TIMEOUT_MS: only nginx closes an idle connection.
      target.server.keepAliveTimeout = 75_000;
      servers[name] = target.server;
      addresses[name] = new URL(target.url).host;
    }
    const port = await freePort();
    const rendered = render(t, addresses, `127.0.0.1:${port}`);
    const url = `http://127.0.0.1:${port}/whoami`;

    const nginx = spawn(NGINX ?? 'nginx', [...rendered.nginxArgs, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    nginx.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    t.after(async () => {
      if (nginx.exitCode === null) {
        nginx.kill('SIGTERM');
        await once(nginx, 'exit');
      }
    });
    await waitFor('nginx to answer', async () => (await whoAnswers(url).catch(() => undefined)) !== undefined, { timeoutMs: 5000 });
    assert.deepEqual(new Set(await answers(url, 9)), new Set(APP_SERVICES), 'all three in rotation');

    // Clients on keep-alive connections, GETs and POSTs, while app2 drains (SIGTERM in a container).
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    t.after(() => agent.destroy());
    const failures: string[] = [];
    let answered = 0;
    const seen = new Set<string>();
    const send = (method: string) =>
      new Promise<void>((resolve) => {
        const req = request(url, { method, agent, timeout: 5000 }, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => {
            if (response.statusCode === 200) {
              answered++;
              seen.add(body);
            } else {
              failures.push(`${method}: ${response.statusCode} ${body.slice(0, 100)}`);
            }
            resolve();
          });
        });
        req.on('error', (error) => {
          failures.push(`${method}: ${error.message}`);
          resolve();
        });
        req.on('timeout', () => req.destroy(new Error('timed out')));
        req.end(method === 'POST' ? 'longuri=x' : undefined);
      });
    const traffic = async (until: Promise<unknown>) => {
      let done = false;
      void until.finally(() => (done = true));
      const loop = async () => {
        for (let i = 0; !done; i++) await send(i % 3 === 0 ? 'POST' : 'GET');
      };
      await Promise.all([loop(), loop(), loop(), loop()]);
    };

    const app2 = servers.app2;
    assert.ok(app2 !== undefined, 'app2 is one of the apps started above');
    draining.add('app2');
    const drained = stopAcceptingAndDrain(app2, 10_000);
    // At least a second of traffic: when nginx's first requests happen to use every connection it
    // held to app2, each answered `Connection: close`, the drain is over within milliseconds.
    await traffic(Promise.all([drained, sleep(1000)]));
    assert.equal(await drained, 0, 'nginx closed every connection it held to app2 (its keepalive_timeout) before the drain ran out');
    assert.deepEqual(failures, [], `nginx's error log:\n${stderr}`);
    assert.ok(answered > 20, `steady traffic: ${answered} answered`);

    // app2 is gone; nginx's passive check keeps the rest on app1 and app3 without a failure.
    seen.clear();
    await traffic(sleep(500));
    assert.deepEqual(failures, []);
    assert.deepEqual(seen, new Set(['app1', 'app3']));

    // With no traffic, only nginx's upstream keepalive_timeout closes the connections it keeps
    // idle: the drain must end by that, not by running out (the app then closes them itself, and
    // could race with nginx reusing one).
    const app3 = servers.app3;
    assert.ok(app3 !== undefined, 'app3 is one of the apps started above');
    const held = await new Promise<number>((resolve, reject) =>
      app3.getConnections((error, count) => (error ? reject(error) : resolve(count))),
    );
    assert.ok(held > 0, 'nginx keeps idle connections to app3');
    draining.add('app3');
    assert.equal(
      await stopAcceptingAndDrain(app3, 10_000),
      0,
      `nginx closed the ${held} idle connections it held to app3 within the drain`,
    );
  });
});
