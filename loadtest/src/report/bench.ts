import type { SteadyCreationsResult } from '../bench/load/steady-creations.ts';
import type { WrkResult } from '../bench/load/wrk.ts';
import { type BenchOptions, LEG_NAMES, type LegName } from '../bench/options.ts';
import { mark, markdownTable, type Row, textTable } from './markdown.ts';
import { describeRun, type RunInfo } from './run-info.ts';
import { barChart, PALETTE } from './svg.ts';
import type { Report } from './write.ts';

export interface Leg extends WrkResult {
  name: string;
  /** Tasks running or queued for a CPU, on average over the leg (every process on the machine). */
  runnableTasks?: number;
}

/** The legs on the check-mode stacks are shorter: those stacks run four legs each. */
export function checkLegSeconds(durationSeconds: number): number {
  return Math.max(1, durationSeconds * 0.8);
}

export interface SlowChecksResult {
  without: Leg;
  with: Leg;
  /** Checks the apps reported running or queued once all were sent. */
  checksReported: number;
  /** Σ http_requests_in_flight meanwhile: here the gauge sees them, since they wait on I/O. */
  inFlightGauge: number;
  creationStatuses: Record<string, number>;
  /** Full GCs the apps ran during each leg: garbage that outlives the nursery shows here. */
  majorGcs: { without: number; with: number };
}

export interface HeavyChecksResult {
  /** The same stack's redirects with no check running (the slow-check leg's baseline). */
  without: Leg;
  with: Leg;
  creations: SteadyCreationsResult;
}

export interface IdleStartResult {
  /** Creation time (its check included) right after the app's check worker retired, median. */
  coldMs: number;
  /** The next creation, with the worker running, median. */
  warmMs: number;
  samples: number;
}

export interface RssEntry {
  stack: string;
  app: number;
  /** VmHWM: the kernel's high-water mark of the whole process. */
  peakBytes: number;
  /** At the end of the stack's legs. */
  rssBytes: number;
  /** Highest RssAnon and RssFile sampled (every 100 ms) over the legs. */
  peakAnonymousBytes: number;
  peakFileBytes: number;
}

/** The stats leg: the same redirects to a stack with stats and to one without (STATS=false), in turns. */
export interface StatsCostResult {
  distinctAgents: number;
  on: { leg: Leg; cpuUsPerRedirect: number };
  off: { leg: Leg; cpuUsPerRedirect: number };
  /** CPU a redirect with stats / without: the target is ≤ 1.05. */
  cpuRatio: number;
  rpsRatio: number;
}

/** New TLS connections a second at nginx (stub_status `accepts`), one kind of handshake. */
export interface NewConnections {
  /** Accepted a second, all workers: the median slice's. */
  perSecond: number;
  workers: number;
  /** perSecond / workers. */
  perWorker: number;
  /** Accepted per CPU-second of nginx's workers: what one worker fully busy would accept (median slice). */
  perWorkerCpuSecond: number;
  /** The workers' CPU / (seconds × workers), median slice: how busy the clients kept them. */
  workersBusy: number;
  slices: number[];
  /** Of the clients' connections, those that resumed a session (s_time's `r`). */
  resumedShare: number;
}

/** The TLS leg: redirects through HTTPS against plain HTTP into the same nginx, and handshakes a second. */
export interface TlsLegResult {
  https: Leg;
  plain: Leg;
  /** req/s through HTTPS / plain HTTP. */
  rpsRatio: number;
  p99Ratio: number;
  full: NewConnections;
  resumed: NewConnections;
}

export interface BenchResult {
  scenario: 'bench';
  run: RunInfo;
  options: BenchOptions;
  /** The legs that ran (`--legs`); what the others measure is absent. */
  legs: LegName[];
  throughput: { returnCeiling?: Leg; mapCeiling?: Leg; oneApp?: Leg; fullStack?: Leg };
  ratios?: { stackOverReturn?: number; stackOverMap?: number };
  slowChecks?: { pool: SlowChecksResult; inline: SlowChecksResult };
  heavyChecks?: { pool: HeavyChecksResult; inline: HeavyChecksResult };
  create?: { pool: Leg; inline: Leg };
  idleStart?: IdleStartResult;
  stats?: StatsCostResult;
  tls?: TlsLegResult;
  /** Every stack that started, in that order. */
  rss: RssEntry[];
  elapsedSeconds: number;
}

export interface Target {
  name: string;
  value: string;
  goal: string;
  met: boolean;
}

const MiB = 2 ** 20;

/** Bookmarks created a second in a creation leg. */
function createdPerSecond(leg: Leg): number {
  return (leg.statuses['201'] ?? 0) / leg.durationSeconds;
}

export function benchTargets(result: BenchResult): Target[] {
  const { ratios, throughput, slowChecks, heavyChecks, create, idleStart, rss, options } = result;
  const slowdown = (run: { with: Leg; without: Leg }) => run.with.latency.p99 / run.without.latency.p99;
  const ms = (value: number) => `${value.toFixed(1)} ms`;
  const targets: Target[] = [];
  if (ratios?.stackOverMap !== undefined) {
    targets.push({
      name: 'stack / architecture ceiling, req/s: (4)/(2)',
      value: ratios.stackOverMap.toFixed(2),
      goal: '≥ 0.6 (next: ≥ 0.8)',
      met: ratios.stackOverMap >= 0.6,
    });
  }
  if (throughput.fullStack !== undefined && throughput.mapCeiling !== undefined) {
    const tail = throughput.fullStack.latency.p99 / throughput.mapCeiling.latency.p99;
    targets.push({
      name: "redirect p99 through the stack / the ceiling's (2), same run",
      value: `${tail.toFixed(2)}× (${ms(throughput.fullStack.latency.p99)} / ${ms(throughput.mapCeiling.latency.p99)})`,
      goal: '≤ 1.3×',
      met: tail <= 1.3,
    });
  }
  if (slowChecks !== undefined) {
    targets.push(
      {
        name: `redirect p99 with ${options.slowChecks} slow checks, checks in the pool`,
        value: `${slowdown(slowChecks.pool).toFixed(2)}×`,
        goal: '≤ 1.5× without',
        met: slowdown(slowChecks.pool) <= 1.5,
      },
      {
        name: `redirect p99 with ${options.slowChecks} slow checks, checks on the main thread`,
        value: `${slowdown(slowChecks.inline).toFixed(2)}×`,
        goal: '≤ 1.5× without',
        met: slowdown(slowChecks.inline) <= 1.5,
      },
    );
  }
  if (heavyChecks !== undefined) {
    const heavy = { pool: slowdown(heavyChecks.pool), inline: slowdown(heavyChecks.inline) };
    targets.push({
      // The same load on each stack, so their p99s compare directly; each against its own stack's
      // p99 without checks only as context, since a baseline leg on a busy machine is itself noisy.
      name: `redirect p99 with ${options.heavyRate} HTTPS checks/s (TLS, gzip, 64 KiB): pool vs main thread`,
      value: `${ms(heavyChecks.pool.with.latency.p99)} (${heavy.pool.toFixed(2)}× without) vs ${ms(heavyChecks.inline.with.latency.p99)} (${heavy.inline.toFixed(2)}×)`,
      goal: 'the pool lower',
      met: heavyChecks.pool.with.latency.p99 < heavyChecks.inline.with.latency.p99,
    });
  }
  if (create !== undefined) {
    const created = { pool: createdPerSecond(create.pool), inline: createdPerSecond(create.inline) };
    targets.push({
      name: 'bookmarks created a second: pool vs main thread',
      value: `${Math.round(created.pool)} vs ${Math.round(created.inline)}`,
      goal: 'the pool higher',
      met: created.pool > created.inline,
    });
  }
  if (idleStart !== undefined) {
    targets.push({
      name: 'first check after the worker retired (creation time; with the worker running)',
      value: `${ms(idleStart.coldMs)} (${ms(idleStart.warmMs)})`,
      goal: '< 500 ms (a tenth of the check deadline)',
      met: idleStart.coldMs < 500,
    });
  }
  if (result.stats !== undefined) {
    const { cpuRatio, on, off } = result.stats;
    targets.push({
      name: "apps' CPU a redirect, stats on / off (a mix of user agents and referrers)",
      value: `${cpuRatio.toFixed(3)}× (${on.cpuUsPerRedirect.toFixed(1)} / ${off.cpuUsPerRedirect.toFixed(1)} µs)`,
      goal: '≤ 1.05×',
      met: cpuRatio <= 1.05,
    });
  }
  if (rss.length > 0) {
    const peak = Math.max(...rss.map((entry) => entry.peakBytes));
    targets.push({ name: 'peak RSS of an app process', value: `${(peak / MiB).toFixed(0)} MiB`, goal: '< 150 MB', met: peak < 150e6 });
  }
  return targets;
}

function legRow(leg: Leg, extra: Row = []): Row {
  const failed = leg.errors;
  const runnable = leg.runnableTasks === undefined ? '–' : leg.runnableTasks.toFixed(1);
  return [leg.name, Math.round(leg.rps), leg.latency.p50, leg.latency.p99, leg.latency.max, leg.requests, failed, runnable, ...extra];
}

const LEG_HEADER: Row = ['', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'requests', 'no answer', 'runnable tasks'];

export function benchReport(result: BenchResult): Report {
  const { throughput, ratios, slowChecks, heavyChecks, create, idleStart, options } = result;
  const header = (extra: string): Row => [...LEG_HEADER, extra];
  const statusList = (statuses: Record<string, number>) =>
    Object.entries(statuses)
      .map(([s, c]) => `${s}: ${c}`)
      .join(', ');
  const ratioNote = [
    ratios?.stackOverReturn === undefined ? undefined : `(4)/(1) = ${ratios.stackOverReturn.toFixed(2)}`,
    ratios?.stackOverMap === undefined ? undefined : `(4)/(2) = ${ratios.stackOverMap.toFixed(2)}`,
  ]
    .filter((note) => note !== undefined)
    .join(', ');
  const throughputRows: Row[] = [
    throughput.returnCeiling === undefined ? undefined : legRow(throughput.returnCeiling, ['']),
    throughput.mapCeiling === undefined ? undefined : legRow(throughput.mapCeiling, ['']),
    throughput.oneApp === undefined ? undefined : legRow(throughput.oneApp, ['']),
    throughput.fullStack === undefined ? undefined : legRow(throughput.fullStack, [ratioNote]),
  ].filter((row) => row !== undefined);
  const checkRows: Row[] =
    slowChecks === undefined
      ? []
      : (['pool', 'inline'] as const).flatMap((mode) => {
          const run = slowChecks[mode];
          const note = `${run.checksReported} checks running/queued, gauges ${run.inFlightGauge}; p99 ×${(run.with.latency.p99 / run.without.latency.p99).toFixed(2)}; full GCs ${run.majorGcs.without} → ${run.majorGcs.with}; settled ${statusList(run.creationStatuses)}`;
          return [
            legRow({ ...run.without, name: `${mode}: without checks` }, ['']),
            legRow({ ...run.with, name: `${mode}: ${run.with.name.split(': ')[1] ?? 'with checks'}` }, [note]),
          ];
        });
  const createRows: Row[] =
    create === undefined
      ? []
      : [create.pool, create.inline].map((leg) =>
          legRow(leg, [`${Math.round(createdPerSecond(leg))} created/s; ${statusList(leg.statuses)}`]),
        );
  const heavyRows: Row[] =
    heavyChecks === undefined
      ? []
      : (['pool', 'inline'] as const).map((mode) => {
          const run = heavyChecks[mode];
          const { creations } = run;
          const note = `p99 ×${(run.with.latency.p99 / run.without.latency.p99).toFixed(2)} of ${run.without.latency.p99.toFixed(2)} ms; ${creations.sent} creations at ${creations.ratePerSecond.toFixed(0)}/s, p50 ${creations.p50.toFixed(0)} ms, p99 ${creations.p99.toFixed(0)} ms (${statusList(creations.statuses)})`;
          return legRow({ ...run.with, name: `${mode}: ${run.with.name.split(': ')[1] ?? 'with checks'}` }, [note]);
        });
  const rssRows: Row[] = result.rss.map((entry) => [
    entry.stack,
    `app${entry.app}`,
    (entry.peakBytes / MiB).toFixed(1),
    (entry.peakAnonymousBytes / MiB).toFixed(1),
    (entry.peakFileBytes / MiB).toFixed(1),
    (entry.rssBytes / MiB).toFixed(1),
  ]);
  const RSS_HEADER: Row = ['stack', 'process', 'peak MiB (VmHWM)', 'peak anonymous MiB', 'peak file-backed MiB', 'at the end MiB'];
  const targets = benchTargets(result);
  const targetRows: Row[] = targets.map((target) => [target.name, target.value, target.goal, mark(target.met)]);

  const throughputBars = [
    { label: '(1) nginx', leg: throughput.returnCeiling },
    { label: '(2) node:http', leg: throughput.mapCeiling },
    { label: '(3) one app', leg: throughput.oneApp },
    { label: '(4) stack', leg: throughput.fullStack },
  ].flatMap(({ label, leg }) => (leg === undefined ? [] : [{ label, bars: [{ name: 'req/s', value: leg.rps }] }]));
  const latencyBars = [
    { label: '(1)', leg: throughput.returnCeiling },
    { label: '(2)', leg: throughput.mapCeiling },
    { label: '(3)', leg: throughput.oneApp },
    { label: '(4)', leg: throughput.fullStack },
    { label: 'pool+checks', leg: slowChecks?.pool.with },
    { label: 'inline+checks', leg: slowChecks?.inline.with },
    { label: 'pool+HTTPS', leg: heavyChecks?.pool.with },
    { label: 'inline+HTTPS', leg: heavyChecks?.inline.with },
  ].flatMap(({ label, leg }) =>
    leg === undefined
      ? []
      : [
          {
            label,
            bars: [
              { name: 'p50', value: leg.latency.p50 },
              { name: 'p99', value: leg.latency.p99 },
            ],
          },
        ],
  );
  const charts: Record<string, string> = {};
  if (throughputBars.length > 0) {
    charts['bench-throughput.svg'] = barChart({
      title: `Redirects per second, ${options.connections} connections`,
      yLabel: 'requests per second',
      groups: throughputBars,
      colors: { 'req/s': PALETTE[0] },
    });
  }
  if (latencyBars.length > 0) {
    charts['bench-latency.svg'] = barChart({
      title: 'Redirect latency (ms)',
      yLabel: 'milliseconds',
      groups: latencyBars,
      colors: { p50: PALETTE[0], p99: PALETTE[1] },
    });
  }
  const skipped = LEG_NAMES.filter((leg) => !result.legs.includes(leg));
  const legsLine =
    skipped.length === 0
      ? `Every leg ran: ${result.legs.join(', ')}.`
      : `Legs run: ${result.legs.join(', ')} (\`--legs\`); not run, so left out below: ${skipped.join(', ')}.`;
  const parts: string[] = [
    `# Bench: where the time goes on the hot path

${describeRun(result.run)}. ${options.connections} keep-alive connections (closed loop, wrk with one thread), ${options.durationSeconds} s a leg (the legs on the check-mode stacks ${checkLegSeconds(options.durationSeconds)} s) after a warm-up, run as an odd number of slices of about 2 s whose p50/p99 are the median slice's (one stall in one slice does not move them; max is the worst of all); ${result.elapsedSeconds.toFixed(0)} s in all. ${legsLine} The creations of the heavy-check leg and the slow checks are sent by k6 (k6/creations.ts, k6/slow-checks.ts), a generator that costs more CPU than the Node one it replaced.
`,
  ];
  if (targetRows.length > 0)
    parts.push(`## Targets

${markdownTable(['', 'measured', 'goal', ''], targetRows)}

Reported, never asserted: a shared or busy machine moves every number here.
`);
  if (throughputRows.length > 0)
    parts.push(`## Redirect throughput: GET /<name> → 303

${markdownTable(header(''), throughputRows)}

- (1) nginx answering \`return 303\` itself, no access log: the proxy ceiling, with the load generator (one wrk thread) on the same ${result.run.cpus} CPU(s).
- (2) the same nginx in front of ${options.instances} processes of plain \`node:http\` doing a Map lookup: the ceiling of this architecture (Node behind nginx), with nothing of the app in it.
- (3) one app process as the stack runs it (Fastify, SQLite, visit counting, failures logged), straight to its port.
- (4) the whole stack as shipped: nginx (access log on) → ${options.instances} app processes on one SQLite file. The stack's launcher reads every process's log lines in the bench's own process, as \`npm start\` would in its own.

(2) and (4) are measured in turns, a slice of one then a slice of the other, so that a machine that speeds up or slows down meanwhile moves both alike: their ratios are of the same minutes. Two targets are their ratios, so they run longer than the other legs (${Math.round(throughput.mapCeiling?.durationSeconds ?? 0)} and ${Math.round(throughput.fullStack?.durationSeconds ?? 0)} s): on a shared host one slice's p99 moves by half from the next.

"runnable tasks" is how many tasks on the machine were running or queued for a CPU, on average over the leg (/proc/stat's procs_running, sampled every 50 ms): above ${result.run.cpus}, the one per CPU, the rest wait their turn. With generator, nginx's workers and the apps all busy on the same cores, a request's tail latency is mostly that wait, not the code that answers it.

![Throughput](bench-throughput.svg)
`);
  if (slowChecks !== undefined)
    parts.push(`## Redirects while slow URI checks are in flight

${options.slowChecks} bookmark creations, each waiting on a check of a local site that answers after ${options.slowTargetDelayMs / 1000} s, are put in flight (sent to the app processes directly, round-robin: nginx's per-client burst limit would refuse most of 200 at once), then redirects are measured again through nginx on the same stack. "gauges" is Σ http_requests_in_flight meanwhile: requests parked on I/O are the ones a scrape can see. "full GCs" is how many mark-compacts the apps ran in the leg without checks and in the leg with them (prom-client's \`nodejs_gc_duration_seconds\`, kind major): garbage that outlives the nursery shows there. \`CHECK_MODE=pool\` runs checks on worker threads (piscina), \`inline\` on the request thread.

${markdownTable(header(''), checkRows)}
`);
  if (heavyChecks !== undefined)
    parts.push(`## Redirects while CPU-heavy checks arrive

Slow checks park on I/O and cost no CPU. Here bookmark creations arrive at a steady ${options.heavyRate}/s (open loop, round-robin over the apps), each checking a local HTTPS site under a CA made for this run (trusted through \`CHECK_EXTRA_CA_FILE\`): a full TLS handshake per check (one request per connection, no session tickets), then a 64 KiB page, gzip-encoded, whose \`<title>\` comes last, so every check inflates and parses the whole page. Redirects are measured through nginx meanwhile, against the same stack's redirects with no checks (the leg above). The two stacks are up together and measured in turns, a slice of one then of the other, the creations sent only to the one being measured (through its warm-up too), so that the machine's drift moves both alike; the creations' p50 and p99 are the median slice's.

${markdownTable(header(''), heavyRows)}

![Latency](bench-latency.svg)
`);
  if (create !== undefined)
    parts.push(`## Creating bookmarks: POST /api/bookmarks

Each request a new name, its URI on a fast local site (so every creation runs a real check), through nginx with the rate limit lifted, with the checks in the pool and then on the main thread. The 429s are nginx's per-client limit: the bench raises its rate to 100 000 r/s, but ${options.connections} connections from one address still arrive in bursts above its burst of 20.

${markdownTable(header(''), createRows)}
`);
  if (idleStart !== undefined)
    parts.push(`## The first check after the worker retired

The pool's worker thread starts with the first check and retires after \`CHECK_WORKER_IDLE_MS\` without one (the bench runs ${options.workerIdleMs} ms, to wait it out quickly but not between its turns in the heavy leg; the default is 30 s). Measured after the redirect leg (4), as a process that has only redirected for a while would meet it: once the first app reported no worker thread, one creation (its check of the fast local site included) took ${idleStart?.coldMs.toFixed(1)} ms, and the next, with the worker running, ${idleStart?.warmMs.toFixed(1)} ms (medians of ${idleStart?.samples}).
`);
  if (result.stats !== undefined) {
    const { stats } = result;
    parts.push(`## What stats cost a redirect

Two stacks alike but for \`STATS\` (on: each redirect classified and counted in the rollups; off: the total only), up together and measured in turns, a slice of one then of the other. The redirects carry a mix of ${stats.distinctAgents} distinct user agents (browsers, phones, tablets, one in ten a bot) and referrers (hundreds of hosts and paths, a third none), cycled in order. "CPU µs/redirect" is the apps' user and system CPU (/proc/<pid>/stat, every app process) over the measured slices, divided by the 303s answered in them ([decision 0019](../../docs/decisions/0019-stats-rollups.md)).

${markdownTable(header('CPU µs/redirect'), [legRow(stats.on.leg, [stats.on.cpuUsPerRedirect.toFixed(1)]), legRow(stats.off.leg, [stats.off.cpuUsPerRedirect.toFixed(1)])])}

CPU a redirect, on / off: ${stats.cpuRatio.toFixed(3)}×; redirects a second, on / off: ${stats.rpsRatio.toFixed(3)}×.
`);
  }
  if (result.tls !== undefined) {
    const { tls } = result;
    const connectionsRow = (name: string, kind: NewConnections): Row => [
      name,
      Math.round(kind.perSecond),
      kind.slices.map((rate) => Math.round(rate)).join(', '),
      Math.round(kind.perWorker),
      `${Math.round(kind.workersBusy * 100)} %`,
      Math.round(kind.perWorkerCpuSecond),
      `${(kind.resumedShare * 100).toFixed(1)} %`,
    ];
    parts.push(`## HTTPS at the front

One stack serving HTTPS ([docs/https.md](../../docs/https.md#the-tls-legs-figures)): a certificate from a CA made for the run (ECDSA P-256), TLS 1.3, nginx's shared session cache. Redirects through HTTPS and through plain HTTP into the same nginx (its internal plain port: the same server block, the same apps), wrk keep-alive, measured in turns.

${markdownTable(header(''), [legRow(tls.https), legRow(tls.plain)])}

Through HTTPS / plain HTTP: ${tls.rpsRatio.toFixed(3)}× the redirects a second, ${tls.p99Ratio.toFixed(2)}× the p99.

New TLS connections a second, counted by nginx (stub_status \`accepts\` over the middle of each slice), from ${'`openssl s_time`'} clients each making one connection after another and fetching nginx's own /favicon.ico (HTTP/1.0, closed after it): \`-new\` a full handshake each time, \`-reuse\` the session resumed from nginx's cache. Full and resumed in turns; the median slice. The clients run on the same cores and their side of a handshake costs about what nginx's does, so the rate a second is the machine's; the workers' CPU over the same window (/proc/<pid>/stat, ${tls.full.workers} workers, \`worker_processes auto\`) gives what one worker fully busy would accept: connections per CPU-second of a worker.

${markdownTable(['handshakes', 'new connections/s', 'slices', 'per worker', 'workers busy', 'per CPU-second of a worker', 'resumed by the clients'], [connectionsRow('full (-new)', tls.full), connectionsRow('resumed (-reuse)', tls.resumed)])}
`);
  }
  if (rssRows.length > 0)
    parts.push(`## Peak RSS per app process

${markdownTable(RSS_HEADER, rssRows)}

The apps run the build (app/dist, compiled JavaScript), as production does. VmHWM is the kernel's high-water mark of the whole process, its check worker thread (a V8 isolate of its own) included. The kernel keeps no high-water mark of the parts, so /proc/<pid>/status's RssAnon and RssFile are sampled every 100 ms over the stack's legs and the highest of each is shown: anonymous memory is the process's own (V8 heaps, malloc), file-backed pages are mostly the node binary's code, mapped by every Node process on the host and shared between them.

`);
  const markdown = parts.join('\n');
  const table = [
    textTable(header(''), [
      ...throughputRows,
      ...checkRows,
      ...heavyRows,
      ...createRows,
      ...(result.stats === undefined ? [] : [legRow(result.stats.on.leg), legRow(result.stats.off.leg)]),
      ...(result.tls === undefined ? [] : [legRow(result.tls.https), legRow(result.tls.plain)]),
    ]),
    result.tls === undefined
      ? ''
      : `HTTPS / plain HTTP: ${result.tls.rpsRatio.toFixed(3)}× req/s, ${result.tls.p99Ratio.toFixed(2)}× p99; new TLS connections/s: full ${Math.round(result.tls.full.perSecond)} (${Math.round(result.tls.full.perWorkerCpuSecond)} per CPU-second of a worker), resumed ${Math.round(result.tls.resumed.perSecond)} (${Math.round(result.tls.resumed.perWorkerCpuSecond)})`,
    rssRows.length === 0 ? '' : textTable(RSS_HEADER, rssRows),
    targetRows.length === 0 ? '' : textTable(['target', 'measured', 'goal', ''], targetRows),
  ]
    .filter((text) => text !== '')
    .join('\n\n');
  return { table, markdown, charts };
}
