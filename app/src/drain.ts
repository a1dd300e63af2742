import type { Server as HttpServer } from 'node:http';
import { Server as NetServer } from 'node:net';

/**
 * The first half of a graceful shutdown behind a proxy that keeps connections alive (nginx's
 * upstream keepalive): stop accepting connections, and wait until the proxy has closed the ones it
 * holds. Resolves with the number still open when `timeoutMs` ran out (0: all gone).
 *
 * - The listening socket closes at once: a proxy's new connection is refused, which nginx retries
 *   on another process even for a POST (`proxy_next_upstream error`: the request was never sent).
 * - A request on a connection already open is served as usual, and app.ts answers it with
 *   `Connection: close` while draining: the proxy closes that connection after reading the answer.
 * - An idle connection is never closed from this side. `http.Server#close()` (and Fastify's
 *   `close()`, which calls it) does close idle keep-alive connections, and that races with the
 *   proxy: it may have picked that connection and written a request in the same instant; the
 *   request is then lost, and nginx does not retry a POST it has sent. Here the listener is closed
 *   with `net.Server#close()` instead, and idle connections are left for the proxy to close: on
 *   its next request through them (answered `Connection: close`), or at its upstream
 *   `keepalive_timeout`, which bounds the wait.
 * Why: docs/decisions/0004-drain-without-nginx-reload.md
 */
export function stopAcceptingAndDrain(server: HttpServer, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve(0);
      return;
    }
    const timer = setTimeout(() => {
      server.getConnections((_error, count) => resolve(count));
    }, timeoutMs);
    // net.Server's callback runs once the listener is closed and the last connection has ended.
    NetServer.prototype.close.call(server, () => {
      clearTimeout(timer);
      resolve(0);
    });
  });
}

/**
 * What closing needs once the connections are gone: flushing visits, stopping the check pool,
 * closing the store (well under 100 ms here; a remote PostgreSQL adds round trips).
 */
const CLOSE_RESERVE_MS = 1000;

/**
 * How long the connections get out of SHUTDOWN_TIMEOUT_MS: what is left after closing. It must
 * outlast nginx's upstream keepalive_timeout (proxy/snippets/upstream.conf; app/test/config.test.ts
 * holds the defaults to that), so the drain ends because nginx closed its connections.
 */
export function drainWindowMs(shutdownTimeoutMs: number): number {
  return Math.max(shutdownTimeoutMs - CLOSE_RESERVE_MS, shutdownTimeoutMs / 2);
}
