import type { RequestListener } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { tempDir } from '../../test/support/index.ts';
import { type AppParts, buildApp } from '../src/app.ts';
import { type CheckConfig, type Config, loadConfig } from '../src/config.ts';

export type ConfigOverrides = Partial<Omit<Config, 'check'>> & { check?: Partial<CheckConfig> };

/** The defaults, as `loadConfig` gives them for an empty environment, with `overrides` on top. */
export function testConfig(overrides: ConfigOverrides = {}): Config {
  const base = loadConfig({ LOG_LEVEL: 'silent', PORT: '0', HOST: '127.0.0.1' });
  const selfUrl = overrides.selfUrl ?? overrides.publicUrl ?? base.selfUrl;
  return { ...base, ...overrides, selfUrl, check: { ...base.check, ...overrides.check } };
}

/** A real app on a real SQLite file, listening on loopback; closed when the test ends. */
export async function startApp(
  t: TestContext,
  overrides: ConfigOverrides = {},
  parts: AppParts = {},
): Promise<{ app: FastifyInstance; url: string; config: Config }> {
  let app: FastifyInstance | undefined;
  // Added before the data folder's removal, so the app has closed its store when that runs.
  t.after(() => app?.close());
  const config = testConfig({ dataDir: tempDir(t), ...overrides, check: { allowPrivate: true, timeoutMs: 2000, ...overrides.check } });
  app = await buildApp(config, parts);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, config };
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

/** A form post as a browser on the page itself sends it: its own Origin, and Sec-Fetch-Site. */
export function postForm(url: string, path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  const { body, headers: formHeaders } = form(fields);
  return fetch(`${url}${path}`, {
    method: 'POST',
    body,
    redirect: 'manual',
    headers: { ...formHeaders, origin: url, 'sec-fetch-site': 'same-origin', ...headers },
  });
}

/** The session cookie a sign-in answered with, as a `cookie` header value ('' when none). */
export function sessionCookie(response: Response): string {
  return (response.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
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
