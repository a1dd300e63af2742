/**
 * A certificate authority made by a test, trusted by nothing but that test: `openssl` (the CLI every
 * machine here has) makes an ECDSA P-256 CA and issues leaf certificates for loopback from it.
 * The repository's one test CA: the tests', the bench's and loadtest's (its check site, its HTTPS
 * stacks), scripts/testssl.ts's.
 * `openssl ca` rather than `x509 -req`, because only it takes start and end dates (expired and
 * not-yet-valid certificates for the start-up checks).
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Owner, tempDir } from './index.ts';

export interface IssuedCertificate {
  /** The leaf, then the CA: a full chain, as certbot's fullchain.pem. */
  certificateFile: string;
  /** The leaf alone. */
  leafFile: string;
  keyFile: string;
}

export interface TestCa {
  dir: string;
  /** The CA's certificate (PEM): what a client passes as --cacert / `ca`. */
  caCertFile: string;
  caCertPem: string;
  /**
   * A leaf for 127.0.0.1, ::1 and localhost, valid from an hour ago for a day, issued by the CA;
   * `certificateFile` holds the leaf, then the CA (a full chain, as certbot's fullchain.pem).
   */
  issue(name: string, validity?: { from: Date; to: Date }): IssuedCertificate;
}

/** SHA-256 of a certificate's public key (SPKI), base64: Chromium's --ignore-certificate-errors-spki-list. */
export function spkiHash(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

const HOUR_MS = 3_600_000;

/**
 * Where the leaves say their CA's revocation list is, as a public CA's do (Let's Encrypt's since
 * 2025, in place of OCSP): testssl.sh rates a leaf naming neither HIGH. A loopback URL nothing
 * serves: no client here fetches CRLs (Chromium uses its CRLSets), and no test revokes.
 */
export const CRL_URL = 'http://127.0.0.1/linkyard-test-ca.crl';

/** openssl ca's date form: YYYYMMDDHHMMSSZ. */
function asn1Time(date: Date): string {
  return `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

export function makeTestCa(owner: Owner): TestCa {
  const dir = tempDir(owner, 'linkyard-test-ca-');
  // nginx's workers read a site's files at each handshake (stack/src/certificate-renewal.ts), and
  // started by root they run as nobody: the folder and the leaves' keys are theirs to read (the
  // CA's key stays 0600). Throwaway keys in a temporary folder.
  chmodSync(dir, 0o755);
  const openssl = (...args: string[]) => {
    try {
      return execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      const detail = error !== null && typeof error === 'object' && 'stderr' in error ? String(error.stderr) : String(error);
      throw new Error(`making a test CA with openssl failed (is openssl installed?): openssl ${args[0]}: ${detail}`);
    }
  };
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ecKey,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=linkyard test CA (trusted by this test only)',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  writeFileSync(join(dir, 'index.txt'), '');
  // Random 64-bit serials, as CAs must issue (CA/Browser Forum baseline requirements; testssl.sh checks).
  writeFileSync(join(dir, 'serial'), `${randomBytes(8).toString('hex').replace(/^./, '1')}\n`);
  writeFileSync(
    join(dir, 'ca.cnf'),
    `[ca]
default_ca = test
[test]
dir = ${dir}
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,IP:::1,DNS:localhost
crlDistributionPoints = URI:${CRL_URL}
`,
  );
  const caCertFile = join(dir, 'ca.crt');
  const caCertPem = readFileSync(caCertFile, 'utf8');

  return {
    dir,
    caCertFile,
    caCertPem,
    issue(name, validity) {
      const from = validity?.from ?? new Date(Date.now() - HOUR_MS);
      const to = validity?.to ?? new Date(Date.now() + 24 * HOUR_MS);
      const keyFile = join(dir, `${name}.key`);
      const leafFile = join(dir, `${name}.leaf.crt`);
      openssl('req', '-new', ...ecKey, '-keyout', keyFile, '-out', `${name}.csr`, '-subj', '/CN=127.0.0.1');
      openssl(
        'ca',
        '-batch',
        '-notext',
        '-config',
        'ca.cnf',
        '-cert',
        'ca.crt',
        '-keyfile',
        'ca.key',
        '-extensions',
        'leaf',
        '-startdate',
        asn1Time(from),
        '-enddate',
        asn1Time(to),
        '-in',
        `${name}.csr`,
        '-out',
        leafFile,
      );
      const certificateFile = join(dir, `${name}.crt`);
      writeFileSync(certificateFile, readFileSync(leafFile, 'utf8') + caCertPem);
      chmodSync(keyFile, 0o644);
      return { certificateFile, leafFile, keyFile };
    },
  };
}
