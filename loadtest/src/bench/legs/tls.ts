import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { childPids, totalCpuSeconds } from '../../observers/process-cpu.ts';
import { scrapeNginx } from '../../observers/scrape.ts';
import type { NewConnections, TlsLegResult } from '../../report/bench.ts';
import type { Target } from '../../target/target.ts';
import type { BenchContext } from '../context.ts';
import { startBenchStack, using } from '../stacks.ts';

/** As the stack leg: HTTPS and plain HTTP run this many legs' worth of slices each, in turns. */
const PAIRED_LEGS = 3;
/** openssl s_time clients at once: enough to keep both of nginx's workers busy. */
const HANDSHAKE_CLIENTS = 8;

/**
 * What HTTPS costs at the front (docs/https.md#the-tls-legs-figures), on one stack serving HTTPS
 * (a certificate from a CA made for the run, ECDSA P-256, TLS 1.3):
 *
 * 1. redirects through HTTPS against plain HTTP into the same nginx (its internal plain port: the
 *    same server, the same apps), wrk -c<connections> keep-alive, in turns. wrk resumes its TLS
 *    sessions (nginx's shared cache) when it reconnects; with keep-alive it seldom does.
 * 2. new TLS connections a second: openssl s_time clients, each one connection after another, each
 *    fetching nginx's own /favicon.ico over HTTP/1.0 (nginx closes it). `-new`: a full handshake
 *    every time; `-reuse`: the session resumed from nginx's cache (s_time marks each `r`; counted,
 *    so a resumption that silently failed shows). wrk cannot do full handshakes (it resumes), and
 *    s_time's own rate has one-second resolution, so the rate is nginx's: stub_status `accepts`
 *    over the middle of each slice. The clients' handshakes cost them about what they cost nginx,
 *    on the same cores, so the rate says as much about the machine as about nginx: nginx's workers'
 *    CPU over the same window (/proc/<pid>/stat) gives connections per CPU-second of a worker,
 *    what one worker fully busy would accept. Full and resumed in turns; the median slice of each.
 */
export async function tlsLeg({ options, measurer, redirects, progress }: BenchContext, serverEntry: string): Promise<TlsLegResult> {
  progress.log(`TLS: redirects through HTTPS vs plain HTTP into the same stack (${options.instances} apps), in turns`);
  return using(await startBenchStack(options, serverEntry, options.instances, {}, true), async (target) => {
    const [https, plain] = await measurer.measureTogether(
      [
        { label: `HTTPS (TLS 1.3, keep-alive) → ${options.instances} apps`, url: target.url },
        { label: `plain HTTP, same nginx → ${options.instances} apps`, url: target.plainUrl },
      ],
      options.durationSeconds * PAIRED_LEGS,
      redirects,
    );
    if (https === undefined || plain === undefined) throw new Error('HTTPS and plain HTTP were not both measured');
    const sliceSeconds = Math.max(2, Math.round(options.durationSeconds / 2));
    progress.log(
      `TLS: new connections a second, ${HANDSHAKE_CLIENTS} openssl s_time clients, full and resumed in turns of ${sliceSeconds} s`,
    );
    const { full, resumed } = await newConnections(target, sliceSeconds, PAIRED_LEGS);
    progress.log(
      `TLS: ${Math.round(full.perSecond)} full handshakes a second, ${Math.round(resumed.perSecond)} resumed; per CPU-second of a worker ${Math.round(full.perWorkerCpuSecond)} full, ${Math.round(resumed.perWorkerCpuSecond)} resumed`,
    );
    return { https, plain, rpsRatio: https.rps / plain.rps, p99Ratio: https.latency.p99 / plain.latency.p99, full, resumed };
  });
}

interface Slice {
  perSecond: number;
  perCpuSecond: number;
  /** The workers' CPU over the window / (window × workers). */
  busy: number;
  workers: number;
  connections: number;
  resumed: number;
}

async function newConnections(
  target: Target,
  sliceSeconds: number,
  slices: number,
): Promise<{ full: NewConnections; resumed: NewConnections }> {
  const statusUrl = target.nginxStatusUrl;
  if (statusUrl === undefined) throw new Error("the TLS leg counts nginx's accepted connections: it needs stub_status");
  const master = target.nginxPid();
  if (master === undefined) throw new Error("the TLS leg measures nginx's workers: it needs the stack it started");
  const hostPort = new URL(target.url).host;
  const measured: Record<'new' | 'reuse', Slice[]> = { new: [], reuse: [] };
  for (let i = 0; i < slices; i++) {
    const order: Array<'new' | 'reuse'> = i % 2 === 0 ? ['new', 'reuse'] : ['reuse', 'new'];
    for (const mode of order) measured[mode].push(await handshakeSlice(hostPort, statusUrl, childPids(master), mode, sliceSeconds));
  }
  const median = (list: Slice[], pick: (slice: Slice) => number) =>
    [...list.map(pick)].sort((a, b) => a - b)[Math.floor(list.length / 2)] ?? 0;
  const summary = (list: Slice[]): NewConnections => {
    const connections = list.reduce((total, slice) => total + slice.connections, 0);
    const resumed = list.reduce((total, slice) => total + slice.resumed, 0);
    const workers = list[0]?.workers ?? 0;
    const perSecond = median(list, (slice) => slice.perSecond);
    return {
      perSecond,
      workers,
      perWorker: perSecond / Math.max(1, workers),
      perWorkerCpuSecond: median(list, (slice) => slice.perCpuSecond),
      workersBusy: median(list, (slice) => slice.busy),
      slices: list.map((slice) => slice.perSecond),
      resumedShare: resumed / Math.max(1, connections),
    };
  };
  return { full: summary(measured.new), resumed: summary(measured.reuse) };
}

/** HANDSHAKE_CLIENTS s_time clients for about `seconds`; nginx's accepts and its workers' CPU over the middle of it. */
async function handshakeSlice(
  hostPort: string,
  statusUrl: string,
  workers: readonly number[],
  mode: 'new' | 'reuse',
  seconds: number,
): Promise<Slice> {
  // s_time runs until its clock has moved `-time` whole seconds: one more, so the window below is inside it.
  const clients = Array.from({ length: HANDSHAKE_CLIENTS }, () =>
    sTime(['s_time', '-connect', hostPort, `-${mode}`, '-www', '/favicon.ico', '-time', String(seconds + 1)]),
  );
  try {
    await sleep(500);
    const before = await scrapeNginx(statusUrl);
    const cpuBefore = totalCpuSeconds(workers);
    const started = performance.now();
    await sleep((seconds - 1) * 1000);
    const after = await scrapeNginx(statusUrl);
    const cpu = totalCpuSeconds(workers) - cpuBefore;
    const elapsed = (performance.now() - started) / 1000;
    const outputs = await Promise.all(clients);
    // s_time prints lines of `*`, one for each new session, and `r`, one for each resumed one.
    const marks = outputs
      .flatMap((output) => output.split('\n'))
      .filter((line) => /^[*r]+$/.test(line))
      .join('');
    const resumed = [...marks].filter((mark) => mark === 'r').length;
    // The status reads are one or two of the accepted connections: noise next to thousands.
    const accepted = after.accepts - before.accepts;
    return {
      perSecond: accepted / elapsed,
      perCpuSecond: accepted / Math.max(cpu, 0.01),
      busy: cpu / (elapsed * Math.max(1, workers.length)),
      workers: workers.length,
      connections: marks.length,
      resumed,
    };
  } catch (error) {
    await Promise.allSettled(clients);
    throw error;
  }
}

/** One openssl run; its standard output (s_time's progress marks, then its summary). */
function sTime(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      // s_time's summary line: the marks alone do not say the run ended well.
      if (code === 0 && /connections in/.test(stdout)) resolve(stdout);
      else reject(new Error(`openssl ${args.join(' ')} exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' ')}`));
    });
  });
}
