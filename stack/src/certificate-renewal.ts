import { connect } from 'node:tls';

/**
 * How the native stack takes up a renewed certificate without a reload (docs/decisions/0027-certificate-renewal-without-reload.md).
 *
 * nginx names the certificate files through variables, so it reads them at each full TLS handshake
 * (nginx ≥ 1.15.9) instead of once at start: when certbot renews and repoints
 * live/<name>/fullchain.pem and privkey.pem, the next handshake serves the new certificate, and no
 * connection is closed. A reload (SIGHUP) would close every idle keep-alive connection, and a
 * client that does not resend loses the request it was sending on it (npm run loadtest --
 * renewal-resets: 3 reloads cost 20 requests under wrk -c16, taking up renewed files none). Resumed sessions skip the read (the certificate is not sent).
 * From nginx 1.27.4, `ssl_certificate_cache` keeps the files parsed and checks them again after
 * `valid`, so the read happens once a minute instead of once a handshake.
 */

/** The first nginx with ssl_certificate_cache (the compose image's 1.29 has it; Debian 12's 1.22 not). */
export const CERTIFICATE_CACHE_NGINX: readonly [number, number, number] = [1, 27, 4];

/**
 * How long a parsed certificate is served from the cache before nginx looks at its files again
 * (the files' identity and modification time): a renewal reaches clients within this.
 */
export const CERTIFICATE_CACHE_VALID = '60s';

/** http level: the variables the TLS server's ssl_certificate and ssl_certificate_key name (paths quoted for nginx). */
export function certificateVariables(quotedCertificateFile: string, quotedKeyFile: string): string {
  // A map with only a default: a constant, but a variable to nginx, which is what makes it read
  // the file per handshake. A map, not `set`: `set` runs per request, after the handshake.
  return `map "" $linkyard_tls_certificate {
  default ${quotedCertificateFile};
}
map "" $linkyard_tls_certificate_key {
  default ${quotedKeyFile};
}
`;
}

/** Server level, with the variables above: the certificate read per handshake, or through the cache. */
export function certificateDirectives(cache: boolean): string {
  return `ssl_certificate $linkyard_tls_certificate;
ssl_certificate_key $linkyard_tls_certificate_key;
${cache ? `ssl_certificate_cache max=16 valid=${CERTIFICATE_CACHE_VALID};\n` : ''}`;
}

/**
 * One TLS handshake with the HTTPS port, as the last step of the start: nginx reads the files in
 * its workers, at the first handshake, not at start, so `nginx -t` and start-up succeed with files
 * a worker cannot read (workers run as `nobody` when nginx is started by root, and certbot's
 * privkey.pem is root's, mode 0600). Found here, it is one line instead of every client refused.
 */
export function checkHandshake(host: string, port: number, certificateFile: string, keyFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, servername: 'localhost', rejectUnauthorized: false, timeout: 10_000 });
    const refuse = (reason: string) => {
      socket.destroy();
      reject(
        new Error(
          `nginx's workers could not serve the certificate (${reason}): they read ${certificateFile} and ${keyFile} at each handshake, ` +
            `so the user they run as (nobody when nginx is started by root) must be able to read both (docs/https.md#acme)`,
        ),
      );
    };
    socket.once('secureConnect', () => {
      socket.end();
      resolve();
    });
    socket.once('timeout', () => refuse('no handshake within 10 s'));
    // OpenSSL's own words, without its source file and line: "tlsv1 alert internal error".
    socket.once('error', (error) => refuse(/:([^:]*alert[^:]*):/.exec(error.message)?.[1] ?? error.message));
  });
}
