import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppParts } from '../src/app.ts';
import { loadConfig, type CheckConfig, type Config } from '../src/config.ts';

export type ConfigOverrides = Partial<Omit<Config, 'check'>> & { check?: Partial<CheckConfig> };

/** The defaults, as `loadConfig` gives them for an empty environment, with `overrides` on top. */
export function testConfig(overrides: ConfigOverrides = {}): Config {
  const base = loadConfig({ LOG_LEVEL: 'silent', PORT: '0', HOST: '127.0.0.1' });
  const selfUrl = overrides.selfUrl ?? overrides.publicUrl ?? base.selfUrl;
  return { ...base, ...overrides, selfUrl, check: { ...base.check, ...overrides.check } };
}

export function tempDir(t: TestContext, prefix = 'linkyard-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A real app on a real SQLite file, listening on loopback; closed when the test ends. */
export async function startApp(
  t: TestContext,
  overrides: ConfigOverrides = {},
  parts: AppParts = {},
): Promise<{ app: FastifyInstance; url: string; config: Config }> {
  const config = testConfig({ dataDir: tempDir(t), ...overrides, check: { allowPrivate: true, timeoutMs: 2000, ...overrides.check } });
  const app = await buildApp(config, parts);
  t.after(() => app.close());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, config };
}

/** A local HTTP server to bookmark: the check fetches it for real. */
export async function startTarget(t: TestContext, handler: RequestListener): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server };
}

/** A target that answers 200 with a page titled `title`. */
export function htmlPage(title: string): RequestListener {
  return (_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(`<!doctype html><html><head><title>${title}</title></head><body>ok</body></html>`);
  };
}

export function form(fields: Record<string, string>): { body: string; headers: Record<string, string> } {
  return {
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  };
}

/** A port that was free a moment ago, for configs that must know their own address up front. */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Whether a new connection to 127.0.0.1:`port` is refused: a draining app has closed its
 * listener (the connection, if one is made, is closed at once by this side, before any request).
 */
export function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}
