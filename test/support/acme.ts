/**
 * ACME for tests, natively: Debian's `pebble` (the ACME test server, RFC 8555) and `certbot`, both
 * on loopback. Pebble validates HTTP-01 for real: its VA fetches
 * http://localhost:<httpPort>/.well-known/acme-challenge/<token>, so httpPort is the stack's plain
 * port. Pebble's own HTTPS listener has a certificate from the test's CA (certbot trusts it through
 * REQUESTS_CA_BUNDLE); what pebble issues chains to a root it makes at start, read from its
 * management API (/roots/0), trusted by the test only.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { freePorts } from '../../stack/src/ports.ts';
import { waitFor } from '../../stack/src/wait.ts';
import { type Owner, tempDir } from './index.ts';
import { makeTestCa } from './tls.ts';

export interface Pebble {
  /** The ACME directory: certbot's --server. */
  directoryUrl: string;
  /** The CA file that makes pebble's own listener trusted (certbot's REQUESTS_CA_BUNDLE). */
  listenerCaFile: string;
  /** PEM of the root that pebble's certificates chain to (fullchain.pem holds the intermediate). */
  issuingRoot(): Promise<string>;
  /** Lines pebble printed: what a failed validation says. */
  output(): string;
}

/** A request over HTTPS to 127.0.0.1:`port` for `servername`, trusting `ca` only: the status and the body. */
export function httpsRequest(
  port: number,
  path: string,
  ca: string,
  options: { servername?: string; method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  const { servername = 'localhost', method = 'GET', headers = {}, body } = options;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method, headers: { host: servername, ...headers }, servername, ca, agent: false, timeout: 15_000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from 127.0.0.1:${port}${path} in 15 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** GET over HTTPS (httpsRequest). */
export function httpsGet(port: number, path: string, ca: string, servername = 'localhost'): Promise<{ status: number; body: string }> {
  return httpsRequest(port, path, ca, { servername });
}

/** The serial of the certificate a new TLS handshake with 127.0.0.1:`port` is served, verified against `ca` for `servername`. */
export function servedSerial(port: number, ca: string, servername = 'localhost'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, ca }, () => {
      const serial = socket.getPeerX509Certificate()?.serialNumber;
      socket.end();
      if (serial === undefined) reject(new Error('no certificate'));
      else resolve(serial);
    });
    socket.once('error', reject);
  });
}

/**
 * Pebble on loopback, validating HTTP-01 on `httpPort` (the stack's public plain port), stopped
 * when `owner` is done. No artificial validation delays, no rejected nonces and no reused
 * authorizations: every order is validated again, through nginx, at full speed.
 */
export async function startPebble(owner: Owner, httpPort: number): Promise<Pebble> {
  const dir = tempDir(owner, 'linkyard-pebble-');
  const ca = makeTestCa(owner);
  const listener = ca.issue('pebble');
  const [acmePort = 0, managementPort = 0, tlsPort = 0] = await freePorts(3);
  const config = join(dir, 'pebble-config.json');
  writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: listener.certificateFile,
        privateKey: listener.keyFile,
        httpPort,
        // TLS-ALPN-01's port: unused (certbot validates by HTTP-01), but pebble wants one.
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  let output = '';
  const child: ChildProcess = spawn('pebble', ['-config', config], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer) => {
    output += chunk.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  owner.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  });
  await waitFor(
    'pebble to answer',
    async () => {
      if (child.exitCode !== null) throw new Error(`pebble exited: ${output}`);
      const answer = await httpsGet(acmePort, '/dir', ca.caCertPem, '127.0.0.1').catch(() => undefined);
      return answer?.status === 200;
    },
    { timeoutMs: 15_000 },
  );
  return {
    directoryUrl: `https://127.0.0.1:${acmePort}/dir`,
    listenerCaFile: ca.caCertFile,
    async issuingRoot() {
      const root = await httpsGet(managementPort, '/roots/0', ca.caCertPem, '127.0.0.1');
      if (root.status !== 200) throw new Error(`pebble's /roots/0 answered ${root.status}`);
      return root.body;
    },
    output: () => output,
  };
}

export interface Certbot {
  /** certbot's --config-dir: live/<name>/fullchain.pem and privkey.pem are here. */
  configDir: string;
  /** Runs certbot with these arguments against pebble; rejects with its output when it fails. */
  run(...args: string[]): Promise<string>;
}

/**
 * certbot (Debian's) with folders of its own, as a user without root would run it (--config-dir,
 * --work-dir, --logs-dir), talking to `pebble`: no account e-mail, terms agreed, never interactive.
 */
export function certbotFor(owner: Owner, pebble: Pebble): Certbot {
  const dir = tempDir(owner, 'linkyard-certbot-');
  // As /etc/letsencrypt: others may enter (live/ and archive/ inside are certbot's to guard).
  chmodSync(dir, 0o755);
  const configDir = join(dir, 'config');
  const common = [
    '--non-interactive',
    '--config-dir',
    configDir,
    '--work-dir',
    join(dir, 'work'),
    '--logs-dir',
    join(dir, 'logs'),
    '--server',
    pebble.directoryUrl,
  ];
  return {
    configDir,
    run: (...args) =>
      new Promise((resolve, reject) => {
        execFile(
          'certbot',
          [...args, ...common],
          { env: { ...process.env, REQUESTS_CA_BUNDLE: pebble.listenerCaFile }, timeout: 120_000 },
          (error, stdout, stderr) => {
            if (error === null) resolve(stdout + stderr);
            else reject(new Error(`certbot ${args.join(' ')} failed:\n${stdout}${stderr}\npebble said:\n${pebble.output().slice(-3000)}`));
          },
        );
      }),
  };
}
