/**
 * The architecture ceiling's app: plain node:http and a Map lookup, nothing else (no framework,
 * no store, no logging, no metrics). What one Node process behind nginx can do at best.
 * Run as a child process; prints its port as the first line on stdout.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const links = new Map<string, string>();
const count = Number(process.env.BENCH_NAMES ?? '100');
for (let i = 0; i < count; i++) links.set(`/bench-${i}`, `https://example.com/page/${i}`);

const server = createServer((request, response) => {
  const target = links.get(request.url ?? '');
  if (target === undefined) {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  response.writeHead(303, { location: target, 'cache-control': 'no-store', 'content-length': '0' }).end();
});
// Above nginx's upstream keepalive_timeout, as the real app does.
server.keepAliveTimeout = 75_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
