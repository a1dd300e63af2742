import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, chmodSync, constants, copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { delimiter, join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startTarget, tempDir } from '../helpers.ts';
import { APP_SERVICES, ROOT, readCompose, run } from './compose-files.ts';
import { adaptForDebianNginx, assembleNginxContainer } from './nginx-render.ts';

// The compose nginx is the official nginx:1.29 image; here there is Debian's nginx 1.22 and no
// Docker. So the container's configuration is assembled as the compose file and the image's
// entrypoint would (nginx-render.ts), and only what 1.22 cannot run is stood in for: upstream
// servers by 127.0.0.1 addresses instead of `appN … resolve` (1.27.3+, and the names exist only on
// the compose network), and the image's absolute paths moved into a temp folder. The shared
// nginx.conf and snippets/ are checked exactly as the container reads them.

const compose = readCompose();
const MARK_UPSTREAM = join(ROOT, 'proxy/compose/mark-upstream.sh');
const RENDER_MODULE = new URL('./nginx-render.ts', import.meta.url).href;

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
const skipNotice = NGINX === undefined ? 'NOTICE: nginx is not installed: the compose nginx config is not checked (apt-get install nginx-light)' : false;

interface Rendered {
  conf: string;
  prefix: string;
  /** The container's upstream.conf, with service names: what mark-upstream.sh edits. */
  namedUpstream: string;
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
  const namedUpstream = join(prefix, 'upstream.named.conf');
  copyFileSync(upstream, namedUpstream);
  adaptForDebianNginx(containerRoot, prefix, listen, addresses);
  return { conf, prefix, namedUpstream, upstream, nginxArgs: ['-p', `${prefix}/`, '-c', conf, '-e', join(prefix, 'error.log')] };
}

/**
 * An `nginx` for mark-upstream.sh's PATH: it turns the named upstream.conf the script just edited
 * into the addressed one (the same stand-in as above), then runs the real nginx on this config.
 */
function nginxCommandFor(rendered: Rendered, addresses: Readonly<Record<string, string>>): string {
  const bin = join(rendered.prefix, 'bin');
  mkdirSync(bin);
  const script = `#!${process.execPath}
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { upstreamForDebianNginx } from ${JSON.stringify(RENDER_MODULE)};
writeFileSync(${JSON.stringify(rendered.upstream)}, upstreamForDebianNginx(readFileSync(${JSON.stringify(rendered.namedUpstream)}, 'utf8'), ${JSON.stringify(addresses)}));
const result = spawnSync(${JSON.stringify(NGINX)}, [...${JSON.stringify(rendered.nginxArgs)}, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
`;
  writeFileSync(join(bin, 'nginx'), script);
  chmodSync(join(bin, 'nginx'), 0o755);
  return bin;
}

/** One GET on a fresh connection: a reload closes idle keep-alive connections, by design. */
function whoAnswers(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false, timeout: 3000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    }).on('error', reject).on('timeout', function (this: { destroy(error: Error): void }) {
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

async function eventually(what: string, check: () => Promise<boolean>, deadline = Date.now() + 5000): Promise<void> {
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  assert.fail(`${what}: not within 5 s`);
}

describe('the compose nginx config', { skip: skipNotice }, () => {
  it('renders from docker-compose.yml and passes nginx -t with the shared snippets', async (t) => {
    const addresses = Object.fromEntries(APP_SERVICES.map((name, index) => [name, `127.0.0.1:${8001 + index}`]));
    const rendered = render(t, addresses, '127.0.0.1:8080');

    const envDir = join(rendered.conf, '../env');
    assert.deepEqual(readdirSync(envDir).sort(), ['http.conf', 'main.conf', 'server.conf', 'upstream.conf']);
    const http = readFileSync(join(envDir, 'http.conf'), 'utf8');
    assert.match(http, /rate=10r\/s;/, 'LINKYARD_RATE_LIMIT filled in from the nginx service environment');
    assert.match(http, /\$binary_remote_addr/, "nginx's own variables left alone");
    for (const name of readdirSync(envDir)) assert.doesNotMatch(readFileSync(join(envDir, name), 'utf8'), /\$\{/, `${name}: nothing left to fill in`);

    const result = await run(NGINX ?? 'nginx', ['-t', ...rendered.nginxArgs]);
    assert.ok(result !== undefined);
    assert.equal(result.code, 0, `nginx -t failed:\n${result.stderr}`);
    assert.match(result.stderr, /test is successful/);
  });

  it('takes an app out of rotation and back with mark-upstream.sh, as the rolling restart does', async (t) => {
    const addresses: Record<string, string> = {};
    for (const name of APP_SERVICES) {
      const target = await startTarget(t, (_request, response) => response.end(name));
      addresses[name] = new URL(target.url).host;
    }
    const port = await freePort();
    const rendered = render(t, addresses, `127.0.0.1:${port}`);
    const bin = nginxCommandFor(rendered, addresses);
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
    await eventually('nginx answers', async () => (await whoAnswers(url).catch(() => undefined)) !== undefined);

    const mark = (service: string, state: string) =>
      run('sh', [MARK_UPSTREAM, service, state, rendered.namedUpstream], { env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` } });

    assert.deepEqual(new Set(await answers(url, 9)), new Set(APP_SERVICES), 'all three in rotation');

    const down = await mark('app2', 'down');
    assert.equal(down?.code, 0, `mark-upstream.sh app2 down: ${down?.stderr}\n${stderr}`);
    assert.match(readFileSync(rendered.namedUpstream, 'utf8'), /^server app2:\S+ .* down;$/m);
    // Every request is answered while nginx reloads; soon none by app2.
    await eventually('app2 out of rotation', async () => !(await answers(url, 6)).includes('app2'));
    assert.deepEqual(new Set(await answers(url, 9)), new Set(['app1', 'app3']));

    const up = await mark('app2', 'up');
    assert.equal(up?.code, 0, `mark-upstream.sh app2 up: ${up?.stderr}`);
    await eventually('app2 back in rotation', async () => (await answers(url, 6)).includes('app2'));

    const unknown = await mark('app9', 'down');
    assert.equal(unknown?.code, 1);
    assert.match(unknown?.stderr ?? '', /no 'server app9:' line/);
    assert.equal((await mark('app2', 'sideways'))?.code, 2);
  });
});
