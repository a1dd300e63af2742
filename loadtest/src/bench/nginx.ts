import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The two ceilings' nginx, rendered under a temp prefix: no access log, nothing but the one
 * location, so it measures nginx itself. worker_processes and the upstream keepalive match the
 * stack's (proxy/nginx.conf, proxy/snippets/upstream.conf).
 */
export type CeilingConfig = { kind: 'return'; port: number } | { kind: 'proxy'; port: number; upstreamPorts: readonly number[] };

export function renderCeilingConfig(prefix: string, config: CeilingConfig): string {
  const location = config.kind === 'return' ? 'return 303 https://example.com/;' : 'proxy_pass http://ceiling;';
  const upstream =
    config.kind === 'return'
      ? ''
      : `
  upstream ceiling {
    least_conn;
${config.upstreamPorts.map((port) => `    server 127.0.0.1:${port};`).join('\n')}
    keepalive 4096;
    keepalive_timeout 60s;
    keepalive_requests 10000;
  }
  proxy_http_version 1.1;
  proxy_set_header Connection "";`;
  return `worker_processes auto;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${join(prefix, 'tmp', 'body')};
  proxy_temp_path ${join(prefix, 'tmp', 'proxy')};
  fastcgi_temp_path ${join(prefix, 'tmp', 'fastcgi')};
  uwsgi_temp_path ${join(prefix, 'tmp', 'uwsgi')};
  scgi_temp_path ${join(prefix, 'tmp', 'scgi')};
  keepalive_timeout 20s;${upstream}
  server {
    listen 127.0.0.1:${config.port};
    location / { ${location} }
  }
}
`;
}

export interface RunningNginx {
  stop(): Promise<void>;
}

/** nginx in the foreground (daemon off), so it is our child and dies with a SIGTERM to it. */
export async function startNginx(prefix: string, config: CeilingConfig): Promise<RunningNginx> {
  mkdirSync(join(prefix, 'tmp'), { recursive: true });
  const confPath = join(prefix, 'nginx.conf');
  writeFileSync(confPath, renderCeilingConfig(prefix, config));
  const child = spawn('nginx', ['-p', prefix, '-c', confPath, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await waitForPort(config.port, child, () => `${stderr}${safeRead(join(prefix, 'error.log'))}`);
  return {
    async stop() {
      await stopChild(child);
    },
  };
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

async function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${output()}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`, { redirect: 'manual', signal: AbortSignal.timeout(500) });
      await response.body?.cancel();
      return;
    } catch {
      await sleep(50);
    }
  }
  child.kill('SIGKILL');
  throw new Error(`nginx did not answer on ${port} within 5 s: ${output()}`);
}

/** SIGTERM, then SIGKILL if it has not gone within 5 s: the bench must always end. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
