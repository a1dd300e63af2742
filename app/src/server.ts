import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';

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
  await app.close();
  app.log.info('closed');
});

await app.listen({ port: config.port, host: config.host });
