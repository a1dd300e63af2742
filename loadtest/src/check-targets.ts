import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Local sites for the app's URI check to fetch (the stack runs with CHECK_ALLOW_PRIVATE=true):
 * bookmarks can be created without reaching the internet, and a slow one keeps checks in flight
 * for as long as a benchmark needs.
 */
export interface CheckTarget {
  url: string;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<CheckTarget> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const PAGE = '<!doctype html><html><head><title>Load test target</title></head><body>ok</body></html>';

export function startFastTarget(): Promise<CheckTarget> {
  return listen(createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
  }));
}

/** Answers after `delayMs`; closing it ends every waiting check at once (connection reset). */
export function startSlowTarget(delayMs: number): Promise<CheckTarget> {
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((_request, response) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    }, delayMs);
    timers.add(timer);
  });
  server.on('close', () => {
    for (const timer of timers) clearTimeout(timer);
  });
  return listen(server);
}
