import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { certificateDirectives, certificateVariables } from './certificate-renewal.ts';

/** proxy/: nginx.conf, mime.types and snippets/, shared with the compose setup. */
export const PROXY_DIR = fileURLToPath(new URL('../../proxy/', import.meta.url));

/**
 * How nginx writes its access log: lines gathered and written 4 KiB at a time, or after a second,
 * instead of one write(2) per request, which costs nginx CPU on every redirect. A line reaches the
 * file at most a second late; nginx writes what it holds when it reopens the log (rotation,
 * SIGUSR1) and when it exits. Why and the figures: docs/decisions/0005-access-log-buffering.md
 * 4 KiB is a pipe's atomic write (PIPE_BUF): under compose the log is Docker's pipe, where a larger
 * write from one worker could interleave with another's. proxy/compose/env/http.conf.template says
 * the same (proxy/test/nginx-config.test.ts holds them equal).
 */
export const ACCESS_LOG_BUFFERING = 'buffer=4k flush=1s';

/**
 * Descriptors each nginx worker asks for (worker_rlimit_nofile): proxy/nginx.conf's
 * worker_connections (20 480) and 4 096 for the files it opens. A worker can raise its limit only
 * to the hard limit it inherits, so the launcher asks for less where that is lower (nginx-process.ts).
 */
export const WORKER_FILE_LIMIT = 24_576;

export interface Upstream {
  port: number;
}

/** What differs between one native stack and another: everything proxy/env/ holds. */
export interface NginxSettings {
  /** nginx's runtime folder (`-p`): pid file, temp files and the assembled conf/. */
  prefix: string;
  /** Public address. */
  host: string;
  port: number;
  /** App processes, all on 127.0.0.1. */
  upstreams: readonly Upstream[];
  /** The folder holding static/ (nginx `root`): app/. */
  staticRoot: string;
  /** Per-client rate of POST / and of /api/ requests, in nginx's syntax: `10r/s`, `600r/m`. */
  rateLimit: string;
  /** Per-client rate of GET and HEAD under /api/; default READ_RATE_FACTOR × rateLimit. */
  readRateLimit?: string | undefined;
  /**
   * Access log at <prefix>/access.log, rotated by size (access-log.ts). A file, not /dev/stdout:
   * Node hands a child a socket for stdio, and nginx cannot open() a socket by path. Off for load
   * tests, where logging costs more than the app.
   */
  accessLog: boolean;
  /** HTTPS on `tls.port`; unset, the default: plain HTTP on `port` only, as before. */
  tls?: TlsSettings | undefined;
  /** Strict-Transport-Security max-age (seconds) on HTTPS answers; 0 or unset: no header. */
  hstsMaxAge?: number | undefined;
  /**
   * Without HTTPS: served at /.well-known/acme-challenge/ on the plain port, so certbot --webroot
   * can get the first certificate before HTTPS is on (with HTTPS, TlsSettings.acmeWebroot).
   */
  acmeWebroot?: string | undefined;
  /** worker_rlimit_nofile; default WORKER_FILE_LIMIT. */
  workerFileLimit?: number | undefined;
}

/** HTTPS, rendered only when set: the public port then redirects, and apps and probes use a plain port of their own. */
export interface TlsSettings {
  /** The HTTPS port on `host`. */
  port: number;
  /**
   * A plain listener on `host` for traffic inside the deployment (the stack's readiness probe, the
   * apps' SELF_URL): the same server as HTTPS, not redirected. The public `port` redirects.
   */
  internalPort: number;
  certificateFile: string;
  keyFile: string;
  /** Served at /.well-known/acme-challenge/ on the public plain port (certbot --webroot). */
  acmeWebroot: string;
  /** nginx ≥ 1.25.1: `http2 on;` (older ones only know `listen … ssl http2`). */
  http2Directive: boolean;
  /** nginx ≥ 1.27.4: ssl_certificate_cache keeps the per-handshake certificate parsed (certificate-renewal.ts). */
  certificateCache?: boolean | undefined;
}

export type EnvFiles = Readonly<Record<'main.conf' | 'http.conf' | 'upstream.conf' | 'server.conf', string>>;

/**
 * The https/ folder next to nginx.conf, present only with HTTPS on: the TLS listener and its
 * certificate (server.conf, inside the server) and the public plain port's server that redirects
 * (redirect.conf, at http level). nginx.conf includes them by pattern, so without it nothing is read.
 */
export type HttpsFiles = Readonly<Record<'server.conf' | 'redirect.conf', string>>;

const RATE = /^[1-9]\d*r\/[sm]$/;

/** Reads of the API (GET, HEAD) are allowed this many times the write rate unless set apart. */
export const READ_RATE_FACTOR = 5;

/** The read zone's rate: as set, or READ_RATE_FACTOR × the write rate (so a load test raising one raises both). */
export function readRateLimit(settings: Pick<NginxSettings, 'rateLimit' | 'readRateLimit'>): string {
  if (settings.readRateLimit !== undefined) return settings.readRateLimit;
  const [, count = '1', unit = 's'] = /^(\d+)r\/([sm])$/.exec(settings.rateLimit) ?? [];
  return `${Number(count) * READ_RATE_FACTOR}r/${unit}`;
}

const HEADER = '# Rendered by stack/src/nginx-config.ts for the native stack; edits are overwritten.\n';

/** The env/ files proxy/nginx.conf includes, for one native stack. */
export function renderEnvFiles(settings: NginxSettings): EnvFiles {
  if (!RATE.test(settings.rateLimit)) {
    throw new Error(`rate limit '${settings.rateLimit}' is not in nginx's form, e.g. 10r/s or 600r/m`);
  }
  if (settings.readRateLimit !== undefined && !RATE.test(settings.readRateLimit)) {
    throw new Error(`read rate limit '${settings.readRateLimit}' is not in nginx's form, e.g. 50r/s or 3000r/m`);
  }
  if (settings.upstreams.length === 0) throw new Error('nginx needs at least one app process');
  const hstsMaxAge = settings.hstsMaxAge ?? 0;
  if (!Number.isInteger(hstsMaxAge) || hstsMaxAge < 0)
    throw new Error(`HSTS max-age must be a whole number of seconds ≥ 0, got ${hstsMaxAge}`);
  const path = (name: string) => quote(join(settings.prefix, name));
  const tls = settings.tls;
  return {
    'main.conf': `${HEADER}pid ${path('nginx.pid')};
error_log stderr warn;
worker_rlimit_nofile ${settings.workerFileLimit ?? WORKER_FILE_LIMIT};
`,
    'http.conf': `${HEADER}client_body_temp_path ${path('temp/client_body')};
proxy_temp_path ${path('temp/proxy')};
fastcgi_temp_path ${path('temp/fastcgi')};
uwsgi_temp_path ${path('temp/uwsgi')};
scgi_temp_path ${path('temp/scgi')};

access_log ${settings.accessLog ? `${path('access.log')} linkyard_json ${ACCESS_LOG_BUFFERING}` : 'off'};

limit_req_zone $linkyard_form_client zone=linkyard_form:10m rate=${settings.rateLimit};
limit_req_zone $linkyard_api_write_client zone=linkyard_api:10m rate=${settings.rateLimit};
limit_req_zone $linkyard_api_read_client zone=linkyard_api_read:10m rate=${readRateLimit(settings)};

# Strict-Transport-Security's max-age on HTTPS answers, 0: none (snippets/security-headers.conf).
map $https $linkyard_hsts_max_age {
  default ${hstsMaxAge};
}
`,
    'upstream.conf': HEADER + settings.upstreams.map(({ port }) => `server 127.0.0.1:${port} max_fails=2 fail_timeout=3s;\n`).join(''),
    // Plain HTTP: the public port, or with HTTPS on the internal one (probes, the apps' SELF_URL).
    'server.conf': `${HEADER}listen ${settings.host}:${tls?.internalPort ?? settings.port} default_server;
root ${quote(settings.staticRoot)};
${tls === undefined && settings.acmeWebroot !== undefined ? acmeChallenges(settings.acmeWebroot) : ''}`,
  };
}

/**
 * The plain server without HTTPS, given an ACME webroot: HTTP-01 challenges served as files from it
 * (as snippets/https-redirect.conf does with HTTPS on), for certbot's first certificate.
 */
function acmeChallenges(webroot: string): string {
  return `location ^~ /.well-known/acme-challenge/ {
  root ${quote(webroot)};
  default_type text/plain;
  try_files $uri =404;
}
`;
}

/** https/ for one native stack with HTTPS on. */
export function renderHttpsFiles(settings: NginxSettings, tls: TlsSettings): HttpsFiles {
  return {
    'server.conf': `${HEADER}${tlsListen(settings.host, tls)}
${certificateDirectives(tls.certificateCache ?? false)}include snippets/tls.conf;
`,
    // http level: the variables server.conf names its certificate by (certificate-renewal.ts).
    'redirect.conf': `${HEADER}${certificateVariables(quote(tls.certificateFile), quote(tls.keyFile))}server {
  listen ${settings.host}:${settings.port} default_server;
  root ${quote(tls.acmeWebroot)};
  set $linkyard_https_port "${tls.port === 443 ? '' : `:${tls.port}`}";
  include snippets/https-redirect.conf;
}
`,
  };
}

/** nginx 1.25.1 moved HTTP/2 from a listen parameter to a directive; each side warns or fails on the other's. */
function tlsListen(host: string, tls: TlsSettings): string {
  return tls.http2Directive
    ? `listen ${host}:${tls.port} ssl default_server;\nhttp2 on;`
    : `listen ${host}:${tls.port} ssl http2 default_server;`;
}

/**
 * Assembles `<prefix>/conf/`: a fresh copy of proxy/ (so what runs is what `nginx -t` checked)
 * plus the rendered env/. Returns the nginx.conf path.
 */
export function writeNginxConfig(settings: NginxSettings): string {
  const confDir = join(settings.prefix, 'conf');
  mkdirSync(join(confDir, 'env'), { recursive: true });
  mkdirSync(join(settings.prefix, 'temp'), { recursive: true });
  for (const entry of ['nginx.conf', 'mime.types', 'snippets']) {
    cpSync(join(PROXY_DIR, entry), join(confDir, entry), { recursive: true, force: true });
  }
  for (const [name, text] of Object.entries(renderEnvFiles(settings))) {
    writeFileSync(join(confDir, 'env', name), text);
  }
  // Fresh each time: a check of other settings on the same prefix (nginx -t) must not keep HTTPS.
  rmSync(join(confDir, 'https'), { recursive: true, force: true });
  if (settings.tls !== undefined) {
    mkdirSync(join(confDir, 'https'));
    for (const [name, text] of Object.entries(renderHttpsFiles(settings, settings.tls))) {
      writeFileSync(join(confDir, 'https', name), text);
    }
  }
  return join(confDir, 'nginx.conf');
}

/** nginx reads an unquoted path up to the first space or `;`. */
function quote(path: string): string {
  if (/["\\$]/.test(path)) throw new Error(`nginx paths may not contain quotes, backslashes or $: ${path}`);
  return `"${path}"`;
}
