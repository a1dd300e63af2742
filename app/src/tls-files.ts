/**
 * A certificate and its key, checked as nginx will use them, before it starts: by the native
 * launcher (stack/src/tls.ts, TLS_CERT_FILE and TLS_KEY_FILE) and, in compose, by the one-shot
 * `tls-check` service (cli/check-tls.ts) that nginx waits for. Here, in the app, because that
 * service runs the app's image: the only one with Node.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from './env.ts';

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
  } catch {
    // OpenSSL's own words for a key it could not decrypt (no passphrase given) say nothing useful.
    if (/-----BEGIN (ENCRYPTED PRIVATE KEY|[A-Z ]+PRIVATE KEY-----\r?\nProc-Type: 4,ENCRYPTED)/.test(keyPem))
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
