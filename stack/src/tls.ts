import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, type Env, integer, read } from '../../app/src/env.ts';

const run = promisify(execFile);

/** HTTPS for the native stack, as `npm start` reads it from the environment (docs/https.md). */
export interface TlsOptions {
  /** PEM certificate, the site's first, then its chain (certbot's fullchain.pem). */
  certificateFile: string;
  /** Its unencrypted PEM private key. */
  keyFile: string;
  /** HTTPS port on 127.0.0.1. Default 8443; 0 picks a free one. */
  port?: number;
  /** Strict-Transport-Security max-age in seconds on HTTPS answers; 0 (the default) sends none. */
  hstsMaxAge?: number;
  /** Served at /.well-known/acme-challenge/ on the plain port. Default <stateDir>/acme-webroot. */
  acmeWebroot?: string | undefined;
}

/** Two years: the longest max-age the HSTS preload list asks for; a longer one is likely a typo. */
export const HSTS_MAX_AGE_LIMIT = 63_072_000;

/**
 * TLS_CERT_FILE and TLS_KEY_FILE (both, or neither: TLS off, the default), HTTPS_PORT,
 * HSTS_MAX_AGE and ACME_WEBROOT, parsed as the app parses its own settings (app/src/env.ts). The
 * files themselves are checked by checkCertificateFiles() (app/src/tls-files.ts).
 */
export function tlsFromEnv(env: Env): TlsOptions | undefined {
  const certificateFile = read(env, 'TLS_CERT_FILE');
  const keyFile = read(env, 'TLS_KEY_FILE');
  const port = integer(env, 'HTTPS_PORT', 8443, 0, 65535);
  const hstsMaxAge = integer(env, 'HSTS_MAX_AGE', 0, 0, HSTS_MAX_AGE_LIMIT);
  const acmeWebroot = read(env, 'ACME_WEBROOT');
  if (certificateFile === undefined && keyFile === undefined) {
    // ACME_WEBROOT alone serves certbot's challenges on plain HTTP: the way to the first certificate.
    for (const name of ['HTTPS_PORT', 'HSTS_MAX_AGE']) {
      if (read(env, name) !== undefined)
        throw new ConfigError(name, 'only means something with HTTPS on: set TLS_CERT_FILE and TLS_KEY_FILE too');
    }
    return undefined;
  }
  if (certificateFile === undefined) throw new ConfigError('TLS_CERT_FILE', 'TLS_KEY_FILE is set, so HTTPS needs the certificate file too');
  if (keyFile === undefined) throw new ConfigError('TLS_KEY_FILE', 'TLS_CERT_FILE is set, so HTTPS needs its private key file too');
  return {
    certificateFile: resolve(certificateFile),
    keyFile: resolve(keyFile),
    port,
    hstsMaxAge,
    acmeWebroot: acmeWebroot && resolve(acmeWebroot),
  };
}

/** What `nginx -V` says of a binary: its version and whether it was built with TLS and HTTP/2. */
export interface NginxBuild {
  version: readonly [number, number, number];
  ssl: boolean;
  http2: boolean;
}

export async function nginxBuild(bin: string): Promise<NginxBuild> {
  // nginx prints -V to stderr.
  const { stdout, stderr } = await run(bin, ['-V']);
  const text = `${stdout}${stderr}`;
  const match = /nginx\/(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (match === null) throw new Error(`${bin} -V did not say its version: ${text.trim().split('\n')[0]}`);
  return {
    version: [Number(match[1]), Number(match[2]), Number(match[3])],
    ssl: text.includes('--with-http_ssl_module'),
    http2: text.includes('--with-http_v2_module'),
  };
}

/**
 * The oldest nginx the TLS configuration is meant for: 1.19.4, the first with `ssl_conf_command`
 * (snippets/tls.conf's PrioritizeChaCha), so not Debian 11's or Ubuntu 22.04's 1.18. The stack is
 * tried on Debian 12's 1.22 and the compose image's 1.29. Older ones are refused at start rather than tried.
 */
export const MIN_TLS_NGINX: readonly [number, number, number] = [1, 19, 4];
/** From here `http2 on;` is the directive, and `listen … http2` draws a warning at every start. */
export const HTTP2_DIRECTIVE_NGINX: readonly [number, number, number] = [1, 25, 1];

export function atLeast(version: readonly number[], minimum: readonly number[]): boolean {
  for (let i = 0; i < minimum.length; i++) {
    const have = version[i] ?? 0;
    const need = minimum[i] ?? 0;
    if (have !== need) return have > need;
  }
  return true;
}

/** Throws, saying what is missing, when this nginx cannot serve the TLS configuration. */
export function requireTlsSupport(bin: string, build: NginxBuild): void {
  const version = build.version.join('.');
  if (!atLeast(build.version, MIN_TLS_NGINX))
    throw new Error(
      `HTTPS needs nginx ≥ ${MIN_TLS_NGINX.join('.')}, and ${bin} is ${version}: install a newer one or point NGINX_BIN at it`,
    );
  if (!build.ssl)
    throw new Error(`HTTPS needs nginx built with its SSL module, and ${bin} (${version}) was not (nginx -V lacks --with-http_ssl_module)`);
  if (!build.http2)
    throw new Error(`HTTPS is served with HTTP/2, and ${bin} (${version}) was built without it (nginx -V lacks --with-http_v2_module)`);
}
