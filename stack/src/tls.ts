import { execFile } from 'node:child_process';
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
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
 * files themselves are checked by checkCertificateFiles().
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

/**
 * What nginx would refuse (or, for an expired certificate, serve and every client refuse), found
 * before anything starts and said in one line that names the file: a missing or unreadable file,
 * no PEM certificate or key in it, an encrypted key (nginx would ask for its passphrase on a
 * terminal), a certificate outside its validity dates, a key that is not the certificate's.
 * Throws a ConfigError naming the variable (the launcher exits 78 with it).
 */
export function checkCertificateFiles(
  certificateFile: string,
  keyFile: string,
  now: Date = new Date(),
  names: { certificate: string; key: string } = { certificate: 'TLS_CERT_FILE', key: 'TLS_KEY_FILE' },
): X509Certificate {
  const certificatePem = readPem(names.certificate, certificateFile);
  const keyPem = readPem(names.key, keyFile);
  let certificate: X509Certificate;
  try {
    // The first PEM block: the site's own certificate (a chain follows it).
    certificate = new X509Certificate(certificatePem);
  } catch {
    throw new ConfigError(names.certificate, `${certificateFile} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MISSING_PASSPHRASE' || /passphrase/i.test(String(error)))
      throw new ConfigError(
        names.key,
        `${keyFile} is encrypted with a passphrase, which nginx cannot be given here: decrypt it (openssl pkey -in it -out plain.key)`,
      );
    throw new ConfigError(names.key, `${keyFile} holds no PEM private key ("-----BEGIN PRIVATE KEY-----")`);
  }
  const subject = certificate.subject.replace(/\n/g, ', ');
  if (certificate.validFromDate > now)
    throw new ConfigError(
      names.certificate,
      `${certificateFile} (${subject}) is not valid yet: from ${certificate.validFromDate.toISOString()}`,
    );
  if (certificate.validToDate < now)
    throw new ConfigError(names.certificate, `${certificateFile} (${subject}) expired on ${certificate.validToDate.toISOString()}`);
  if (!certificate.checkPrivateKey(key))
    throw new ConfigError(names.key, `${keyFile} is not the private key of the certificate in ${certificateFile} (${subject})`);
  return certificate;
}

function readPem(variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    const problem =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EACCES'
          ? 'cannot be read by this user (permission denied)'
          : code === 'EISDIR'
            ? 'is a folder, not a file'
            : `cannot be read (${code ?? String(error)})`;
    throw new ConfigError(variable, `${path} ${problem}`);
  }
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
 * The oldest nginx the TLS configuration is meant for: Debian 11's and Ubuntu 22.04's 1.18 (TLS 1.3
 * needs 1.13; the stack is tried on Debian 12's 1.22 and the compose image's 1.29). Older ones
 * are refused at start rather than tried.
 */
export const MIN_TLS_NGINX: readonly [number, number, number] = [1, 18, 0];
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
