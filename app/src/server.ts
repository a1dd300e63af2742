import type { ListenOptions } from 'node:net';
import closeWithGrace from 'close-with-grace';
import type { FastifyListenOptions } from 'fastify';
import { buildApp } from './app.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { drainWindowMs, stopAcceptingAndDrain } from './drain.ts';

// The entry point only reads the config, listens, and shuts down; everything else is buildApp's.
let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`linkyard: bad configuration: ${error.message}`);
  process.exit(78); // EX_CONFIG
}

const app = await buildApp(config);

closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing after an uncaught error');
  else app.log.info({ signal }, 'draining: finishing requests in flight');
  app.lifecycle.draining = true;
  // Behind nginx the connections are gone within its upstream keepalive_timeout.
  const drainMs = drainWindowMs(config.shutdownTimeoutMs);
  const leftOpen = await stopAcceptingAndDrain(app.server, drainMs);
  if (leftOpen > 0) app.log.warn({ connections: leftOpen }, `connections still open after ${drainMs} ms of draining: closing them`);
  await app.close();
  app.log.info('closed');
});

/**
 * nginx opens connections to an app in bursts: every request in flight beyond its idle keepalive
 * pool takes a new one. Past Node's default queue of 511 unaccepted connections, Linux drops the
 * SYN and nginx's connect waits a second for the resend; two such timeouts within fail_timeout take
 * the process out of rotation, and with every process out, nginx answers 502. Linux caps the queue
 * at net.core.somaxconn (4096 by default since 5.4).
 * Why: docs/decisions/0014-upstream-keepalive-and-passive-health-checks.md
 */
const LISTEN_BACKLOG = 4096;

// Fastify hands these options to Node's server.listen() as they are; its types lack reusePort.
const listenOptions: FastifyListenOptions & Pick<ListenOptions, 'reusePort'> = {
  port: config.port,
  host: config.host,
  reusePort: config.reusePort,
  backlog: LISTEN_BACKLOG,
};
await app.listen(listenOptions);
// A supervisor that shares the port with a process being replaced (REUSE_PORT) cannot tell from
// the port which one answers /readyz; this tells it (stack/src/app-process.ts). The store and
// the check pool are open by now: buildApp opened them.
process.send?.('listening');
