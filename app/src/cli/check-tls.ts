/**
 * `node app/dist/cli/check-tls.js <certificate file> <key file>`: the certificate and key nginx is
 * about to serve, checked before it starts (app/src/tls-files.ts): one line and exit code 78 when
 * a file is missing or unreadable, holds no PEM, the certificate has expired or is not valid yet,
 * or the key is not its own. docker-compose.tls.yml runs it as the `tls-check` service, which
 * nginx waits for; natively `npm start` runs the same check itself.
 */
import { ConfigError } from '../config.ts';
import { checkCertificateFiles } from '../tls-files.ts';

const [certificateFile, keyFile, ...rest] = process.argv.slice(2);
if (certificateFile === undefined || keyFile === undefined || rest.length > 0) {
  process.stderr.write('Usage: check-tls <certificate file> <key file>\n');
  process.exit(2);
}
// Named as the operator set them: compose's variables for the two secrets' files.
const names = { certificate: 'LINKYARD_TLS_CERT_FILE (secret tls_certificate)', key: 'LINKYARD_TLS_KEY_FILE (secret tls_key)' };
try {
  const certificate = checkCertificateFiles(certificateFile, keyFile, new Date(), names);
  process.stdout.write(
    `certificate ${certificate.subject.replace(/\n/g, ', ')}, valid until ${certificate.validToDate.toISOString()}, and its key: ok\n`,
  );
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`linkyard: bad configuration: ${error.message}\n`);
  process.exit(78);
}
