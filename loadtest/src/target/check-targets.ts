import { constants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import type { IssuedCertificate } from '../../../test/support/tls.ts';

/**
 * Local sites for the app's URI check to fetch (the stack runs with CHECK_ALLOW_PRIVATE=true):
 * bookmarks can be created without reaching the internet, and a slow one keeps checks in flight
 * for as long as a benchmark needs.
 */
export interface CheckTarget {
  url: string;
  close(): Promise<void>;
}

async function listen(server: Server, scheme = 'http'): Promise<CheckTarget> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const PAGE = '<!doctype html><html><head><title>Load test target</title></head><body>ok</body></html>';

export function startFastTarget(): Promise<CheckTarget> {
  return listen(
    createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    }),
  );
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

/** 64 KiB of markup with the <title> at its very end: the check must inflate and parse it all. */
export const HEAVY_PAGE = (() => {
  const head = '<!doctype html><html><head><meta charset="utf-8">\n';
  const tail = '<title>Heavy page</title></head><body></body></html>';
  let page = head;
  // Varied attribute values, so gzip packs it about as well as a real page (not 100 to 1).
  for (let i = 0; ; i++) {
    const line = `<meta name="m${i}" content="${((i * 2654435761) % 4294967296).toString(36)}">\n`;
    if (page.length + line.length + tail.length > 64 * 1024) break;
    page += line;
  }
  return page + ' '.repeat(64 * 1024 - page.length - tail.length) + tail;
})();

/**
 * What a real check costs in CPU, on loopback: HTTPS under a CA made for the run (the checker
 * trusts it through CHECK_EXTRA_CA_FILE), a full TLS handshake every time (one request per
 * connection, no session tickets: like a first visit to a site), and a 64 KiB page, gzip-encoded,
 * whose title comes last. The page is compressed once, so the site spends its CPU on TLS only.
 */
export function startHeavyTarget(site: IssuedCertificate): Promise<CheckTarget> {
  const body = gzipSync(HEAVY_PAGE);
  // The leaf without the CA behind it: the handshake the bench's check figures were measured with.
  const cert = readFileSync(site.leafFile, 'utf8');
  const key = readFileSync(site.keyFile, 'utf8');
  const server = createHttpsServer({ cert, key, secureOptions: constants.SSL_OP_NO_TICKET }, (_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-encoding': 'gzip', connection: 'close' }).end(body);
  });
  return listen(server, 'https');
}
