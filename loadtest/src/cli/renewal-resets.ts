import { execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:tls';
import { parseArgs, promisify } from 'node:util';
import { findNginx } from '../../../stack/src/nginx-process.ts';
import { freePorts } from '../../../stack/src/ports.ts';
import { startStack } from '../../../stack/src/stack.ts';
import { waitFor } from '../../../stack/src/wait.ts';
import { SuiteCleanups } from '../../../test/support/index.ts';
import { type IssuedCertificate, makeTestCa } from '../../../test/support/tls.ts';
import { type WrkResult, wrk } from '../bench/load/wrk.ts';
import { observeClientResets } from '../observers/client-resets.ts';
import { Progress } from '../progress.ts';
import { positive, UsageError } from './arguments.ts';

const run = promisify(execFile);

/**
 * `npm run loadtest -- renewal-resets`: what taking up a new certificate costs (docs/decisions/0027).
 *
 * 1. reload: the native stack over HTTPS under wrk -c16 (GET /<name> → 303, keep-alive, no resend)
 *    while nginx is reloaded (SIGHUP) `rounds` times: the resets a reload costs.
 * 2. renewal without reload: the same load while the certificate's files are replaced `rounds`
 *    times as certbot does (live/ symlinks repointed to new files in archive/); each time a new
 *    handshake must be served the new certificate.
 * 3. what a read per handshake costs: one nginx worker serving `return 200` over TLS, certificate
 *    named by a fixed path (read once at start) or by variables (read at each handshake), new
 *    connections a second under wrk -c16 with `Connection: close`: full handshakes (session cache
 *    off) and resumed ones (session cache on), in alternating slices.
 *
 * With --nginx-image (e.g. nginx:1.29-alpine, compose's), only 3., with that image's nginx in a
 * container on the host's network, and a third server: per handshake through ssl_certificate_cache.
 *
 *   npm run loadtest -- renewal-resets [--rounds N] [--slices N] [--nginx-image IMAGE] [--quiet]
 */
const USAGE = 'npm run loadtest -- renewal-resets [--rounds N (3)] [--slices N (3)] [--nginx-image IMAGE] [--quiet]';

const CONNECTIONS = 16;
const WARM_UP_MS = 2000;
const BETWEEN_EVENTS_MS = 2000;
const SLICE_SECONDS = 4;

interface ResetsLeg {
  load: WrkResult;
  failed: number;
}

/** live/ as certbot keeps it: symlinks to the current files in archive/, repointed at renewal. */
class CertbotLikeLineage {
  readonly live: string;
  readonly #archive: string;
  #version = 0;

  constructor(dir: string) {
    this.live = join(dir, 'live');
    this.#archive = join(dir, 'archive');
    mkdirSync(this.live, { recursive: true });
    mkdirSync(this.#archive, { recursive: true });
  }

  get certificateFile(): string {
    return join(this.live, 'fullchain.pem');
  }

  get keyFile(): string {
    return join(this.live, 'privkey.pem');
  }

  /** New files in archive/, then the links repointed one by one, key first, as certbot does (unlink, symlink). */
  install(issued: IssuedCertificate): void {
    this.#version++;
    const fullchain = join(this.#archive, `fullchain${this.#version}.pem`);
    const privkey = join(this.#archive, `privkey${this.#version}.pem`);
    writeFileSync(fullchain, readFileSync(issued.certificateFile));
    writeFileSync(privkey, readFileSync(issued.keyFile), { mode: 0o644 });
    for (const [link, target] of [
      [this.keyFile, privkey],
      [this.certificateFile, fullchain],
    ] as const) {
      try {
        unlinkSync(link);
      } catch {
        // the first time there is none
      }
      symlinkSync(target, link);
    }
  }
}

/** The serial a new handshake is served. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const serial = socket.getPeerX509Certificate()?.serialNumber ?? '';
      socket.end();
      resolve(serial);
    });
    socket.once('error', reject);
  });
}

async function measureResets(rounds: number, progress: Progress): Promise<{ reload: ResetsLeg; renewal: ResetsLeg }> {
  const fixtures = new SuiteCleanups();
  const dir = mkdirTemp('linkyard-renewal-resets-');
  try {
    const ca = makeTestCa(fixtures);
    const lineage = new CertbotLikeLineage(join(dir, 'letsencrypt'));
    lineage.install(ca.issue('site-0'));
    const renewals = Array.from({ length: rounds }, (_, round) => ca.issue(`site-${round + 1}`));
    const stateDir = join(dir, 'state');
    const stack = await startStack({
      instances: 2,
      port: 0,
      dataDir: join(dir, 'data'),
      stateDir,
      rateLimit: '100000r/s',
      accessLog: false,
      quiet: true,
      env: { LOG_LEVEL: 'warn' },
      tls: { certificateFile: lineage.certificateFile, keyFile: lineage.keyFile, port: 0 },
    });
    try {
      const created = await fetch(`${stack.internalUrl}/api/bookmarks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ uri: `${stack.url}/?steady`, name: 'steady' }),
      });
      if (created.status !== 201) throw new Error(`could not create the bookmark the GETs ask for: ${created.status}`);
      const httpsPort = Number(new URL(stack.url).port);
      const options = {
        url: stack.url,
        connections: CONNECTIONS,
        durationSeconds: Math.ceil((WARM_UP_MS + rounds * BETWEEN_EVENTS_MS * 2 + 4000) / 1000),
        requests: [{ method: 'GET' as const, path: '/steady' }],
        expected: [303],
        warmUpMs: WARM_UP_MS,
      };
      const master = Number(readFileSync(join(stateDir, 'nginx', 'nginx.pid'), 'utf8').trim());

      progress.log(`reload: ${rounds} × SIGHUP to nginx ${master}`);
      const reload = await observeClientResets(
        options,
        async () => {
          for (let round = 0; round < rounds; round++) {
            process.kill(master, 'SIGHUP');
            await sleep(BETWEEN_EVENTS_MS);
          }
        },
        progress,
      );

      progress.log(`renewal without reload: ${rounds} × new files behind live/`);
      const renewal = await observeClientResets(
        options,
        async () => {
          for (const issued of renewals) {
            lineage.install(issued);
            const expected = new X509Certificate(readFileSync(issued.certificateFile)).serialNumber;
            const served = await servedSerial(httpsPort);
            if (served !== expected) throw new Error(`a new handshake was served ${served}, not the new certificate ${expected}`);
            await sleep(BETWEEN_EVENTS_MS);
          }
        },
        progress,
      );
      return { reload, renewal };
    } finally {
      await stack.stop();
    }
  } finally {
    // nginx first (its clean-up), then its folder.
    await fixtures.run();
    rmSync(dir, { recursive: true, force: true });
  }
}

function mkdirTemp(prefix: string): string {
  const dir = join(tmpdir(), `${prefix}${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return dir;
}

/** One server of the handshake measurement: how it names its certificate, and whether sessions resume. */
interface HandshakeLeg {
  name: string;
  /** The certificate named by variables: read at each full handshake. */
  variable: boolean;
  /** With `variable`: ssl_certificate_cache (nginx ≥ 1.27.4) keeps it parsed. */
  certificateCache: boolean;
  /** ssl_session_cache on: wrk resumes its sessions, so handshakes after the first are abbreviated. */
  sessionCache: boolean;
}

const NATIVE_LEGS: readonly HandshakeLeg[] = [
  { name: 'full, read once', variable: false, certificateCache: false, sessionCache: false },
  { name: 'full, read per handshake', variable: true, certificateCache: false, sessionCache: false },
  { name: 'resumed, read once', variable: false, certificateCache: false, sessionCache: true },
  { name: 'resumed, read per handshake', variable: true, certificateCache: false, sessionCache: true },
];

/** For an nginx with ssl_certificate_cache (the compose image's). */
const CACHE_LEGS: readonly HandshakeLeg[] = [
  { name: 'full, read once', variable: false, certificateCache: false, sessionCache: false },
  { name: 'full, read per handshake', variable: true, certificateCache: false, sessionCache: false },
  { name: 'full, ssl_certificate_cache', variable: true, certificateCache: true, sessionCache: false },
];

/**
 * One nginx worker with a TLS server per leg, each answering `return 200`; new TLS connections a
 * second for each, in alternating slices. `image`: that Docker image's nginx (host network) instead
 * of the native one.
 */
async function measureHandshakes(
  legs: readonly HandshakeLeg[],
  slices: number,
  image: string | undefined,
  progress: Progress,
): Promise<{ version: string; rates: Map<string, number[]> }> {
  const fixtures = new SuiteCleanups();
  const dir = mkdirTemp('linkyard-handshakes-');
  try {
    const site = makeTestCa(fixtures).issue('site');
    const ports = await freePorts(legs.length);
    const server = (leg: HandshakeLeg, port: number) => `  server {
    listen 127.0.0.1:${port} ssl;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate ${leg.variable ? '$linkyard_tls_certificate' : `"${site.certificateFile}"`};
    ssl_certificate_key ${leg.variable ? '$linkyard_tls_certificate_key' : `"${site.keyFile}"`};
${leg.certificateCache ? '    ssl_certificate_cache max=16 valid=60s;\n' : ''}    ssl_session_cache ${leg.sessionCache ? `shared:c${port}:1m` : 'off'};
    ssl_session_tickets off;
    location / { return 200 "ok\\n"; }
  }
`;
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      `worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'client_body')};
  map "" $linkyard_tls_certificate { default "${site.certificateFile}"; }
  map "" $linkyard_tls_certificate_key { default "${site.keyFile}"; }
${legs.map((leg, index) => server(leg, ports[index] ?? 0)).join('')}}
`,
    );
    const nginxBin = image === undefined ? findNginx() : 'nginx';
    const nginxArgs = ['-p', dir, '-c', conf, '-e', 'stderr', '-g', 'daemon off;'];
    // In a container: the host's network and the same paths, so the configuration is the same.
    const mountsFor = [dir, site.certificateFile.replace(/\/[^/]*$/, '')].flatMap((path) => ['-v', `${path}:${path}`]);
    const command =
      image === undefined
        ? [nginxBin, ...nginxArgs]
        : ['docker', 'run', '--rm', '--network', 'host', ...mountsFor, image, nginxBin, ...nginxArgs];
    const [file = '', ...args] = command;
    const nginx = spawn(file, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    const exited = new Promise((resolve) => nginx.once('exit', resolve));
    fixtures.after(async () => {
      nginx.kill(image === undefined ? 'SIGQUIT' : 'SIGTERM');
      await exited;
    });
    await waitFor('nginx to answer', async () => (await servedSerial(ports[0] ?? 0).catch(() => '')) !== '', { timeoutMs: 30_000 });
    const version =
      image === undefined
        ? (await run(nginxBin, ['-v'])).stderr.trim()
        : `${image}: ${(await run('docker', ['run', '--rm', image, 'nginx', '-v'])).stderr.trim().split('\n').at(-1)}`;
    progress.log(`${version}, 1 worker: ${slices} slices of ${SLICE_SECONDS} s per server, alternating`);

    const rates = new Map(legs.map((leg) => [leg.name, [] as number[]]));
    for (let slice = 0; slice < slices; slice++) {
      for (const [index, leg] of legs.entries()) {
        const result = await wrk({
          url: `https://127.0.0.1:${ports[index]}`,
          connections: CONNECTIONS,
          durationSeconds: SLICE_SECONDS,
          // A new connection, so a new handshake, for every request.
          requests: [{ method: 'GET', path: '/', headers: { connection: 'close' } }],
        });
        const failed = result.errors + result.requests - (result.statuses['200'] ?? 0);
        if (failed > result.requests / 100) throw new Error(`${leg.name}: ${failed} of ${result.requests} requests failed`);
        rates.get(leg.name)?.push(result.rps);
        progress.log(`slice ${slice + 1} ${leg.name}: ${result.rps.toFixed(0)} connections/s`);
      }
    }
    return { version, rates };
  } finally {
    // nginx first (its clean-up), then its folder.
    await fixtures.run();
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

function legLine(name: string, leg: ResetsLeg): string {
  const statuses = Object.entries(leg.load.statuses)
    .map(([status, count]) => `${status}: ${count}`)
    .join(', ');
  return `${name}: ${leg.load.requests} requests (${statuses}), ${leg.load.errors} reset or unanswered, ${leg.failed} failed`;
}

/** The command: prints the figures; resolves to 1 when the renewal without reload lost a request. */
export async function renewalResetsCommand(args: string[]): Promise<number> {
  let values: { rounds?: string | undefined; slices?: string | undefined; 'nginx-image'?: string | undefined; quiet?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args,
      options: { rounds: { type: 'string' }, slices: { type: 'string' }, 'nginx-image': { type: 'string' }, quiet: { type: 'boolean' } },
    }));
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
  const rounds = positive('rounds', values.rounds, 3);
  const slices = positive('slices', values.slices, 3);
  const image = values['nginx-image'];
  const progress = new Progress({ quiet: values.quiet ?? false });
  const lines: string[] = [];
  let lost = 0;
  if (image === undefined) {
    const { reload, renewal } = await measureResets(rounds, progress);
    lost = renewal.failed;
    lines.push(
      `wrk -t1 -c${CONNECTIONS} through HTTPS, GET /<name> → 303, keep-alive, no resend; ${rounds} events each`,
      legLine(`nginx reload (SIGHUP) × ${rounds}`, reload),
      legLine(`renewal without reload × ${rounds}`, renewal),
    );
  }
  const legs = image === undefined ? NATIVE_LEGS : CACHE_LEGS;
  const { version, rates } = await measureHandshakes(legs, slices, image, progress);
  const rate = (name: string) => median(rates.get(name) ?? []);
  lines.push(
    `new TLS connections a second, ${version}, 1 worker, wrk -c${CONNECTIONS} Connection: close, median of ${slices} slices of ${SLICE_SECONDS} s:`,
  );
  for (const leg of legs) {
    const baseline = rate(leg.sessionCache ? 'resumed, read once' : 'full, read once');
    lines.push(`  ${leg.name.padEnd(30)} ${rate(leg.name).toFixed(0).padStart(6)} (${((rate(leg.name) / baseline) * 100).toFixed(0)} %)`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return lost === 0 ? 0 : 1;
}
