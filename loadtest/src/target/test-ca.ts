import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** A CA made for one run, and a certificate it signed for 127.0.0.1 and localhost. */
export interface TestCa {
  /** The CA's certificate, PEM: what CHECK_EXTRA_CA_FILE points at. */
  caFile: string;
  caPem: string;
  /** The site's certificate and key, PEM. */
  cert: string;
  key: string;
  /** Removes the files (the key of the CA included). */
  remove(): void;
}

/**
 * Makes a throwaway CA with openssl (Node can verify certificates but not sign them) and signs a
 * server certificate for loopback. Nothing is installed anywhere: only a process pointed at
 * `caFile` trusts it, and the CA's key is deleted with the folder. P-256 keys, as most sites use.
 */
export async function makeTestCa(): Promise<TestCa> {
  const dir = mkdtempSync(join(tmpdir(), 'linkyard-ca-'));
  const path = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => promisify(execFile)('openssl', args, { cwd: dir });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    await openssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      path('ca.key'),
      '-out',
      path('ca.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=linkyard throwaway test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
    await openssl('req', ...ec, '-keyout', path('site.key'), '-out', path('site.csr'), '-subj', '/CN=127.0.0.1');
    writeFileSync(path('site.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
    await openssl(
      'x509',
      '-req',
      '-in',
      path('site.csr'),
      '-CA',
      path('ca.pem'),
      '-CAkey',
      path('ca.key'),
      '-CAcreateserial',
      '-out',
      path('site.pem'),
      '-days',
      '2',
      '-extfile',
      path('site.ext'),
    );
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const detail = error !== null && typeof error === 'object' && 'stderr' in error ? String(error.stderr) : String(error);
    throw new Error(`making a test CA with openssl failed (is openssl installed?): ${detail}`);
  }
  return {
    caFile: path('ca.pem'),
    caPem: readFileSync(path('ca.pem'), 'utf8'),
    cert: readFileSync(path('site.pem'), 'utf8'),
    key: readFileSync(path('site.key'), 'utf8'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
