import { existsSync } from 'node:fs';
import { ConfigError, type Env, integer, read } from '../../app/src/env.ts';
import { checkCertificateFiles } from '../../app/src/tls-files.ts';
import { DIST_SERVER_ENTRY } from './build.ts';
import { controlSocketPath, serveControl } from './control.ts';
import { ensureNginx } from './nginx-install.ts';
import { NginxMissingError } from './nginx-process.ts';
import { tagLine } from './output.ts';
import { DEFAULT_STATE_DIR, type Stack, startStack } from './stack.ts';
import { type TlsOptions, tlsFromEnv } from './tls.ts';

/**
 * `npm start`: the whole service on this machine, nginx in front of APP_INSTANCES app processes,
 * every line of output tagged with the process it came from. The apps run the production build,
 * app/dist, which `npm start` makes first; the launcher itself runs from its sources, as it is no
 * part of the image. Ctrl-C (or SIGTERM) stops it cleanly; `npm run rolling-restart` (or SIGHUP)
 * replaces the app processes one at a time.
 *
 *   PORT           public port on 127.0.0.1 (default 8080)
 *   APP_INSTANCES  app processes (default 3)
 *   DATA_DIR       the store every process shares (default ./data)
 *   RATE_LIMIT     per-client rate of bookmark creation and API calls, nginx syntax (default 10r/s)
 *   READ_RATE_LIMIT  per-client rate of API reads (GET, HEAD under /api/; default 5 × RATE_LIMIT)
 *   STACK_DIR      runtime files: nginx's prefix, control socket (default .stack/)
 *   TLS_CERT_FILE, TLS_KEY_FILE  HTTPS with this certificate (PEM, chain after it) and key; off
 *                  when unset. PORT then redirects to HTTPS_PORT (default 8443). docs/https.md
 *   HSTS_MAX_AGE   with HTTPS, Strict-Transport-Security's max-age in seconds (default 0: none)
 *   ACME_WEBROOT   with HTTPS, served at /.well-known/acme-challenge/ on PORT (default .stack/acme-webroot)
 *   NGINX_BIN      nginx to run (default: from PATH or /usr/sbin; when there is none, root gets
 *                  nginx-light with apt-get unless LINKYARD_NO_INSTALL is set)
 * Anything else (LOG_LEVEL, CHECK_ALLOW_PRIVATE, PUBLIC_URL, …) is passed to the app processes.
 */

const say = (message: string) => process.stdout.write(`${tagLine('stack', message, 5)}\n`);

interface LauncherSettings {
  instances: number;
  port: number;
  stateDir: string;
  dataDir: string | undefined;
  rateLimit: string | undefined;
  readRateLimit: string | undefined;
  tls: TlsOptions | undefined;
}

/** Parsed as the app parses its own settings (app/src/env.ts), so a bad value is refused the same way. */
function launcherSettings(env: Env): LauncherSettings {
  return {
    instances: integer(env, 'APP_INSTANCES', 3, 1, 1000),
    port: integer(env, 'PORT', 8080, 0, 65535),
    stateDir: read(env, 'STACK_DIR') ?? DEFAULT_STATE_DIR,
    dataDir: read(env, 'DATA_DIR'),
    rateLimit: read(env, 'RATE_LIMIT'),
    readRateLimit: read(env, 'READ_RATE_LIMIT'),
    tls: checkedTls(env),
  };
}

/** HTTPS's settings, and its files checked now: a bad one stops `npm start` before any process starts. */
function checkedTls(env: Env): TlsOptions | undefined {
  const tls = tlsFromEnv(env);
  if (tls !== undefined) checkCertificateFiles(tls.certificateFile, tls.keyFile);
  return tls;
}

let settings: LauncherSettings;
try {
  settings = launcherSettings(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`linkyard: bad configuration: ${error.message}`);
  process.exit(78); // EX_CONFIG, as the app exits on a bad setting
}

if (!existsSync(DIST_SERVER_ENTRY)) {
  console.error(`linkyard: ${DIST_SERVER_ENTRY} is missing: \`npm run build\` makes it (\`npm start\` builds, then launches)`);
  process.exit(1);
}

let stack: Stack;
try {
  await ensureNginx(process.env, process.getuid?.(), (source, line) => process.stdout.write(`${tagLine(source, line, 5)}\n`));
  stack = await startStack({ ...settings, serverEntry: DIST_SERVER_ENTRY });
} catch (error) {
  if (error instanceof NginxMissingError) console.error(error.message);
  else if (error instanceof ConfigError) {
    // A certificate that changed between the check above and nginx's start, say.
    console.error(`linkyard: bad configuration: ${error.message}`);
    process.exit(78);
  } else console.error(`linkyard: the stack did not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

const control = await serveControl(controlSocketPath(settings.stateDir), (onProgress) => stack.rollingRestart(onProgress));
say(
  `linkyard is up at ${stack.url}. Ctrl-C stops it; \`npm run rolling-restart\` (or kill -HUP ${process.pid}) restarts the app processes one at a time.`,
);

process.on('SIGHUP', () => {
  stack.rollingRestart().catch(() => {
    // already reported in the output by the stack
  });
});

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // npm forwards the terminal's Ctrl-C, so the launcher may get it twice: one stop is enough.
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping`);
    control.close();
    stack.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`linkyard: stopping failed: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  });
}
